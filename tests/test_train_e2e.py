"""End to end: every toy topology and both module families train with the same code and learn."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mtseq2seq.__main__ import main
from mtseq2seq.build.prepare import prepare
from mtseq2seq.build.trainer import build_trainer
from mtseq2seq.recipe.loader import load_recipe
from mtseq2seq.toydata import generate
from mtseq2seq.trainer import Trainer
from tests.conftest import conv_plugin, tiny_recipe, write, write_recipe

RECIPES = Path(__file__).resolve().parent.parent / "recipes" / "toy"
TINY = ["train.max_steps=80", "train.batch_tokens=600", "train.lr=5e-3", "train.warmup=10",
        "valid.every=80", "valid.max_sentences=40", "valid.decode_sentences=10", "modules.transformer.dim=32",
        "modules.transformer.ff=64", "modules.transformer.layers=1", "modules.rnn.dim=32",
        "modules.rnn.embed_dim=32", "vocabs.en.size=120", "vocabs.de.size=120",
        "vocabs.fr.size=120", "train.log_every=20"]


@pytest.fixture(scope="module")
def toy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("toy")
    generate(folder, seed=3, sizes={"train": 600, "valid": 60, "test": 60})
    return folder


def toy_trainer(name: str, toy_dir: Path, run_dir: Path, extra: list[str] = ()) -> Trainer:
    overrides = [*TINY, f"data_dir={toy_dir}", "toy_data=null", *extra]
    recipe = load_recipe(RECIPES / f"{name}.yaml", overrides, run_dir=str(run_dir))
    run_dir.mkdir(parents=True, exist_ok=True)
    return build_trainer(recipe, run_dir, prepare(recipe, run_dir))


@pytest.mark.parametrize("family", ["transformer", "rnn"])
@pytest.mark.parametrize("name", ["one_to_many", "many_to_one", "many_to_many"])
def test_topology_trains_and_every_task_learns(name: str, family: str, toy_dir: Path,
                                               tmp_path: Path) -> None:
    trainer = toy_trainer(name, toy_dir, tmp_path / "run", [f"modules.type={family}"])
    before = {r.task: r.loss for r in trainer.validate()[0]}
    trainer.train()
    after = {r.task: r.loss for r in trainer.validate()[0]}
    assert set(after) == set(trainer.tasks)
    for task in after:  # every task, shared modules or not, got better
        assert after[task] < 0.9 * before[task], (task, before[task], after[task])
    assert (tmp_path / "run" / "checkpoint_best.pt").is_file()


@pytest.mark.parametrize("family", ["transformer", "rnn"])
def test_toy_heads_learn_beside_translation(family: str, toy_dir: Path, tmp_path: Path) -> None:
    """recipes/toy/heads.yaml: en>de, en>pos (tagger) and en>stype (classifier), one encoder."""
    trainer = toy_trainer("heads", toy_dir, tmp_path / "run", [
        f"modules.type={family}", "train.max_steps=450", "valid.every=450",
        "decoders.pos.dim=32", "decoders.stype.dim=32", "valid.decode_sentences=60"])
    trainer.train()
    forced, scores = trainer.validate()
    by_task = {s.task: s for s in scores}
    # chance: 31% of words are DET (the commonest tag), 27% of sentences prepositional; these
    # tiny models (dim 32, 150 updates per task) reach about 77% on both
    assert by_task["en>pos"].metric == "word_accuracy" and by_task["en>pos"].score >= 65.0
    assert by_task["en>stype"].metric == "accuracy" and by_task["en>stype"].score >= 60.0
    assert "macro_f1" in by_task["en>stype"].others
    assert {r.task for r in forced} == {"en>de", "en>pos", "en>stype"}


def test_shared_encoder_is_one_module_trained_by_every_task(toy_dir: Path, tmp_path: Path) -> None:
    trainer = toy_trainer("one_to_many", toy_dir, tmp_path / "run")
    model = trainer.model
    assert list(model.encoders) == ["en"] and sorted(model.decoders) == ["de", "en", "fr", "parse"]
    enc_keys = [k for k in model.state_dict() if k.startswith("encoders.")]
    assert all(k.startswith("encoders.en.") for k in enc_keys)
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == sum(p.numel() for m in [*model.encoders.values(), *model.decoders.values()]
                           for p in m.parameters())
    shared = model.encoders["en"]
    for task in ("en>de", "en>parse"):
        enc_before = [p.detach().clone() for p in shared.parameters()]
        fr_before = [p.detach().clone() for p in model.decoders["fr"].parameters()]
        trainer.train_step([task])
        assert any(not torch.equal(a, p) for a, p in zip(enc_before, shared.parameters())), task
        # a decoder the task does not use is untouched (Adam skips parameters without gradients)
        assert all(torch.equal(a, p) for a, p in zip(fr_before, model.decoders["fr"].parameters()))


def test_every_task_schedule_sums_all_tasks(toy_dir: Path, tmp_path: Path) -> None:
    trainer = toy_trainer("many_to_one", toy_dir, tmp_path / "run", ["schedule.type=every_task"])
    stats = trainer.train_step(trainer.scheduler.next_tasks())
    assert sorted(stats) == ["de>en", "fr>en"]


def test_plugin_encoder_trains(tiny_corpus: Path, tmp_path: Path) -> None:
    plugin = tmp_path / "my_encoder.py"
    plugin.write_text(conv_plugin("conv_test", dim=32), encoding="utf-8")
    raw = tiny_recipe(tiny_corpus, plugins=[plugin.name])
    raw["encoders"]["en"] = {"type": "conv_test", "dim": 16}
    raw["train"].update(max_steps=60, lr=3e-3, warmup=5)
    raw["valid"]["every"] = 60
    recipe = load_recipe(write_recipe(tmp_path / "r.yaml", raw), run_dir=str(tmp_path / "run"))
    (tmp_path / "run").mkdir()
    trainer = build_trainer(recipe, tmp_path / "run", prepare(recipe, tmp_path / "run"))
    assert type(trainer.model.encoders["en"]).__name__ == "ConvEncoder"
    before = {r.task: r.loss for r in trainer.validate()[0]}
    after = {r["task"]: r["loss"] for r in trainer.train()["valid"]}
    assert all(after[t] < 0.7 * before[t] for t in before), (before, after)


def test_cli_train_learns_and_writes_run_dir(tiny_corpus: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    raw = tiny_recipe(tiny_corpus)
    raw["vocabs"]["en"] = {"type": "sentencepiece", "size": 30}
    raw["train"].update(max_steps=300, lr=3e-3, warmup=10, log_every=50, lr_schedule="constant")
    raw["valid"]["every"] = 150
    path = write_recipe(tmp_path / "r.yaml", raw)
    run_dir = tmp_path / "run"
    assert main(["train", str(path), "--run-dir", str(run_dir)]) == 0
    table = capsys.readouterr().out
    assert "validation of the best checkpoint" in table and "test scores of the best" in table
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    valid = {r["task"]: r["acc"] for r in records
             if r["split"] == "valid" and r["step"] == 300 and "acc" in r}
    assert valid["en>de"] >= 90 and valid["en>parse"] >= 90, valid
    assert {p.name for p in run_dir.iterdir()} >= {"checkpoint_last.pt", "checkpoint_best.pt",
                                                   "metrics.jsonl", "train.log", "vocab"}
    assert (run_dir / "vocab" / "en.model").is_file() and (run_dir / "vocab" / "parse.words").is_file()
    # re-running the same command continues from checkpoint_last.pt (nothing left to do)
    assert main(["train", str(path), "--run-dir", str(run_dir), "--set", "train.max_steps=310"]) == 0
    steps = [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert max(steps) == 310 and min(s for s in steps if s > 300) == 310  # continued, not redone


def test_cli_reports_recipe_errors_without_traceback(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    path = write(tmp_path / "r.yaml", "tasks: {a>b: {kind: translaton, encoder: a, decoder: b}}\n")
    assert main(["train", str(path)]) == 2
    err = capsys.readouterr().err
    assert "tasks.a>b.kind: unknown task kind 'translaton'" in err and "Traceback" not in err
