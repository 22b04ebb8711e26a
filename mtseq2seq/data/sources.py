"""The source side of a task, one reader per encoder input kind: text (`tokens`), float vectors
(`features`, `<split>.<slot>.npy`) and a memory of facts (`facts`, facts joined by ` ||| `).

Every reader gives the same small interface, so loading, batching and multi-source tasks treat
them alike: ``len()``, per example ``sizes()`` (its cost for length batching), ``empty()`` and
``too_long(max_len)`` (which training drops), and ``batch(lines) -> (src, src_mask)`` in the
shapes the slot's encoder reads (`modules/base.py`, ``Encoder.input_kind``).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Protocol

import torch
from torch import Tensor

from ..errors import DataError
from ..specials import EOS, PAD
from ..vocab import Vocab
from .binarize import Encoded, encode_file
from .datasets import read_lines
from .features import FeatureSource, read_features

log = logging.getLogger(__name__)
FACT_SEPARATOR = " ||| "  # between the facts of one line of a facts slot
FILE_SUFFIX = {"tokens": "", "features": ".npy", "facts": ""}  # after `<split>.<slot>`
INPUT_KINDS = tuple(FILE_SUFFIX)


class SourceData(Protocol):
    def __len__(self) -> int: ...

    def sizes(self) -> Tensor: ...  # (N,) positions each example gives its encoder

    def empty(self) -> Tensor: ...  # (N,) bool: nothing to encode

    def too_long(self, max_len: int) -> Tensor: ...  # (N,) bool

    def batch(self, lines: list[int]) -> tuple[Tensor, Tensor]: ...  # (src, src_mask)


@dataclass
class SourceSpec:
    """How a task reads one encoder slot's files: the slot's input kind, its vocabulary (tokens
    and facts), the encoder's reading options (``max_facts``, ``max_fact_tokens``,
    ``input_dim``) and the ids put before every sentence (text only: a task's `tgt_tag`), with
    the YAML path of that encoder for messages."""

    slot: str
    kind: str = "tokens"
    vocab: Vocab | None = None
    options: dict[str, Any] = field(default_factory=dict)
    prefix: tuple[int, ...] = ()

    @property
    def where(self) -> str:
        return f"encoders.{self.slot}"


class TokenSource:
    """Text of a slot: each line's ids after the ``prefix`` ids (a target tag; the length limit
    and emptiness are the sentence's own), EOS-terminated and PAD-padded when batched."""

    def __init__(self, encoded: Encoded, prefix: tuple[int, ...] = ()) -> None:
        self.encoded = encoded
        self.prefix = torch.tensor(prefix, dtype=torch.int32)  # (P,)

    def __len__(self) -> int:
        return len(self.encoded)

    def sizes(self) -> Tensor:  # (N,) prefix + tokens + EOS
        return self.encoded.lengths() + 1 + len(self.prefix)

    def empty(self) -> Tensor:
        return self.encoded.lengths().eq(0)

    def too_long(self, max_len: int) -> Tensor:
        return self.encoded.lengths().gt(max_len)

    def batch(self, lines: list[int]) -> tuple[Tensor, Tensor]:
        eos = torch.tensor([EOS], dtype=torch.int32)
        ids = torch.nn.utils.rnn.pad_sequence(
            [torch.cat([self.prefix, self.encoded.sentence(i), eos]) for i in lines],
            batch_first=True, padding_value=PAD).long()  # (B, S)
        return ids, ids.ne(PAD)


class FactSource:
    """A memory of facts per line: every fact's ids on its own row, (B, F, L) when batched."""

    def __init__(self, facts: Encoded, counts: Tensor) -> None:
        self.facts = facts  # every fact of every line, in order
        self.counts = counts  # (N,) facts per line
        self.first = torch.cumsum(counts, 0) - counts  # (N,) index of each line's first fact

    def __len__(self) -> int:
        return len(self.counts)

    def sizes(self) -> Tensor:  # (N,) facts x (longest fact + EOS), the padded cost
        lengths = self.facts.lengths()
        longest = torch.zeros(len(self), dtype=torch.int64)
        line_of = torch.repeat_interleave(torch.arange(len(self)), self.counts)  # (total facts,)
        longest.scatter_reduce_(0, line_of, lengths, "amax")
        return self.counts * (longest + 1)

    def empty(self) -> Tensor:
        return self.counts.eq(0)

    def too_long(self, max_len: int) -> Tensor:  # caps, not max_len, bound a memory of facts
        return torch.zeros(len(self), dtype=torch.bool)

    def batch(self, lines: list[int]) -> tuple[Tensor, Tensor]:
        most = max(1, *(int(self.counts[i]) for i in lines))  # a line may have no facts
        rows = [[self.facts.sentence(int(self.first[i]) + f) for f in range(int(self.counts[i]))]
                for i in lines]
        longest = max((len(f) for facts in rows for f in facts), default=0) + 1
        ids = torch.full((len(lines), most, longest), PAD, dtype=torch.long)  # (B, F, L)
        for b, facts in enumerate(rows):
            for f, fact in enumerate(facts):
                ids[b, f, :len(fact)] = fact.long()
                ids[b, f, len(fact)] = EOS
        return ids, ids.ne(PAD)


def read_facts(path: Path, spec: SourceSpec) -> FactSource:
    """Each line split at `` ||| ``; more facts than ``max_facts`` is an error naming the line,
    a fact over ``max_fact_tokens`` tokens keeps its first ones (counted in the log)."""
    return parse_facts(read_lines(path), spec, str(path))


def parse_facts(lines: Iterable[str], spec: SourceSpec, where: str) -> FactSource:
    """Facts of every line (``where`` names the file, or stdin, in messages)."""
    max_facts, max_tokens = spec.options.get("max_facts"), spec.options.get("max_fact_tokens")
    texts, counts = [], []
    for number, line in enumerate(lines, start=1):
        facts = [f.strip() for f in line.split(FACT_SEPARATOR.strip())]
        facts = [f for f in facts if f]
        if max_facts and len(facts) > max_facts:
            raise DataError(f"{where}, line {number}: {len(facts)} facts, more than "
                            f"{spec.where}.max_facts ({max_facts}); raise the cap or shorten "
                            "the line")
        texts += facts
        counts.append(len(facts))
    ids = spec.vocab.encode(texts)
    cut = sum(len(f) > max_tokens for f in ids) if max_tokens else 0
    if cut:
        ids = [f[:max_tokens] for f in ids]
        log.info("%s: %d of %d facts cut to their first %d tokens (%s.max_fact_tokens)", where,
                 cut, len(ids), max_tokens, spec.where)
    return FactSource(Encoded.from_lists(ids), torch.tensor(counts, dtype=torch.int64))


def source_from_lines(lines: list[str], spec: SourceSpec, where: str = "<stdin>") -> SourceData:
    """A source made from raw text lines (`translate`): text or facts; features cannot be."""
    if spec.kind == "tokens":
        return TokenSource(Encoded.from_lists(spec.vocab.encode(lines)), spec.prefix)
    if spec.kind == "facts":
        return parse_facts(lines, spec, where)
    raise DataError(f"slot '{spec.slot}' reads {spec.kind}, which cannot come from text lines; "
                    "score such a task on its data split with `mtseq2seq evaluate`")


def read_source(path: Path, spec: SourceSpec) -> SourceData:
    """One encoder slot's side of a split, read as its input kind says."""
    if spec.kind == "tokens":
        return TokenSource(encode_file(path, spec.vocab), spec.prefix)
    if spec.kind == "facts":
        return read_facts(path, spec)
    if spec.kind == "features":
        return read_features(path, spec.options.get("input_dim"), spec.where)
    raise DataError(f"{spec.where}: input kind '{spec.kind}' has no reader (known: "
                    f"{', '.join(INPUT_KINDS)})")


__all__ = ["FACT_SEPARATOR", "FILE_SUFFIX", "FactSource", "FeatureSource", "SourceData",
           "SourceSpec", "TokenSource", "parse_facts", "read_source", "source_from_lines"]
