"""What a task kind is: the contract every kind fulfils, its registry, and a built task.

A *task* is an edge from an encoder slot to a decoder slot (`en>de`); its *kind* carries its
behaviour: which files a split has, how its examples are loaded and batched, its training loss and
teacher-forced statistics, its prediction (decoding for seq2seq kinds, an argmax for heads) with
the post-processing into text, and its metrics. The trainer, validation and evaluation call these
methods and nothing else, so a new kind is one new file (or a plugin) and no change to them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from torch import Tensor, nn

from ..data.noise import NoiseConfig
from ..data.sources import SourceSpec
from ..errors import UserError
from ..hypotheses import DEFAULT_MAX_LEN
from ..loss import LossOutput
from ..modules import DECODERS
from ..registry import Registry
from ..search.sample import Sampling
from ..vocab import Vocab

Examples = Any  # a kind's loaded split: has len() and sizes() (N,) for length batching
Batch = Any  # a kind's batch: has .to(device) and .index (B,) line numbers in the split


@dataclass
class DecodeSettings:
    """How predictions are made: beam size and length penalty, or sampling (seq2seq kinds),
    batch size, and a cap on the sentences predicted per task."""

    beam: int = 1
    alpha: float = 0.6
    batch_tokens: int = 4096
    limit: int | None = None  # predict only the first N examples
    sampling: Sampling | None = None  # sample instead of greedy/beam search


@dataclass
class Task:
    """One task of a run as training, validation and evaluation see it (made by `build/tasks.py`)."""

    name: str
    kind: "TaskKind"
    encoder: str | tuple[str, ...]  # slot, or the slots of a multi-source task (in order)
    decoder: str  # slot of the decoder or head
    files: dict[str, tuple[Path, ...]]  # role ('train', 'valid', 'test', 'test[1]'...) -> a file per side
    metrics: list[str]  # the main metric first
    max_len: tuple[float, int] = DEFAULT_MAX_LEN  # prediction stops at a * source length + b
    vocabs: dict[str, Vocab] = field(default_factory=dict)  # slot -> vocabulary, where it has one
    ratio: Any = 1.0  # a number, or a schedule [[step, ratio], ...] (curriculum.py)
    start_at: int = 0  # the curriculum's window of updates: [start_at, stop_at)
    stop_at: int | None = None
    loss_weight: float = 1.0  # multiplies its loss (loss_weights.py)
    patience: int = 0  # validations without a new best of its main metric before it stops (0: never)
    sources: tuple[SourceSpec, ...] = ()  # how each encoder slot's files are read, in order
    batch_tokens: int | None = None  # this task's training batches, if not train.batch_tokens
    noise: NoiseConfig | None = None  # noise on the sources of its training batches
    embedding: str | None = None  # where its task vector is added: encoder, decoder or both
    tgt_tag: str | None = None  # the token put before its first source (in `sources`' prefix)
    splits: dict[str, str] = field(default_factory=dict)  # role -> split name ('test[1]' -> ...)

    @property
    def encoder_slots(self) -> tuple[str, ...]:
        return self.encoder if isinstance(self.encoder, tuple) else (self.encoder,)

    def source_specs(self) -> tuple[SourceSpec, ...]:
        """How each encoder slot is read; text through its vocabulary unless the builder said."""
        return self.sources or tuple(SourceSpec(slot, "tokens", self.vocabs.get(slot))
                                     for slot in self.encoder_slots)

    def split_name(self, role: str) -> str:
        """The split a role names (`tasks.<t>.test: [a, b]`: 'test' -> a, 'test[1]' -> b)."""
        return self.splits.get(role, role)

    def where(self, role: str) -> str:
        """The YAML path that error messages about this task's ``role`` split start with."""
        return f"tasks.{self.name}.{role}"


class TaskKind:
    """Base class of task kinds; registered as ``@KINDS.register("name")``.

    Class attributes say what a recipe's checks need to know without loading data.
    """

    metric: ClassVar[str] = ""  # the main metric: selects checkpoints and is printed first
    extra_metrics: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    max_len: ClassVar[tuple[float, int]] = DEFAULT_MAX_LEN  # default prediction limit (a, b)
    sides: ClassVar[tuple[str, ...]] = ("encoder", "decoder")  # slots with a file per split
    decoder_registry: ClassVar[Registry] = DECODERS  # where `decoders.<slot>.type` is looked up
    target_vocab: ClassVar[bool] = True  # does the decoder slot need a vocabulary

    def metrics_for(self, vocab: Vocab | None) -> tuple[str, ...]:
        """Further metrics that depend on the decoder slot's vocabulary (e.g. span F1 for IOB
        tags), after ``extra_metrics``."""
        return ()

    def decoder_args(self, vocab: Vocab | None) -> dict[str, Any]:
        """Constructor arguments the toolkit gives the decoder (or head) of this kind's tasks."""
        return {"vocab_size": len(vocab), "pad_id": vocab.pad_id} if vocab is not None else {}

    def load(self, task: Task, role: str, max_len: int | None) -> Examples:
        """The examples of split ``role``; ``max_len`` (tokens) drops longer ones (training)."""
        raise NotImplementedError

    def make_batch(self, data: Examples, rows: Tensor) -> Batch:
        """One batch of the examples at positions ``rows`` (R,) of ``data``."""
        raise NotImplementedError

    def forward(self, model: nn.Module, task: Task, batch: Batch) -> Any:
        """The model's outputs for a batch (run under autocast in training)."""
        raise NotImplementedError

    def loss(self, outputs: Any, batch: Batch, label_smoothing: float) -> LossOutput:
        """Summed training loss, NLL, counted units and correct predictions of a batch."""
        raise NotImplementedError

    def predict(self, model: nn.Module, task: Task, batch: Batch, settings: DecodeSettings
                ) -> list[str]:
        """The prediction for every example of a batch, as the text the metrics score."""
        raise NotImplementedError

    def references(self, task: Task, role: str, data: Examples) -> tuple[list[str], list[str]]:
        """(sources, references) of the examples of ``data``, in its order, for the metrics."""
        raise NotImplementedError

    def from_lines(self, task: Task, lines: list[str]) -> Examples:
        """Examples to predict from raw source lines (`translate` on a head's task)."""
        raise UserError(f"task {task.name}: its kind ({type(self).__name__}) cannot predict from "
                        "raw lines (it defines no from_lines); score it with `mtseq2seq evaluate`")


KINDS: Registry[TaskKind] = Registry("task kind", TaskKind)


def task_metrics(kind: TaskKind, override: str | None, vocab: Vocab | None = None) -> list[str]:
    """Metric names for a task: the main one first (the recipe's `metric:` if given)."""
    main = override or kind.metric
    names = (kind.metric, *kind.extra_metrics, *kind.metrics_for(vocab))
    return [main, *[m for m in dict.fromkeys(names) if m != main]]
