"""`mtseq2seq graph`: a text picture of a recipe's tasks and the modules they share."""
from __future__ import annotations

from typing import Any

from ..curriculum import describe as curriculum_text
from .config import Recipe


def describe(recipe: Recipe, parameters: dict[tuple[str, str], int] | None = None) -> str:
    """Text picture of the graph: tasks, which slots several tasks share, and (when given) each
    module's parameter count, keyed (side, slot)."""
    lines = ["tasks:"]
    for name, task in recipe.tasks.items():
        inputs = (f", tag {task.tgt_tag}" if task.tgt_tag else "") + \
            (f", task embedding: {task.embedding}" if task.embedding else "")
        lines.append(f"  {name:<16} {task.kind:<12} {' + '.join(task.encoder_slots)} -> {task.decoder}  "
                     f"{curriculum_text(task.ratio, task.start_at, task.stop_at)}{inputs}")
    for side in ("encoder", "decoder"):
        users: dict[str, list[str]] = {}
        for name, task in recipe.tasks.items():
            for slot in (task.encoder_slots if side == "encoder" else (task.decoder,)):
                users.setdefault(slot, []).append(name)
        for slot, names in users.items():
            module: Any = (recipe.encoders if side == "encoder" else recipe.decoders)[slot]
            shared = f"shared by {', '.join(names)}" if len(names) > 1 else f"used by {names[0]}"
            count = (parameters or {}).get((side, slot))
            size = f", {count:,} parameters" if count is not None else ""
            lines.append(f"{side} {slot} ({module.type}{size}): {shared}")
    if parameters:
        lines.append(f"in all: {sum(parameters.values()):,} parameters")
    return "\n".join(lines + stage_lines(recipe))


def stage_lines(recipe: Recipe) -> list[str]:
    """One line per stage of `stages:` (none without): its updates, tasks, lr and freeze."""
    lines = ["stages (in order):"] if recipe.stages else []
    for name, stage in (recipe.stages or {}).items():
        cfg = stage.train_config(recipe.train)
        frozen = f", frozen: {', '.join(cfg.freeze)}" if cfg.freeze else ""
        lines.append(f"  {name:<16} {cfg.max_steps} updates of "
                     f"{', '.join(stage.tasks or recipe.tasks)} (lr {cfg.lr:g}, warm-up "
                     f"{cfg.warmup}){frozen}")
    return lines
