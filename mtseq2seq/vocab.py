"""Vocabularies, one per slot: a SentencePiece model (unigram or BPE) or a closed word list.

Every vocabulary uses the same special ids (pad 0, unk 1, bos 2, eos 3), a token vocabulary
trained with ``symbols=(MASK,)`` also has ``<mask>`` (id 4, `mask_id`; target tags such as
``<2de>`` are reserved the same way, `symbol_id`), and each round-trips through
plain data (`to_state` / `from_state`) so a checkpoint carries its vocabularies without pickled objects.
Which slots get one, and training them on a recipe's files, is the builder's (`build/vocabs.py`).
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Iterable, Iterator

import sentencepiece as spm

from .errors import DataError, choices_hint
from .recipe.config import VocabConfig
from .specials import BOS, EOS, MASK, PAD, SPECIALS, UNK

log = logging.getLogger(__name__)


class Vocab:
    """Common interface: ids for text and text for ids."""

    pad_id, unk_id, bos_id, eos_id = PAD, UNK, BOS, EOS
    kind = ""

    def encode(self, lines: list[str]) -> list[list[int]]:
        raise NotImplementedError

    def decode(self, ids: Iterable[int]) -> str:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def payload(self) -> bytes:
        raise NotImplementedError

    @property
    def mask_id(self) -> int | None:
        """The id of the reserved ``<mask>`` (`specials.MASK`), or None if it was not trained in."""
        return self.symbol_id(MASK)

    def symbol_id(self, symbol: str) -> int | None:
        """The id of a reserved ``symbol`` (``<mask>``, a target tag like ``<2de>``), or None
        if the vocabulary has no such entry."""
        return None

    @property
    def fingerprint(self) -> str:
        """Changes whenever the vocabulary does; names cache files."""
        return hashlib.sha1(self.kind.encode() + self.payload()).hexdigest()[:16]

    def to_state(self) -> dict:
        return {"kind": self.kind, "payload": self.payload()}

    @staticmethod
    def from_state(state: dict) -> "Vocab":
        kinds = {"sentencepiece": SentencePieceVocab, "words": WordVocab, "labels": LabelVocab}
        return kinds[state["kind"]].from_payload(state["payload"])


class SentencePieceVocab(Vocab):
    kind = "sentencepiece"

    def __init__(self, model: bytes) -> None:
        self.model = model
        self.sp = spm.SentencePieceProcessor(model_proto=model)

    @classmethod
    def from_payload(cls, payload: bytes) -> "SentencePieceVocab":
        return cls(payload)

    @classmethod
    def train(cls, lines: Iterator[str], cfg: VocabConfig, symbols: tuple[str, ...] = ()
              ) -> "SentencePieceVocab":
        """``symbols`` (e.g. ``<mask>``) become pieces of their own, right after the specials."""
        buffer = io.BytesIO()
        extra = {"user_defined_symbols": list(symbols)} if symbols else {}
        spm.SentencePieceTrainer.train(
            sentence_iterator=lines, model_writer=buffer, vocab_size=cfg.size,
            model_type=cfg.model_type, character_coverage=cfg.character_coverage,
            pad_id=PAD, unk_id=UNK, bos_id=BOS, eos_id=EOS, hard_vocab_limit=False,
            input_sentence_size=2_000_000, shuffle_input_sentence=True, num_threads=2,
            minloglevel=2, **extra)
        return cls(buffer.getvalue())

    def encode(self, lines: list[str]) -> list[list[int]]:
        return self.sp.encode(lines)

    def decode(self, ids: Iterable[int]) -> str:
        return self.sp.decode([i for i in ids if i > EOS])

    def __len__(self) -> int:
        return self.sp.get_piece_size()

    def symbol_id(self, symbol: str) -> int | None:
        found = self.sp.piece_to_id(symbol)  # the unknown id if there is no such piece
        return found if self.sp.id_to_piece(found) == symbol else None

    def payload(self) -> bytes:
        return self.model


class WordVocab(Vocab):
    """Closed list of whitespace-separated symbols (tree brackets, tags)."""

    kind = "words"

    def __init__(self, words: list[str]) -> None:
        self.words = SPECIALS + [w for w in words if w not in SPECIALS]
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def from_payload(cls, payload: bytes) -> "WordVocab":
        return cls(payload.decode("utf-8").split("\n")[len(SPECIALS):])

    @classmethod
    def train(cls, lines: Iterator[str], cfg: VocabConfig, symbols: tuple[str, ...] = ()
              ) -> "WordVocab":
        """The most frequent words; ``symbols`` (e.g. ``<mask>``) first, right after the specials."""
        counts = Counter(word for line in lines for word in line.split() if word not in symbols)
        most = max(cfg.size - len(SPECIALS) - len(symbols), 1)
        return cls([*symbols, *sorted(counts, key=lambda w: (-counts[w], w))[:most]])

    def encode(self, lines: list[str]) -> list[list[int]]:
        return [[self.index.get(w, UNK) for w in line.split()] for line in lines]

    def decode(self, ids: Iterable[int]) -> str:
        return " ".join(self.words[i] for i in ids if i > EOS)

    def __len__(self) -> int:
        return len(self.words)

    def symbol_id(self, symbol: str) -> int | None:
        return self.index.get(symbol)

    def payload(self) -> bytes:
        return "\n".join(self.words).encode("utf-8")


class LabelVocab(Vocab):
    """A closed label set (classes, tags) read from the training labels: ids 0..L-1, sorted,
    no special entries. A label outside the set maps to ``unk_label`` when the recipe declares
    one (``vocabs.<slot>.unk_label``), else it is an error naming the line and the label."""

    kind = "labels"

    def __init__(self, labels: list[str], unk_label: str | None = None) -> None:
        self.labels = sorted(set(labels) | ({unk_label} if unk_label else set()))
        self.index = {label: i for i, label in enumerate(self.labels)}
        self.unk_label = unk_label

    @classmethod
    def from_payload(cls, payload: bytes) -> "LabelVocab":
        state = json.loads(payload.decode("utf-8"))
        return cls(state["labels"], state.get("unk_label"))

    @classmethod
    def train(cls, lines: Iterator[str], cfg: VocabConfig, symbols: tuple[str, ...] = ()
              ) -> "LabelVocab":
        assert not symbols, "a label set reserves no symbols (the recipe checks forbid masking it)"
        labels = {label for line in lines for label in line.split()}
        if not labels:
            raise DataError("there are no labels to learn from (every line is empty)")
        return cls(sorted(labels), cfg.unk_label)

    def encode(self, lines: list[str]) -> list[list[int]]:
        return [[self._id(label, number) for label in line.split()]
                for number, line in enumerate(lines, 1)]

    def _id(self, label: str, line: int) -> int:
        if label in self.index:
            return self.index[label]
        if self.unk_label is not None:
            return self.index[self.unk_label]
        raise DataError(f"line {line}: label '{label}' is not in the training labels "
                        f"{choices_hint(label, self.labels)[1:]}; fix the line, or declare "
                        "vocabs.<slot>.unk_label to map unseen labels to one")

    def decode(self, ids: Iterable[int]) -> str:
        return " ".join(self.labels[i] for i in ids)

    def __len__(self) -> int:
        return len(self.labels)

    def payload(self) -> bytes:
        return json.dumps({"labels": self.labels, "unk_label": self.unk_label}).encode("utf-8")


def read_vocab_file(path: Path, cfg: VocabConfig) -> Vocab:
    """A vocabulary saved in the run directory; a DataError if it is damaged."""
    try:
        return Vocab.from_state({"kind": cfg.type, "payload": path.read_bytes()})
    except (OSError, RuntimeError, UnicodeDecodeError) as err:
        raise DataError(f"vocabulary file '{path}' cannot be read ({type(err).__name__}: "
                        f"{str(err).strip()[:120]}); delete it to train it again") from None


def vocab_problems(stored: dict, vocabs: dict[str, Vocab]) -> list[str]:
    """How the vocabularies stored in a checkpoint differ from ``vocabs`` (slot by slot)."""
    problems = []
    for slot in sorted(set(stored) | set(vocabs)):
        if slot not in vocabs or slot not in stored:
            where = "the checkpoint" if slot in stored else "the run directory"
            problems.append(f"vocabulary of slot '{slot}' exists only in {where}")
            continue
        ours, theirs = vocabs[slot], stored[slot]
        if theirs.get("kind") != ours.kind or theirs.get("payload") != ours.payload():
            try:
                size = f"{len(Vocab.from_state(theirs))} entries"
            except Exception:
                size = "unreadable"
            problems.append(f"vocabulary of slot '{slot}' differs: the checkpoint's has {size} "
                            f"({theirs.get('kind')}), this one {len(ours)} ({ours.kind})")
    return problems
