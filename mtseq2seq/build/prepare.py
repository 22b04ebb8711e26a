"""Getting a run ready: toy data when a recipe asks for it, vocabularies, and encoded data splits."""
from __future__ import annotations

import logging
from pathlib import Path

from ..data.binarize import encode_file
from ..errors import DataError
from ..recipe.config import Recipe
from ..vocab import Vocab
from .tasks import build_tasks
from .vocabs import load_or_train

log = logging.getLogger(__name__)


def run_dir_of(recipe: Recipe) -> Path:
    return Path(recipe.run_dir or f"runs/{recipe.name}")


def ensure_toy_data(recipe: Recipe) -> None:
    """Generate the toy corpus (or the toy dialogue) into data_dir unless a matching one is there."""
    if recipe.toy_data is None:
        return
    from .. import toydata  # late: only recipes that ask for toy data need it

    cfg = recipe.toy_data
    generate, is_current = (toydata.generate, toydata.is_current) if cfg.kind == "corpus" else \
        (toydata.generate_dialogue, toydata.is_dialogue_current)
    folder = Path(recipe.data_dir)
    sizes = {"train": cfg.train, "valid": cfg.valid, "test": cfg.test}
    if is_current(folder, seed=cfg.seed, sizes=sizes, check_hashes=False):
        return
    log.info("generating the toy %s into %s (seed %d, sizes %s)", cfg.kind, folder, cfg.seed, sizes)
    generate(folder, seed=cfg.seed, sizes=sizes)


def prepare(recipe: Recipe, run_dir: Path) -> dict[str, Vocab]:
    """Vocabularies trained (if missing) and every split of every task encoded into the cache.

    Every split is checked here (readable UTF-8, not empty, source and target of equal length),
    test splits included, so a broken file fails before the first update; all problems at once.
    """
    ensure_toy_data(recipe)
    vocabs = load_or_train(recipe, run_dir)
    problems: list[str] = []
    for task in build_tasks(recipe, vocabs).values():
        for role, files in task.files.items():
            slots = [getattr(task, side) for side in task.kind.sides]
            problems += split_problems(task.where(role), list(zip(files, slots)), task.vocabs)
    if problems:
        raise DataError(problems, header=f"{len(problems)} problem(s) in the data of recipe "
                        f"'{recipe.path}' (paths relative to the working directory {Path.cwd()})")
    return vocabs


def split_problems(where: str, files: list[tuple[Path, str]], vocabs: dict[str, Vocab]
                   ) -> list[str]:
    """What is wrong with one split's files (those of token slots are encoded into the cache on
    the way): unreadable, empty, or of different line counts."""
    problems, sizes = [], []
    for path, slot in files:
        if slot not in vocabs:
            continue  # not text through a vocabulary: the task kind reads and checks it
        try:
            sizes.append((path, len(encode_file(path, vocabs[slot]))))
        except DataError as err:
            problems += [f"{where}: {problem}" for problem in err.problems]
    if problems or not sizes:
        return problems
    (first, count), *others = sizes
    for path, size in others:
        if size != count:
            return [f"{where}: parallel files differ in length: '{first}' has {count} lines, "
                    f"'{path}' has {size}"]
    if count == 0:
        return [f"{where}: data file '{first}' is empty"]
    return []
