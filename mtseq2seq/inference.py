"""Translating with a loaded checkpoint (`build.checkpoint.load_checkpoint`): which encoder and
decoder a request names, and the n-best outputs of input lines, batched by length. A request
that names its task (`--task`) reads the input as that task does: its target tag before every
line (`tasks.<t>.tgt_tag`) and its task embeddings added (`tasks.<t>.embedding`); an explicit
encoder/decoder pair adds neither (`note_task_inputs` says so when the pair's tasks have them)."""
from __future__ import annotations

import logging
from contextlib import nullcontext
from typing import Iterator

import torch

from .data.sources import SourceSpec, source_from_lines
from .errors import UserError, close_match
from .model import MultiTaskModel
from .modules import Decoder
from .search import Hypothesis, Sampling, decode
from .task_names import resolve_task
from .tasks import Task
from .vocab import Vocab

log = logging.getLogger(__name__)


def resolve_pair(model: MultiTaskModel, task: str | None, encoder: str | None,
                 decoder: str | None) -> tuple[str | None, tuple[str, str]]:
    """The task whose decoding limits apply and the (encoder slot, decoder slot) pair, from a task
    name (``en-de`` or ``en:de`` for ``en>de``) or an explicit pair (zero-shot allowed; several
    encoders comma-separated, ``--encoder hist,facts``, make a multi-source pair). For a
    pair the task is one trained with it, else one with its decoder, else None. The caller has
    checked that exactly one of the two ways was named (`translate_io.check_pair_args`).
    A head (it predicts labels, it does not generate) is only reached through its task: an
    explicit pair naming a head's slot is a UserError."""
    named, pair = _named_pair(model, task, encoder, decoder)
    module = model.decoders[pair[1]]
    if task is None and not isinstance(module, Decoder):
        raise UserError(f"--decoder: slot '{pair[1]}' holds a {type(module).__name__}, which "
                        f"predicts labels for its own task; name the task with --task instead")
    return named, pair


def generates(model: MultiTaskModel, pair: tuple[str, str]) -> bool:
    """Whether the pair's decoder slot holds a generating decoder (not a head)."""
    return isinstance(model.decoders[pair[1]], Decoder)


def _named_pair(model: MultiTaskModel, task: str | None, encoder: str | None,
                decoder: str | None) -> tuple[str | None, tuple[str, str]]:
    if task is not None:
        task = resolve_task(task, model.tasks, "--task", "the checkpoint")
        return task, tuple(model.tasks[task])
    encoders = tuple(slot.strip() for slot in encoder.split(","))  # `--encoder hist,facts`
    for flag, slot, modules in (*(("--encoder", e, model.encoders) for e in encoders),
                                ("--decoder", decoder, model.decoders)):
        if slot not in modules:
            raise UserError(f"{flag}: the checkpoint has no {flag[2:]} for slot '{slot}' "
                            f"({flag[2:]}s: {', '.join(modules)}{close_match(slot, modules)})")
    source = encoders if len(encoders) > 1 else encoders[0]
    trained = [t for t, p in model.tasks.items() if tuple(p) == (source, decoder)]
    same_decoder = [t for t, p in model.tasks.items() if p[1] == decoder]
    return next(iter(trained + same_decoder), None), (source, decoder)


def translate_lines(model: MultiTaskModel, vocabs: dict[str, Vocab], pair: tuple,
                    lines: list[str], beam: int, alpha: float, n_best: int, batch_size: int,
                    max_len: tuple[float, int], device: torch.device,
                    sampling: Sampling | None = None, task: Task | None = None
                    ) -> Iterator[tuple[int, list[Hypothesis]]]:
    """(line number, n-best) for every non-empty line, batched by length; empty lines are skipped.

    A multi-source pair reads one tab-separated field per encoder slot from each line. With
    ``task`` (the pair's), the lines are read as its sources are (a target tag first) and its
    task embeddings are added."""
    slots = pair[0] if isinstance(pair[0], tuple) else (pair[0],)
    columns = split_fields(lines, slots)
    specs = task.source_specs() if task is not None else \
        [source_spec(model, vocabs, slot) for slot in slots]
    sources = [source_from_lines(column, spec) for spec, column in zip(specs, columns)]
    sizes = torch.stack([src.sizes() for src in sources]).amax(dim=0).tolist()  # (N,)
    order = sorted((i for i, line in enumerate(lines) if line.strip()), key=lambda i: sizes[i])
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        batches = [src.batch(rows) for src in sources]
        src = tuple(x.to(device) for x, _ in batches)
        mask = tuple(m.to(device) for _, m in batches)
        if len(slots) == 1:
            src, mask = src[0], mask[0]
        with model.task_inputs(task.name) if task is not None else nullcontext():
            result = decode(model, pair, src, mask, beam=beam, alpha=alpha, n_best=n_best,
                            max_len_a=max_len[0], max_len_b=max_len[1], sampling=sampling)
        yield from zip(rows, result.hypotheses)


def note_task_inputs(tasks: dict[str, Task], pair: tuple) -> None:
    """A warning if tasks trained on this explicit pair have a target tag or task embeddings,
    which only `--task` applies."""
    using = [name for name, task in tasks.items()
             if (task.encoder, task.decoder) == tuple(pair) and (task.tgt_tag or task.embedding)]
    if using:
        log.warning("task(s) %s of this encoder and decoder were trained with a target tag or "
                    "task embeddings, which --encoder/--decoder do not add; name the task "
                    "(--task '%s') to translate as it was trained", ", ".join(using), using[0])


def split_fields(lines: list[str], slots: tuple[str, ...]) -> list[list[str]]:
    """One column of text per encoder slot: the line itself, or its tab-separated fields."""
    if len(slots) == 1:
        return [lines]
    columns: list[list[str]] = [[] for _ in slots]
    for number, line in enumerate(lines, start=1):
        fields = line.split("\t") if line.strip() else [""] * len(slots)
        if len(fields) != len(slots):
            raise UserError(f"<stdin>, line {number}: {len(fields)} tab-separated field(s), "
                            f"expected {len(slots)} (one per encoder: {', '.join(slots)})")
        for column, field in zip(columns, fields):
            column.append(field)
    return columns


def source_spec(model: MultiTaskModel, vocabs: dict[str, Vocab], slot: str) -> SourceSpec:
    """How a slot's input is read, from its encoder (input kind and, for facts, its caps)."""
    encoder = model.encoders[slot]
    options = {name: getattr(encoder, name) for name in ("max_facts", "max_fact_tokens")
               if hasattr(encoder, name)}
    return SourceSpec(slot, encoder.input_kind, vocabs.get(slot), options)
