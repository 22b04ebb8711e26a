"""Getting a run ready: toy data when a recipe asks for it, vocabularies, and encoded data splits."""
from __future__ import annotations

import logging
from pathlib import Path

from .config import Recipe
from .data.batching import ParallelData
from .data.binarize import encode_file
from .data.loading import SplitStats, load_split
from .data.files import data_files
from .vocab import Vocab, load_or_train

log = logging.getLogger(__name__)


def run_dir_of(recipe: Recipe) -> Path:
    return Path(recipe.run_dir or f"runs/{recipe.name}")


def ensure_toy_data(recipe: Recipe) -> None:
    """Generate the toy corpus into data_dir unless a matching one is already there."""
    if recipe.toy_data is None:
        return
    from .toydata import generate, is_current  # late: only recipes that ask for toy data need it

    cfg = recipe.toy_data
    folder = Path(recipe.data_dir)
    sizes = {"train": cfg.train, "valid": cfg.valid, "test": cfg.test}
    if is_current(folder, seed=cfg.seed, sizes=sizes, check_hashes=False):
        return
    log.info("generating the toy corpus into %s (seed %d, sizes %s)", folder, cfg.seed, sizes)
    generate(folder, seed=cfg.seed, sizes=sizes)


def prepare(recipe: Recipe, run_dir: Path) -> dict[str, Vocab]:
    """Vocabularies trained (if missing) and every split encoded into the cache."""
    ensure_toy_data(recipe)
    vocabs = load_or_train(recipe, run_dir)
    for task, cfg in recipe.tasks.items():
        for src_path, tgt_path in data_files(recipe, task).values():
            encode_file(src_path, vocabs[cfg.encoder])
            encode_file(tgt_path, vocabs[cfg.decoder])
    return vocabs


def load_task_data(recipe: Recipe, vocabs: dict[str, Vocab], role: str,
                   ) -> dict[str, tuple[ParallelData, SplitStats]]:
    """Every task's ``role`` split (training drops over-long pairs; evaluation keeps them)."""
    max_len = recipe.train.max_len if role == "train" else None
    return {task: load_split(recipe, task, role, vocabs, max_len)
            for task, cfg in recipe.tasks.items() if getattr(cfg, role)}
