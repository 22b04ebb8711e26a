"""Translating with a loaded checkpoint (`build.checkpoint.load_checkpoint`): which encoder and
decoder a request names, and the n-best outputs of input lines, batched by length."""
from __future__ import annotations

from typing import Iterator

import torch

from .errors import UserError, close_match
from .model import MultiTaskModel
from .modules import Decoder
from .search import Hypothesis, decode
from .specials import EOS
from .task_names import resolve_task
from .vocab import Vocab


def resolve_pair(model: MultiTaskModel, task: str | None, encoder: str | None,
                 decoder: str | None) -> tuple[str | None, tuple[str, str]]:
    """The task whose decoding limits apply and the (encoder slot, decoder slot) pair, from a task
    name (``en-de`` or ``en:de`` for ``en>de``) or an explicit pair (zero-shot allowed). For a
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
    for flag, slot, modules in (("--encoder", encoder, model.encoders),
                                ("--decoder", decoder, model.decoders)):
        if slot not in modules:
            raise UserError(f"{flag}: the checkpoint has no {flag[2:]} for slot '{slot}' "
                            f"({flag[2:]}s: {', '.join(modules)}{close_match(slot, modules)})")
    trained = [t for t, p in model.tasks.items() if tuple(p) == (encoder, decoder)]
    same_decoder = [t for t, p in model.tasks.items() if p[1] == decoder]
    return next(iter(trained + same_decoder), None), (encoder, decoder)


def translate_lines(model: MultiTaskModel, vocabs: dict[str, Vocab], pair: tuple[str, str],
                    lines: list[str], beam: int, alpha: float, n_best: int, batch_size: int,
                    max_len: tuple[float, int], device: torch.device
                    ) -> Iterator[tuple[int, list[Hypothesis]]]:
    """(line number, n-best) for every non-empty line, batched by length; empty lines are skipped."""
    src_vocab = vocabs[pair[0]]
    ids = src_vocab.encode(lines)
    order = sorted((i for i, line in enumerate(lines) if line.strip()), key=lambda i: len(ids[i]))
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        src = torch.nn.utils.rnn.pad_sequence(
            [torch.tensor(ids[i] + [EOS]) for i in rows], batch_first=True,
            padding_value=src_vocab.pad_id).to(device)  # (B, S)
        result = decode(model, pair, src, src.ne(src_vocab.pad_id), beam=beam, alpha=alpha,
                        n_best=n_best, max_len_a=max_len[0], max_len_b=max_len[1])
        yield from zip(rows, result.hypotheses)
