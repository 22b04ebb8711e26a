"""The `tagging` kind: one label per whitespace word of the source line, from a `tagger` head.

Files per split: `<split>.<encoder slot>` (text) and `<split>.<tag slot>` (space-separated labels,
as many as the line has words). The encoder reads the slot's own pieces (SentencePiece or words),
so it can be shared with translation; each word is encoded on its own, and the head predicts at
the word's first piece. Loss and metrics are per word: word accuracy, and for IOB/IOB2 label sets
(labels `B-X`, `I-X`, `O`) exact-span F1 under CoNLL rules.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..data.binarize import Encoded, encode_file
from ..data.datasets import read_lines
from ..errors import DataError
from ..specials import UNK
from ..vocab import Vocab
from .base import KINDS, Task
from .labels import IGNORE, HeadKind, LabelBatch, kept_lines, pad_sources, same_length


@dataclass
class TaggedLines:
    src: Encoded  # every line's pieces, word after word
    starts: Encoded  # every line's first-piece position of each word
    tags: Encoded  # every line's label ids, one per word
    keep: Tensor  # (N,) kept line numbers

    def __len__(self) -> int:
        return len(self.keep)

    def sizes(self) -> Tensor:  # (N,)
        return self.src.lengths()[self.keep] + 1


def word_pieces(vocab: Vocab, lines: list[str]) -> tuple[Encoded, Encoded]:
    """Each line's pieces (its words encoded one by one) and each word's first-piece position."""
    pieces, starts = [], []
    for line in lines:
        words = [word or [UNK] for word in vocab.encode(line.split())] if line.split() else []
        offsets = [0]
        for word in words[:-1]:
            offsets.append(offsets[-1] + len(word))
        pieces.append([piece for word in words for piece in word])
        starts.append(offsets if words else [])
    return Encoded.from_lists(pieces), Encoded.from_lists(starts)


def is_iob(labels: list[str]) -> bool:
    """Whether a label set is IOB/IOB2 chunk labels (so that span F1 applies)."""
    chunked = [label for label in labels if label != "O"]
    return bool(chunked) and all(label[:2] in ("B-", "I-") for label in chunked)


@KINDS.register("tagging")
class Tagging(HeadKind):
    metric = "word_accuracy"
    description = "one label per word (part of speech, named entities in IOB)"

    def metrics_for(self, vocab: Vocab | None) -> tuple[str, ...]:
        return ("span_f1",) if vocab is not None and is_iob(vocab.labels) else ()

    def load(self, task: Task, role: str, max_len: int | None) -> TaggedLines:
        src_path, tag_path = task.files[role]
        lines = list(read_lines(src_path))
        tags = encode_file(tag_path, task.vocabs[task.decoder])
        same_length(task.where(role), src_path, len(lines), tag_path, len(tags))
        counts = tags.lengths().tolist()
        for number, (line, count) in enumerate(zip(lines, counts), 1):
            if count != len(line.split()):
                raise DataError(f"{task.where(role)}: {tag_path}, line {number}: {count} labels "
                                f"for the {len(line.split())} words of line {number} of "
                                f"{src_path}")
        src, starts = word_pieces(task.vocabs[task.encoder], lines)
        return TaggedLines(src, starts, tags, kept_lines(task.where(role), src.lengths(), max_len))

    def from_lines(self, task: Task, lines: list[str]) -> TaggedLines:
        """Examples to predict from raw source lines (no labels), for `translate`."""
        src, starts = word_pieces(task.vocabs[task.encoder], lines)
        tags = Encoded.from_lists([[0] * len(line.split()) for line in lines])
        return TaggedLines(src, starts, tags, torch.arange(len(lines)))

    def make_batch(self, data: TaggedLines, rows: Tensor) -> LabelBatch:
        lines = data.keep[rows].tolist()
        src, mask = pad_sources([data.src.sentence(i) for i in lines])
        pad = torch.nn.utils.rnn.pad_sequence
        positions = pad([data.starts.sentence(i).long() for i in lines], True, 0)  # (B, W)
        labels = pad([data.tags.sentence(i).long() for i in lines], True, IGNORE)  # (B, W)
        return LabelBatch(src, mask, labels, positions, data.keep[rows])

    def texts(self, task: Task, best: Tensor, batch: LabelBatch) -> list[str]:
        vocab = task.vocabs[task.decoder]
        words = batch.labels.ne(IGNORE).sum(dim=1).tolist()  # (B,) real words per row
        return [" ".join(vocab.labels[i] for i in row[:n]) for row, n in zip(best.tolist(), words)]
