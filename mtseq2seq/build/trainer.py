"""A recipe's trainer: seeds and threads, the model on its device, each task's data, the loss
weights and the stages (each: scheduler with the tasks' curricula, frozen parameters, optimizer,
learning-rate schedule; `stages.py`), handed to `Trainer`, which only runs.

The order is part of what a seed means: the model's weights are drawn right after seeding, the
data and the scheduler use their own seeded generators, so the same recipe gives the same run.
"""
from __future__ import annotations

import random
from pathlib import Path

import torch

from ..data.batching import TaskIterator
from ..devices import pick_device
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


def build_trainer(recipe: Recipe, run_dir: Path, vocabs: dict[str, Vocab]) -> Trainer:
    """Everything a run of ``recipe`` needs (its vocabularies prepared: `prepare.prepare`)."""
    cfg = recipe.train
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(recipe.seed)
    random.seed(recipe.seed)
    device = pick_device(cfg.device)
    tasks = build_tasks(recipe, vocabs)
    model = build_model(recipe.encoders, recipe.decoders, tasks).to(device)
    data = task_data(tasks, cfg.max_len, cfg.batch_tokens, recipe.seed, recipe.valid.decode)
    weighting = build_loss_weighting(cfg.loss_weighting, list(tasks),
                                     [t.loss_weight for t in tasks.values()]).to(device)
    sizes = {name: len(it.data) for name, it in data.train.items()}
    stages = build_stages(recipe, model, tasks, sizes, list(weighting.parameters()))
    record = RunRecord(recipe.resolved, recipe.path, list(recipe.plugins),
                       plugin_records(recipe.plugins, recipe.path), vocabs)
    return Trainer(model, tasks, data, stages, recipe.valid, run_dir, record, weighting)


def task_data(tasks: dict[str, Task], max_len: int, batch_tokens: int, seed: int,
              with_references: bool) -> TaskData:
    """Training splits (over-long examples dropped) behind endless iterators (noising the
    sources of tasks with `noise:`), validation splits (kept whole, never noised), and the
    validation references when validation scores predictions."""
    train = {name: t.kind.load(t, "train", max_len) for name, t in tasks.items()}
    valid = {name: t.kind.load(t, "valid", None) for name, t in tasks.items() if "valid" in t.files}
    refs = {name: tasks[name].kind.references(tasks[name], "valid", d)
            for name, d in valid.items()} if with_references else {}
    iterators = {name: TaskIterator(train[name], tasks[name].kind.make_batch,
                                    tasks[name].batch_tokens or batch_tokens, seed + i,
                                    task_noiser(tasks[name], seed))
                 for i, name in enumerate(tasks)}
    return TaskData(iterators, valid, refs)
