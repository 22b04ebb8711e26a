"""The GPU path where a GPU is present (skipped on CPU-only machines such as CI, whose tests of
the same logic are in test_distributed.py): bf16 autocast, fused Adam, pinned batches, and two
ranks over NCCL when there are two GPUs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mtseq2seq.__main__ import main
from mtseq2seq.data.batching import to_device
from tests.conftest import tiny_recipe, write_recipe

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")


def test_training_on_the_gpu_in_bf16_with_fused_adam_learns(tiny_corpus: Path,
                                                            tmp_path: Path) -> None:
    raw = tiny_recipe(tiny_corpus)
    raw["train"].update({"device": "cuda", "precision": "bf16", "max_steps": 60, "lr": 3e-3,
                         "log_every": 10})
    raw["valid"]["every"] = 60
    run = tmp_path / "run"
    assert main(["train", str(write_recipe(tmp_path / "r.yaml", raw)), "--run-dir", str(run)]) == 0
    losses = [r["loss"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
              if r.get("split") == "train" and r.get("task") == "en>de"]
    assert losses[-1] < 0.7 * losses[0]


def test_batches_bound_for_the_gpu_are_pinned_first() -> None:
    x = torch.arange(6).view(2, 3)
    moved = to_device(x, torch.device("cuda"))
    assert moved.is_cuda and torch.equal(moved.cpu(), x)
