"""`mtseq2seq graph --format dot | --png FILE`: the recipe's modules and tasks as a picture.

Encoders stand on the left and decoders (or heads) on the right, each with its parameter count;
every task is an edge from its encoder(s) to its decoder, labelled with the task's name and the
share of the model's parameters it touches. `to_dot` writes Graphviz source (render it with
`dot -Tpng`); `draw_png` draws the same picture with matplotlib (the `plot` extra), because
Graphviz's renderer is a system program that pip cannot install.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from .config import Recipe

Parameters = dict[tuple[str, str], int]  # (side, slot) -> parameter count


def task_shares(recipe: Recipe, parameters: Parameters) -> dict[str, float]:
    """Task -> the share (0-1) of all parameters in the modules it calls."""
    total = max(sum(parameters.values()), 1)
    return {name: sum(parameters.get(("encoder", s), 0) for s in task.encoder_slots) / total
            + parameters.get(("decoder", task.decoder), 0) / total
            for name, task in recipe.tasks.items()}


def _node(side: str, slot: str) -> str:
    return f'"{side}:{slot}"'


def to_dot(recipe: Recipe, parameters: Parameters) -> str:
    """Graphviz source: a node per module (type, parameter count), an edge per task."""
    lines = ["digraph mtseq2seq {", "  rankdir=LR;", '  node [shape=box, fontname="Helvetica"];']
    for side, modules in (("encoder", recipe.encoders), ("decoder", recipe.decoders)):
        for slot, module in modules.items():
            count = parameters.get((side, slot), 0)
            lines.append(f'  {_node(side, slot)} [label="{side} {slot}\\n{module.type}\\n'
                         f'{count:,} parameters"];')
    shares = task_shares(recipe, parameters)
    for name, task in recipe.tasks.items():
        for slot in task.encoder_slots:
            lines.append(f'  {_node("encoder", slot)} -> {_node("decoder", task.decoder)} '
                         f'[label="{name} ({shares[name]:.0%})"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw_png(recipe: Recipe, parameters: Parameters, path: Path) -> Path:
    """The picture of `to_dot`, drawn with matplotlib into ``path``."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise UserError("graph --png needs matplotlib: pip install 'mtseq2seq[plot]' (or "
                        "--format dot, and render it with Graphviz)") from None
    left, right = list(recipe.encoders), list(recipe.decoders)
    rows = max(len(left), len(right), 1)
    place = {("encoder", s): (0.0, 1 - (i + 0.5) / len(left)) for i, s in enumerate(left)}
    place.update({("decoder", s): (1.0, 1 - (i + 0.5) / len(right)) for i, s in enumerate(right)})
    figure = Figure(figsize=(8, 1.2 + 0.9 * rows))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_axis_off()
    axes.set_xlim(-0.35, 1.35)
    shares = task_shares(recipe, parameters)
    for name, task in recipe.tasks.items():
        x1, y1 = place[("decoder", task.decoder)]
        for slot in task.encoder_slots:
            x0, y0 = place[("encoder", slot)]
            axes.annotate("", (x1 - 0.17, y1), (x0 + 0.17, y0),
                          arrowprops={"arrowstyle": "->", "color": "0.4"})
            axes.text((x0 + x1) / 2, (y0 + y1) / 2, f"{name} ({shares[name]:.0%})", ha="center",
                      va="bottom", fontsize=8)
    for (side, slot), (x, y) in place.items():
        module = (recipe.encoders if side == "encoder" else recipe.decoders)[slot]
        axes.text(x, y, f"{side} {slot}\n{module.type}\n{parameters.get((side, slot), 0):,}",
                  ha="center", va="center", fontsize=9,
                  bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "0.3"})
    figure.savefig(path, dpi=110)
    return path
