"""Vocabularies for a recipe: one per slot that reads or writes tokens, read from the run
directory or trained on the training text of every task that uses it (sharing slots get one
object). A vocabulary that a task masks (`tasks.<t>.noise.mask`) is trained with `<mask>`, one
that a task tags (`tasks.<t>.tgt_tag`, before its first encoder slot's text) with the tag."""
from __future__ import annotations

import logging
from pathlib import Path

from ..data.datasets import read_lines
from ..data.files import split_file
from ..data.sources import FACT_SEPARATOR
from ..errors import DataError, UserError
from ..recipe.config import Recipe, VocabConfig
from ..recipe.data_files import input_kind, side_files
from ..specials import MASK
from ..vocab import LabelVocab, SentencePieceVocab, Vocab, WordVocab, read_vocab_file

log = logging.getLogger(__name__)


def vocab_owner(recipe: Recipe, slot: str) -> str:
    """The slot whose vocabulary ``slot`` uses (itself unless it shares)."""
    return recipe.vocabs[slot].share or slot


def training_files(recipe: Recipe, owner: str) -> list[Path]:
    """Training text of every slot that uses ``owner``'s vocabulary, on either side of any task."""
    files = []
    for name, task in recipe.tasks.items():
        folder = recipe.task_data_dir(name)
        for _, slot, file_name in side_files(recipe, task):
            path = split_file(folder, task.train, file_name)
            if slot in recipe.vocabs and vocab_owner(recipe, slot) == owner and path not in files:
                files.append(path)
    return files


def facts_files(recipe: Recipe) -> set[Path]:
    """Training files of facts slots: their lines are split at ` ||| ` for the vocabulary."""
    return {split_file(recipe.task_data_dir(name), task.train, file_name)
            for name, task in recipe.tasks.items()
            for side, slot, file_name in side_files(recipe, task)
            if side == "encoder" and input_kind(recipe, slot) == "facts"}


def masking_tasks(recipe: Recipe, owner: str) -> list[str]:
    """The tasks that mask (`noise.mask`) the source of a slot using ``owner``'s vocabulary."""
    return [name for name, task in recipe.tasks.items()
            if task.noise is not None and task.noise.mask > 0 and
            any(slot in recipe.vocabs and vocab_owner(recipe, slot) == owner
                for slot in task.encoder_slots)]


def tagging_tasks(recipe: Recipe, owner: str) -> dict[str, str]:
    """Task -> its `tgt_tag`, of the tasks whose first encoder slot uses ``owner``'s vocabulary."""
    return {name: task.tgt_tag for name, task in recipe.tasks.items()
            if task.tgt_tag and task.encoder_slots[0] in recipe.vocabs and
            vocab_owner(recipe, task.encoder_slots[0]) == owner}


def reserved_symbols(recipe: Recipe, owner: str) -> tuple[str, ...]:
    """``<mask>`` for a vocabulary that some task masks, then the tasks' target tags (sorted, so
    their ids do not depend on the order of the tasks); a recipe with neither trains exactly
    the vocabularies it always did."""
    mask = (MASK,) if masking_tasks(recipe, owner) else ()
    return (*mask, *sorted(set(tagging_tasks(recipe, owner).values())))


def check_mask(vocab: Vocab, tasks: list[str], path: Path) -> None:
    """A DataError if ``tasks`` mask with a vocabulary (read from ``path``) that has no ``<mask>``."""
    if tasks and vocab.mask_id is None:
        raise DataError(f"vocabulary file '{path}' has no {MASK} symbol, which "
                        f"tasks.{tasks[0]}.noise.mask needs; delete the file to train it again "
                        "with one, or use another run directory")


def check_tags(vocab: Vocab, tags: dict[str, str], path: Path) -> None:
    """A DataError if a task's tag (``tags``: task -> tag) is not in ``vocab`` (read from ``path``)."""
    for task, tag in tags.items():
        if vocab.symbol_id(tag) is None:
            raise DataError(f"vocabulary file '{path}' has no {tag} symbol, which "
                            f"tasks.{task}.tgt_tag needs; delete the file to train it again "
                            "with it, or use another run directory")


def vocab_path(run_dir: Path, owner: str, cfg: VocabConfig) -> Path:
    suffix = {"sentencepiece": "model", "words": "words", "labels": "labels"}[cfg.type]
    return run_dir / "vocab" / f"{owner}.{suffix}"


def load_or_train(recipe: Recipe, run_dir: Path) -> dict[str, Vocab]:
    """One vocabulary per slot (sharing slots get the same object); trains the missing ones."""
    owned: dict[str, Vocab] = {}
    for owner in sorted({vocab_owner(recipe, s) for s in recipe.vocabs}):
        cfg = recipe.vocabs[owner]
        path = vocab_path(run_dir, owner, cfg)
        if path.is_file():
            owned[owner] = read_vocab_file(path, cfg)
            check_mask(owned[owner], masking_tasks(recipe, owner), path)
            check_tags(owned[owner], tagging_tasks(recipe, owner), path)
            continue
        files = training_files(recipe, owner)
        if not files:
            continue  # a vocabulary no task uses
        log.info("training %s vocabulary '%s' on %s", cfg.type, owner, ", ".join(map(str, files)))
        owned[owner] = train_vocab(owner, cfg, files, facts_files(recipe),
                                   reserved_symbols(recipe, owner))
        if cfg.type == "sentencepiece" and len(owned[owner]) < cfg.size:
            log.warning("vocabs.%s: asked for %d entries, the training text gave only %d (it "
                        "has no more pieces to add); set vocabs.%s.size: %d to say so",
                        owner, cfg.size, len(owned[owner]), owner, len(owned[owner]))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(owned[owner].payload())
        tmp.replace(path)
    return {slot: owned[vocab_owner(recipe, slot)] for slot in recipe.vocabs
            if vocab_owner(recipe, slot) in owned}


class _Lines:
    """Lines of several files (a facts file's facts one by one); remembers our own error, which
    SentencePiece turns into RuntimeError."""

    def __init__(self, files: list[Path], facts: set[Path] = frozenset()) -> None:
        self.lines = (piece for path in files for line in read_lines(path)
                      for piece in (line.split(FACT_SEPARATOR) if path in facts else (line,)))
        self.error: UserError | None = None

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> str:
        try:
            return next(self.lines)
        except UserError as err:
            self.error = err
            raise


def train_vocab(owner: str, cfg: VocabConfig, files: list[Path], facts: set[Path] = frozenset(),
                symbols: tuple[str, ...] = ()) -> Vocab:
    """Train slot ``owner``'s vocabulary on ``files`` (those in ``facts`` hold facts lines), with
    the reserved ``symbols``; a DataError (naming the file) if it cannot."""
    lines = _Lines(files, facts)
    trainer = {"sentencepiece": SentencePieceVocab, "words": WordVocab, "labels": LabelVocab}[cfg.type]
    try:
        return trainer.train(lines, cfg, symbols)
    except DataError as err:  # a label set with nothing to learn (a reading error: as it is)
        if lines.error is not None:
            raise
        raise DataError(f"vocabs.{owner}: cannot train a {cfg.type} vocabulary on "
                        f"{', '.join(map(str, files))}: {err}") from None
    except RuntimeError as err:
        if lines.error is not None:
            raise lines.error from None
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if "sentences_.empty()" in reason:
            reason = "there is no text to learn from (every line is empty)"
        raise DataError(f"vocabs.{owner}: cannot train a {cfg.type} vocabulary on "
                        f"{', '.join(map(str, files))}: {reason}") from None


