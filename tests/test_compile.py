"""`train.compile: true`: the layer blocks go through torch.compile (dynamic shapes), the model
trains to the same weights as eager (to rounding), and the checkpoint keys do not change."""
from __future__ import annotations

from pathlib import Path

import torch

from mtseq2seq.build.prepare import prepare
from mtseq2seq.build.trainer import build_trainer
from mtseq2seq.compiling import layer_blocks
from mtseq2seq.recipe.loader import load_recipe
from tests.conftest import tiny_recipe, without_key_biases, write_recipe


def trained(tiny_corpus: Path, tmp_path: Path, compile_: bool) -> dict:
    raw = tiny_recipe(tiny_corpus)
    raw["train"].update({"compile": compile_, "lr": 3e-3, "fast_paths": "default"})
    run = tmp_path / f"run_{compile_}"
    run.mkdir()
    recipe = load_recipe(write_recipe(tmp_path / f"r_{compile_}.yaml", raw), run_dir=str(run))
    trainer = build_trainer(recipe, run, prepare(recipe, run))
    assert len(layer_blocks(trainer.model)) == 3  # one encoder layer, two decoders' layers
    for _ in range(4):  # batches of several lengths: symbolic shapes, no compile per batch
        trainer.train_step(trainer.next_tasks())
    return trainer.model.state_dict()


def test_compiled_blocks_train_the_weights_eager_ones_do(tiny_corpus: Path, tmp_path: Path) -> None:
    torch._dynamo.reset()
    eager = trained(tiny_corpus, tmp_path, False)
    compiled = trained(tiny_corpus, tmp_path, True)
    assert list(compiled) == list(eager)  # checkpoint keys as they were
    for key, value in eager.items():  # (key biases: see without_key_biases)
        assert torch.allclose(without_key_biases(key, compiled[key]),
                              without_key_biases(key, value), rtol=1e-4, atol=1e-5), key
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 1  # it did compile
