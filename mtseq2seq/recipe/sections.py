"""Checks of the `schedule:`, `valid:` and `train:` sections that the schema cannot express:
registered scheduler types and their options, metric names, the selection target and weights,
Adam's betas and the device name; and where `tasks.<t>.noise` may be used."""
from __future__ import annotations

import torch

from ..errors import UserError, short_repr, unknown
from ..metrics import METRICS
from ..modules import DECODERS
from ..scheduler import SCHEDULERS
from ..task_names import canonical_task, tasks_hint
from ..tasks import KINDS
from .config import Recipe, ScheduleConfig
from .data_files import input_kind
from .schema import coerce
from .topology import check_option_values


def check_valid(recipe: Recipe) -> list[str]:
    """Metric names, the selection target and the weights of the mean."""

    problems = []
    for name, task in recipe.tasks.items():
        if task.metric is not None and task.metric not in METRICS:
            problems.append(f"tasks.{name}.metric: {unknown('metric', task.metric, METRICS)}")
    valid = recipe.valid
    if not valid.temperature > 0:
        problems.append(f"valid.temperature: got {valid.temperature}, expected a number above 0")
    if not valid.top_p > 0:
        problems.append(f"valid.top_p: got {valid.top_p}, expected 0 < top_p <= 1")
    if valid.select != "mean":
        select = task_named(valid.select, recipe, "valid.select", problems)
        valid.select = select or valid.select  # `en-de` names the task en>de from here on
        if select is None:
            problems.append(f"valid.select: got '{valid.select}', expected 'mean' or a task name"
                            f"{tasks_hint(valid.select, recipe.tasks)}")
    weights: dict = {}
    for key, weight in (valid.weights or {}).items():
        task = defined_task(str(key), recipe, f"valid.weights.{key}", problems)
        if task in weights:
            problems.append(f"valid.weights.{key}: the task {task} has a weight already")
        ok, value = coerce(weight, float)
        if not ok or value < 0:
            problems.append(f"valid.weights.{key}: got {short_repr(weight)}, "
                            "expected a number of at least 0")
        weights[task or key] = weight
    valid.weights = weights
    return problems


def defined_task(name: str, recipe: Recipe, path: str, problems: list[str]) -> str | None:
    """The recipe's task that ``name`` names, else None and a problem at ``path``."""
    task = task_named(name, recipe, path, problems)
    if task is None:
        problems.append(f"{path}: no task '{name}' is defined in tasks:"
                        f"{tasks_hint(name, recipe.tasks)}")
    return task


def task_named(name: str, recipe: Recipe, path: str, problems: list[str]) -> str | None:
    """The recipe's task that ``name`` names (`en-de` for en>de); an ambiguous alias is a problem."""
    try:
        return canonical_task(str(name), recipe.tasks)
    except UserError as err:
        problems.append(f"{path}: {err}")
        return name  # reported; not reported again as unknown


def check_train(recipe: Recipe) -> list[str]:
    """What the schema cannot say about `train:`: Adam's betas and the device name."""
    train, problems = recipe.train, []
    if len(train.betas) != 2 or not all(0 <= b < 1 for b in train.betas):
        problems.append(f"train.betas: got {short_repr(train.betas)}, expected two numbers "
                        "in [0, 1), e.g. [0.9, 0.98]")
    if train.device != "auto":
        try:
            torch.device(train.device)
        except Exception:
            problems.append(f"train.device: got {short_repr(train.device)}, expected auto, cpu, "
                            "cuda or cuda:N")
    return problems


def check_schedule(recipe: Recipe) -> list[str]:
    return schedule_problems(recipe.schedule, "schedule")


def schedule_problems(schedule: ScheduleConfig, path: str) -> list[str]:
    """A registered scheduler type whose options build one (``path``: the section's YAML path)."""
    if schedule.type not in SCHEDULERS:
        return [f"{path}.type: {unknown('scheduler type', schedule.type, SCHEDULERS.names())}"]
    problems = SCHEDULERS.check_kwargs(schedule.type, schedule.options, path)
    problems += check_option_values(SCHEDULERS, schedule.type, schedule.options, path)
    if not problems:  # a trial build with stand-in tasks catches what only the constructor checks
        try:
            SCHEDULERS.build(schedule.type, schedule.options, path, tasks=["a"],
                             ratios=[1.0], sizes=[1], seed=1)
        except Exception as err:
            problems.append(f"{path}: these options do not build a scheduler: {err}")
    return problems


def check_noise(recipe: Recipe) -> list[str]:
    """`tasks.<t>.noise` noises the text sources of a generating (seq2seq) task: not a head's
    (its labels align with the source words), not features or facts; spans only with `mask`."""
    problems = []
    for name, task in recipe.tasks.items():
        noise, path = task.noise, f"tasks.{name}.noise"
        if noise is None or task.kind not in KINDS or task.encoder is None:
            continue
        if KINDS.get(task.kind).decoder_registry is not DECODERS:
            problems.append(f"{path}: a {task.kind} task takes no noise (its labels belong to "
                            "the clean source); noise is for the sources of seq2seq tasks "
                            "(translation, autoencoder, ...)")
            continue
        for slot in task.encoder_slots:
            vocab = recipe.vocabs.get(slot)
            vocab = recipe.vocabs.get(vocab.share, vocab) if vocab and vocab.share else vocab
            if input_kind(recipe, slot) != "tokens":
                problems.append(f"{path}: slot '{slot}' reads {input_kind(recipe, slot)}; noise "
                                "applies to text sources only")
            elif noise.mask > 0 and vocab is not None and vocab.type == "labels":
                problems.append(f"{path}.mask: slot '{slot}' has a label set (vocabs.{slot}"
                                ".type: labels), which reserves no <mask>")
        if noise.span > 1 and noise.mask == 0:
            problems.append(f"{path}.span: spans are what masking masks; set {path}.mask too "
                            "(e.g. 0.15), or drop span")
    return problems
