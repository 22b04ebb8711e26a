"""How much each task's loss counts in an update (`ratio` says how often it is trained).

Fixed weights (`train.loss_weighting: fixed`, the default) multiply a task's per-token loss by its
`tasks.<t>.loss_weight`. Learned weights (`uncertainty`, Kendall et al. 2018) give every task a
log-variance s_t, trained with the model by the same optimizer (no weight decay, no clipping):
the loss becomes loss_weight * (loss * exp(-s_t) + s_t), so a task whose loss stays high is
weighed down, and s_t cannot run off to infinity. One scalar parameter per task, so a task not in
an update gets no gradient and its s_t does not move.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class LossWeighting(nn.Module):
    """Per-task loss weights, fixed or learned (its `state_dict` goes into checkpoints)."""

    def __init__(self, tasks: list[str], weights: list[float], learned: bool = False) -> None:
        super().__init__()
        self.index = {task: i for i, task in enumerate(tasks)}
        self.weights = [float(w) for w in weights]
        self.learned = learned
        self.log_vars = nn.ParameterList(
            [nn.Parameter(torch.zeros(())) for _ in tasks] if learned else [])

    def weigh(self, task: str, loss: Tensor) -> Tensor:
        """The loss ``task`` adds to the update, from its per-token mean ``loss`` () of a batch."""
        i = self.index[task]
        if self.learned:
            s = self.log_vars[i]  # ()
            loss = loss * torch.exp(-s) + s
        return loss if self.weights[i] == 1.0 else loss * self.weights[i]

    def report(self) -> dict[str, dict[str, float]]:
        """Learned weights per task for the validation records: s_t and the factor on the loss."""
        if not self.learned:
            return {}
        found = {}
        for task, i in self.index.items():
            s = float(self.log_vars[i].detach())
            found[task] = {"log_variance": s, "loss_weight": self.weights[i] * math.exp(-s)}
        return found


def build_loss_weighting(mode: str, tasks: list[str], weights: list[float]) -> LossWeighting:
    """``mode`` is `train.loss_weighting`: "fixed" or "uncertainty"."""
    if mode not in ("fixed", "uncertainty"):
        raise ValueError(f"unknown loss weighting {mode!r}")
    return LossWeighting(tasks, weights, learned=mode == "uncertainty")
