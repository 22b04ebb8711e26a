"""Each task of a recipe as a `tasks.Task`: its kind (from the registry), data files, metrics,
prediction limits and the vocabularies of its slots."""
from __future__ import annotations

from ..data.files import task_files
from ..recipe.config import Recipe, TaskConfig
from ..tasks import KINDS, Task, TaskKind, task_metrics
from ..vocab import Vocab


def build_tasks(recipe: Recipe, vocabs: dict[str, Vocab]) -> dict[str, Task]:
    """Every task of ``recipe``, in recipe order."""
    return {name: build_task(name, cfg, recipe.task_data_dir(name), vocabs)
            for name, cfg in recipe.tasks.items()}


def build_task(name: str, cfg: TaskConfig, folder, vocabs: dict[str, Vocab]) -> Task:
    kind: TaskKind = KINDS.get(cfg.kind, f"tasks.{name}.kind")()
    slots = {"encoder": cfg.encoder, "decoder": cfg.decoder}
    splits = {"train": cfg.train, "valid": cfg.valid, "test": cfg.test}
    return Task(
        name=name, kind=kind, encoder=cfg.encoder, decoder=cfg.decoder,
        files=task_files(folder, splits, tuple(cfg.file_name(side) for side in kind.sides)),
        metrics=task_metrics(kind, cfg.metric, vocabs.get(cfg.decoder)),
        max_len=(cfg.max_len_a if cfg.max_len_a is not None else kind.max_len[0],
                 cfg.max_len_b if cfg.max_len_b is not None else kind.max_len[1]),
        vocabs={slot: vocabs[slot] for slot in slots.values() if slot in vocabs},
        ratio=cfg.ratio, patience=cfg.patience)
