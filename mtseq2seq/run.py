"""Getting a run ready: toy data when a recipe asks for it, vocabularies, and encoded data splits."""
from __future__ import annotations

import logging
from pathlib import Path

from .config import Recipe
from .data.batching import ParallelData
from .data.binarize import encode_file
from .data.files import data_files
from .data.loading import SplitStats, load_split
from .errors import DataError
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
    """Vocabularies trained (if missing) and every split of every task encoded into the cache.

    Every split is checked here (readable UTF-8, not empty, source and target of equal length),
    test splits included, so a broken file fails before the first update; all problems at once.
    """
    ensure_toy_data(recipe)
    vocabs = load_or_train(recipe, run_dir)
    problems: list[str] = []
    for task, cfg in recipe.tasks.items():
        for role, (src_path, tgt_path) in data_files(recipe, task).items():
            problems += split_problems(f"tasks.{task}.{role}", src_path, tgt_path,
                                       vocabs[cfg.encoder], vocabs[cfg.decoder])
    if problems:
        raise DataError(problems, header=f"{len(problems)} problem(s) in the data of recipe "
                        f"'{recipe.path}' (paths relative to the working directory {Path.cwd()})")
    return vocabs


def split_problems(where: str, src_path: Path, tgt_path: Path, src_vocab: Vocab,
                   tgt_vocab: Vocab) -> list[str]:
    """What is wrong with one split's pair of files (encoded into the cache on the way)."""
    problems, sizes = [], []
    for path, vocab in ((src_path, src_vocab), (tgt_path, tgt_vocab)):
        try:
            sizes.append(len(encode_file(path, vocab)))
        except DataError as err:
            problems += [f"{where}: {problem}" for problem in err.problems]
    if problems:
        return problems
    if sizes[0] != sizes[1]:
        return [f"{where}: parallel files differ in length: '{src_path}' has {sizes[0]} lines, "
                f"'{tgt_path}' has {sizes[1]}"]
    if sizes[0] == 0:
        return [f"{where}: data file '{src_path}' is empty"]
    return []


def load_task_data(recipe: Recipe, vocabs: dict[str, Vocab], role: str,
                   ) -> dict[str, tuple[ParallelData, SplitStats]]:
    """Every task's ``role`` split (training drops over-long pairs; evaluation keeps them)."""
    max_len = recipe.train.max_len if role == "train" else None
    return {task: load_split(recipe, task, role, vocabs, max_len)
            for task, cfg in recipe.tasks.items() if getattr(cfg, role)}
