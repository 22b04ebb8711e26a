"""Optimizer and learning-rate schedule from the recipe's `train:` section.

Adam skips parameters whose gradient is None, and the trainer zeroes gradients to None, so modules a
task does not touch are not moved by its update (no weight-decay drift on idle modules either).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from .recipe.config import TrainConfig


def build_optimizer(model: nn.Module, cfg: TrainConfig, extra: Sequence[nn.Parameter] = (),
                    frozen: Sequence[nn.Parameter] = ()) -> torch.optim.Optimizer:
    """The model's parameters but the ``frozen`` ones (which so get no state), and ``extra`` ones
    (learned loss weights) in a group of their own without weight decay."""
    kinds = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
    skip = {id(p) for p in frozen}
    groups = [{"params": [p for p in model.parameters() if id(p) not in skip]}]
    if extra:
        groups.append({"params": list(extra), "weight_decay": 0.0})
    params = [p for group in groups for p in group["params"]]
    # the fused kernel: one pass per tensor (4x faster than the loop on a 2-core CPU, 29M weights)
    fused = bool(params) and all(p.dtype == torch.float32 and p.device.type in ("cpu", "cuda")
                                 for p in params)
    return kinds[cfg.optimizer](groups, lr=cfg.lr, betas=tuple(cfg.betas),
                                weight_decay=cfg.weight_decay, fused=fused or None)


class LRSchedule:
    """Learning rate per update: inverse square root after warm-up, constant, or plateau decay.

    `plateau` warms up like `constant` and multiplies the rate by `plateau_factor` after
    `plateau_patience` validations without a new best loss.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> None:
        self.optimizer, self.cfg = optimizer, cfg
        self.step_count, self.scale, self.best, self.bad_checks = 0, 1.0, math.inf, 0
        self._apply()

    def factor(self, step: int) -> float:
        warmup = max(self.cfg.warmup, 0)
        if self.cfg.lr_schedule == "inverse_sqrt" and warmup > 0:
            return min(step / warmup, math.sqrt(warmup / step)) if step > 0 else 0.0
        if self.cfg.lr_schedule == "inverse_sqrt":
            return 1.0 / math.sqrt(max(step, 1))
        return min(1.0, step / warmup) if warmup > 0 else 1.0

    def rate(self) -> float:
        return self.cfg.lr * self.factor(max(self.step_count, 1)) * self.scale

    def _apply(self) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = self.rate()

    def step(self) -> None:
        self.step_count += 1
        self._apply()

    def observe(self, valid_loss: float) -> None:
        """Feed a validation loss (used by `plateau` only)."""
        if self.cfg.lr_schedule != "plateau":
            return
        if valid_loss < self.best:
            self.best, self.bad_checks = valid_loss, 0
            return
        self.bad_checks += 1
        if self.bad_checks >= self.cfg.plateau_patience:
            self.scale *= self.cfg.plateau_factor
            self.bad_checks = 0
            self._apply()

    def state_dict(self) -> dict:
        return {"step_count": self.step_count, "scale": self.scale, "best": self.best,
                "bad_checks": self.bad_checks}

    def load_state_dict(self, state: dict) -> None:
        self.step_count, self.scale = int(state["step_count"]), float(state["scale"])
        self.best, self.bad_checks = float(state["best"]), int(state["bad_checks"])
        self._apply()
