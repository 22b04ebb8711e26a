"""What `mtseq2seq translate` reads and writes: its flag checks, stdin line by line, and the rows.

The output has one line per input line, in order (with ``--n-best N`` above 1: rows
``LINE<TAB>TEXT<TAB>SCORE``, LINE counted from 0, and one row ``LINE<TAB><TAB>`` for an empty line).
An input line that is not UTF-8 stops the run after everything before it is written, or with
``--skip-bad-lines`` is translated as an empty line.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, BinaryIO, Sequence, TextIO

from .data.datasets import read_stream
from .errors import DataError, UserError

if TYPE_CHECKING:
    from .search import Hypothesis
    from .vocab import Vocab

log = logging.getLogger(__name__)

MAX_BAD_LINE_WARNINGS = 20  # a binary file fed by mistake should not flood the terminal


def check_pair_args(task: str | None, encoder: str | None, decoder: str | None) -> None:
    """A UserError unless the flags name exactly one of: a task, or an encoder and a decoder."""
    if task is not None and (encoder is not None or decoder is not None):
        given = " ".join(f"--{flag} {value}" for flag, value in
                         (("task", task), ("encoder", encoder), ("decoder", decoder)) if value)
        raise UserError(f"{given}: name either --task or --encoder/--decoder, not both (a task "
                        "already decides its encoder and decoder)")
    if task is None and encoder is None and decoder is None:
        raise UserError("name a --task (e.g. --task en-de) or both --encoder and --decoder")
    if task is None and (encoder is None or decoder is None):
        given, lacking = ("encoder", "decoder") if decoder is None else ("decoder", "encoder")
        raise UserError(f"--{given} {encoder or decoder}: also name the --{lacking} slot "
                        f"(--encoder and --decoder go together)")


def note_zero_shot(tasks: dict[str, tuple[str, str]], pair: tuple[str, str]) -> None:
    """One warning if no task trained this encoder with this decoder."""
    if tuple(pair) not in {tuple(p) for p in tasks.values()}:
        log.warning("zero-shot: no task trained encoder '%s' with decoder '%s' (trained pairs: "
                    "%s); the output may be poor", pair[0], pair[1],
                    ", ".join(f"{e} -> {d}" for e, d in tasks.values()))


def read_input(handle: BinaryIO, skip_bad: bool, name: str = "<stdin>"
               ) -> tuple[list[str], DataError | None]:
    """The lines up to the first one that is not UTF-8, and that line's error (None if all are
    good). With ``skip_bad`` every bad line becomes an empty one, with a warning naming it."""
    bad: list[DataError] = []

    def skip(error: DataError) -> str:
        bad.append(error)
        if len(bad) <= MAX_BAD_LINE_WARNINGS:
            log.warning("%s; translated as an empty line (--skip-bad-lines)", error)
        return ""

    lines: list[str] = []
    try:
        for line in read_stream(handle, name, on_bad=skip if skip_bad else None):
            lines.append(line)
    except DataError as err:
        return lines, err
    if len(bad) > MAX_BAD_LINE_WARNINGS:
        log.warning("%d lines of %s were not valid UTF-8 in all (the first %d are named above)",
                    len(bad), name, MAX_BAD_LINE_WARNINGS)
    return lines, None


def write_output(out: TextIO, rows: Sequence[list[Hypothesis]], vocab: Vocab, n_best: int) -> None:
    """One line per input line (the best text), or with ``n_best`` above 1 the n-best rows; an
    input line without hypotheses (empty) gives an empty line, or one row with empty text and
    score. Flushed, so that it is all written even if an error follows."""
    for row, hyps in enumerate(rows):
        if n_best == 1:
            out.write((vocab.decode(hyps[0].tokens) if hyps else "") + "\n")
        elif not hyps:
            out.write(f"{row}\t\t\n")
        else:
            out.writelines(f"{row}\t{vocab.decode(hyp.tokens)}\t{hyp.norm_score:.4f}\n"
                           for hyp in hyps)
    out.flush()
