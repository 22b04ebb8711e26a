"""A recipe's trainer: seeds and threads, the model on its device, each task's data, the loss
weights and the stages (each: scheduler with the tasks' curricula, frozen parameters, optimizer,
learning-rate schedule; `stages.py`), handed to `Trainer`, which only runs.

The order is part of what a seed means: the model's weights are drawn right after seeding, the
data and the scheduler use their own seeded generators, so the same recipe gives the same run.
In a run of several processes (`distributed.py`) every rank builds the same model and scheduler;
rank 0's weights are then sent to all, and each rank takes its own shard of the batches, its own
dropout draws (the seed plus its rank) and its own noise.
"""
from __future__ import annotations

import random
from pathlib import Path

import torch

from ..compiling import compile_blocks
from ..data.batching import TaskIterator
from ..data.files import roles_of
from ..distributed import ONE_PROCESS, Ranks, RankSync, device_for
from ..loss_weights import build_loss_weighting
from ..plugins import plugin_records
from ..recipe.config import Recipe
from ..resume import RunRecord
from ..tasks import Task
from ..trainer import TaskData, Trainer
from ..vocab import Vocab
from .model import build_model
from .stages import build_stages
from .tasks import build_tasks, task_noiser


def build_trainer(recipe: Recipe, run_dir: Path, vocabs: dict[str, Vocab],
                  ranks: Ranks = ONE_PROCESS) -> Trainer:
    """Everything a run of ``recipe`` needs (its vocabularies prepared: `prepare.prepare`), for
    this process of ``ranks`` (one process by default; its process group already joined)."""
    cfg = recipe.train
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(recipe.seed)
    random.seed(recipe.seed)
    device = device_for(cfg.device, ranks)
    tasks = build_tasks(recipe, vocabs)
    model = build_model(recipe.encoders, recipe.decoders, tasks).to(device)
    sync = RankSync(ranks, device if device.type == "cuda" else None)
    sync.same_weights(model)
    if cfg.compile:
        compile_blocks(model)
    if ranks.rank:  # dropout draws of their own (rank 0 keeps the single-process ones)
        torch.manual_seed(recipe.seed + 1_000_003 * ranks.rank)
        random.seed(recipe.seed + 1_000_003 * ranks.rank)
    data = task_data(tasks, cfg.max_len, cfg.batch_tokens, recipe.seed, recipe.valid.decode,
                     (ranks.rank, ranks.world))
    weighting = build_loss_weighting(cfg.loss_weighting, list(tasks),
                                     [t.loss_weight for t in tasks.values()]).to(device)
    sizes = {name: len(it.data) for name, it in data.train.items()}
    stages = build_stages(recipe, model, tasks, sizes, list(weighting.parameters()))
    record = RunRecord(recipe.resolved, recipe.path, list(recipe.plugins),
                       plugin_records(recipe.plugins, recipe.path), vocabs)
    return Trainer(model, tasks, data, stages, recipe.valid, run_dir, record, weighting, sync)


def task_data(tasks: dict[str, Task], max_len: int, batch_tokens: int, seed: int,
              with_references: bool, shard: tuple[int, int] = (0, 1)) -> TaskData:
    """Training splits (over-long examples dropped) behind endless iterators (noising the
    sources of tasks with `noise:`), validation splits (kept whole, never noised), and the
    validation references when validation scores predictions. ``shard``: (rank, world)."""
    train = {name: t.kind.load(t, "train", max_len) for name, t in tasks.items()}
    valid = {name: t.kind.load(t, "valid", None) for name, t in tasks.items() if "valid" in t.files}
    refs = {name: tasks[name].kind.references(tasks[name], "valid", d)
            for name, d in valid.items()} if with_references else {}
    extra = {(name, role): t.kind.load(t, role, None) for name, t in tasks.items()
             for role in roles_of("valid", t.files)[1:]}  # `valid: [a, b, ...]`: b, ...
    refs.update({key: tasks[key[0]].kind.references(tasks[key[0]], key[1], d)
                 for key, d in extra.items()} if with_references else {})
    iterators = {name: TaskIterator(train[name], tasks[name].kind.make_batch,
                                    tasks[name].batch_tokens or batch_tokens, seed + i,
                                    task_noiser(tasks[name], seed + 1_000_003 * shard[0]), shard)
                 for i, name in enumerate(tasks)}
    return TaskData(iterators, valid, refs, extra)
