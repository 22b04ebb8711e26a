"""`train.tensorboard`: every record of `metrics.jsonl` also as TensorBoard scalars.

Events go to `<run_dir>/tensorboard/`, one scalar per number of a record, tagged
`<split>/<task>/<key>`: per task the training loss, learning rate, tokens/s and updates, and the
validation loss, perplexity, accuracy and every metric (`valid/en>de/bleu`). Left unset, it is
on when the `tensorboard` package is installed (`pip install mtseq2seq[tensorboard]`); `true`
without it is an error that says so. A resumed run first drops the events of the steps it
trains again, as `metrics.jsonl` does. View with `tensorboard --logdir runs/`.
"""
from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from .errors import UserError

log = logging.getLogger(__name__)
_NOT_SCALARS = {"step", "time", "split", "task", "event"}


class TensorBoardLog:
    """Writes records as scalars; the writer opens on the first record, dropping the events of
    that step and later ones left by an earlier (resumed) run."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.writer = folder, None

    def write(self, step: int, record: dict) -> None:
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.folder), purge_step=step)
        split, task = record.get("split", "train"), record.get("task")
        for key, value in record.items():
            if key in _NOT_SCALARS or isinstance(value, bool) or \
                    not isinstance(value, (int, float)):
                continue
            tag = f"{split}/{task}/{key}" if task else f"{split}/{key}"
            self.writer.add_scalar(tag, value, step)
        if split != "train":
            self.writer.flush()  # validation is rare: make it visible at once

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def open_tensorboard(setting: bool | None, run_dir: Path) -> TensorBoardLog | None:
    """The run's TensorBoard log, as `train.tensorboard` asks (None: on when installed)."""
    installed = importlib.util.find_spec("tensorboard") is not None
    if setting is False or (setting is None and not installed):
        return None
    if not installed:
        raise UserError("train.tensorboard: true, but the tensorboard package is not installed: "
                        "pip install 'mtseq2seq[tensorboard]' (or set train.tensorboard: false)")
    return TensorBoardLog(run_dir / "tensorboard")
