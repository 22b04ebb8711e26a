"""Each task of a recipe as a `tasks.Task`: its kind (from the registry), data files, how each
encoder slot's files are read (`data.sources.SourceSpec`, with the id of its `tgt_tag` before
the first slot's text), metrics, prediction limits and the vocabularies of its slots; and the
noise of its training sources (`task_noiser`, which leaves the tag alone)."""
from __future__ import annotations

import inspect
from typing import Any

from ..data.files import split_roles, task_files
from ..data.noise import Noiser, noise_seed
from ..data.sources import SourceSpec
from ..errors import DataError
from ..modules import ENCODERS
from ..recipe.config import ModuleConfig, Recipe, TaskConfig
from ..recipe.data_files import input_kind, side_files
from ..tasks import KINDS, Task, TaskKind, task_metrics
from ..vocab import Vocab


def build_tasks(recipe: Recipe, vocabs: dict[str, Vocab]) -> dict[str, Task]:
    """Every task of ``recipe``, in recipe order."""
    return {name: build_task(name, cfg, recipe, vocabs) for name, cfg in recipe.tasks.items()}


def encoder_options(cfg: ModuleConfig) -> dict[str, Any]:
    """The encoder's options with its constructor's defaults filled in (the data readers use
    some of them: a facts slot's caps, a features slot's input size)."""
    params = inspect.signature(ENCODERS.get(cfg.type).__init__).parameters.values()
    defaults = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
    return {**defaults, **cfg.options}


def build_task(name: str, cfg: TaskConfig, recipe: Recipe, vocabs: dict[str, Vocab]) -> Task:
    kind: TaskKind = KINDS.get(cfg.kind, f"tasks.{name}.kind")()
    splits = {"train": cfg.train, **split_roles("valid", cfg.valid),
              **split_roles("test", cfg.test)}
    prefixes = (tag_prefix(name, cfg, vocabs), *[()] * (len(cfg.encoder_slots) - 1))
    sources = tuple(SourceSpec(slot, input_kind(recipe, slot), vocabs.get(slot),
                               encoder_options(recipe.encoders[slot]), prefix)
                    for slot, prefix in zip(cfg.encoder_slots, prefixes))
    encoder = cfg.encoder_slots if len(cfg.encoder_slots) > 1 else cfg.encoder
    return Task(
        name=name, kind=kind, encoder=encoder, decoder=cfg.decoder,
        files=task_files(recipe.task_data_dir(name), splits,
                         tuple(file for _, _, file in side_files(recipe, cfg))),
        metrics=task_metrics(kind, cfg.metric, vocabs.get(cfg.decoder)),
        max_len=(cfg.max_len_a if cfg.max_len_a is not None else kind.max_len[0],
                 cfg.max_len_b if cfg.max_len_b is not None else kind.max_len[1]),
        vocabs={slot: vocabs[slot] for slot in cfg.slots if slot in vocabs},
        ratio=cfg.ratio, start_at=cfg.start_at, stop_at=cfg.stop_at, loss_weight=cfg.loss_weight,
        patience=cfg.patience, sources=sources, batch_tokens=cfg.batch_tokens,
        noise=cfg.noise, embedding=cfg.embedding, tgt_tag=cfg.tgt_tag, splits=splits)


def tag_prefix(name: str, cfg: TaskConfig, vocabs: dict[str, Vocab]) -> tuple[int, ...]:
    """The ids put before every sentence of the task's first encoder slot: its `tgt_tag`'s
    (reserved in that slot's vocabulary, `vocabs.reserved_symbols`), or none."""
    if cfg.tgt_tag is None:
        return ()
    slot = cfg.encoder_slots[0]
    found = vocabs[slot].symbol_id(cfg.tgt_tag) if slot in vocabs else None
    if found is None:
        raise DataError(f"tasks.{name}.tgt_tag: the vocabulary of slot '{slot}' has no "
                        f"'{cfg.tgt_tag}' (it was made without this tag); train the vocabulary "
                        "again (a new run directory) or drop the tag")
    return (found,)


def task_noiser(task: Task, seed: int) -> Noiser | None:
    """The noise of ``task``'s training sources, seeded from the recipe ``seed`` and the task's
    name; None when it has none (its batches then stay exactly as they were)."""
    if task.noise is None or not task.noise.active:
        return None
    mask_ids = tuple(spec.vocab.mask_id if spec.vocab is not None else None
                     for spec in task.source_specs())
    kept = tuple(len(spec.prefix) for spec in task.source_specs())
    return Noiser(task.noise, mask_ids, noise_seed(seed, task.name), kept)
