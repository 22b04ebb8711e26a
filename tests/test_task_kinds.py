"""Task kinds are the trainer's only view of a task: a kind registered from a plugin file (with
its head and metric) trains next to translation on a shared encoder, through the unchanged
trainer, validation, test scoring and `evaluate`; and the built-in kinds keep their contract."""
from __future__ import annotations

import io
import json
import random
import sys
from pathlib import Path

import pytest

from mtseq2seq.__main__ import main
from mtseq2seq.recipe.loader import load_recipe
from mtseq2seq.tasks import KINDS
from tests.conftest import tiny_recipe, write, write_recipe

PLUGIN = Path(__file__).resolve().parent / "plugins" / "length_bucket.py"
WORDS = "a b c d e f g h".split()


def bucket_corpus(folder: Path) -> Path:
    """en: 1-8 random words; de: the words reversed."""
    rng = random.Random(0)
    for split, count in (("train", 400), ("valid", 60), ("test", 60)):
        lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 8))) for _ in range(count)]
        write(folder / f"{split}.en", "\n".join(lines) + "\n")
        write(folder / f"{split}.de", "\n".join(" ".join(reversed(x.split())) for x in lines) + "\n")
    return folder


def bucket_recipe(tmp_path: Path, **train) -> Path:
    raw = tiny_recipe(bucket_corpus(tmp_path / "data"), plugins=[str(PLUGIN)])
    raw["vocabs"] = {"en": {"type": "words"}, "de": {"type": "words"}}  # none for `len`
    raw["decoders"] = {"de": {}, "len": {"type": "bucket_head", "dim": 16, "buckets": 4}}
    raw["tasks"] = {"en>de": {"kind": "translation", "encoder": "en", "decoder": "de"},
                    "en>len": {"kind": "length_bucket", "encoder": "en", "decoder": "len"}}
    raw["train"] = {"max_steps": 300, "batch_tokens": 400, "lr": 5e-3, "warmup": 20,
                    "log_every": 50, "threads": 1, **train}
    raw["valid"] = {"every": 100}
    return write_recipe(tmp_path / "r.yaml", raw)


def test_a_plugin_kind_trains_next_to_translation(tmp_path: Path, capsys, monkeypatch) -> None:
    recipe, run = bucket_recipe(tmp_path), tmp_path / "run"
    assert main(["train", str(recipe), "--run-dir", str(run)]) == 0
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    valid = {t: [r for r in records if r["split"] == "valid" and r.get("task") == t]
             for t in ("en>de", "en>len")}
    assert [r["step"] for r in valid["en>len"]] == [100, 200, 300]
    assert valid["en>len"][-1]["bucket_accuracy"] >= 80.0  # 4 buckets: chance is about 25-35
    assert valid["en>de"][-1]["loss"] < valid["en>de"][0]["loss"]  # translation learns beside it
    scores = json.loads((run / "checkpoint_best.test.scores.json").read_text())["scores"]
    by_task = {s["task"]: s for s in scores}
    assert by_task["en>len"]["metric"] == "bucket_accuracy" and by_task["en>len"]["score"] >= 80.0
    assert by_task["en>de"]["metric"] == "bleu"
    capsys.readouterr()
    assert main(["evaluate", str(recipe), "--checkpoint", str(run / "checkpoint_best.pt"),
                 "--tasks", "en-len", "--split", "valid"]) == 0
    assert "bucket_accuracy" in capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a\n\na b c d e f g h\n")))
    assert main(["translate", "--checkpoint", str(run / "checkpoint_best.pt"), "--task",
                 "en-len"]) == 0  # a head's task: its kind's prediction, one line per input
    assert capsys.readouterr().out.splitlines() == ["0", "", "3"]


def test_a_kind_without_target_files_needs_no_vocabulary_or_files(tmp_path: Path) -> None:
    recipe = load_recipe(bucket_recipe(tmp_path))  # no vocabs.len, no <split>.len files
    assert recipe.tasks["en>len"].kind == "length_bucket"


def test_a_head_type_is_looked_up_where_its_kind_says(tmp_path: Path) -> None:
    path = bucket_recipe(tmp_path)
    with pytest.raises(Exception, match=r"decoders.len.type: unknown head type 'transformer' "
                                        r"\(known: bucket_head"):
        load_recipe(path, ["decoders.len.type=transformer"])


@pytest.mark.parametrize("name", ["translation", "parsing", "autoencoder"])
def test_built_in_kinds_name_registered_metrics(name: str) -> None:
    from mtseq2seq.metrics import METRICS

    kind = KINDS.get(name)
    assert kind.metric in METRICS and all(m in METRICS for m in kind.extra_metrics)
    assert kind.sides == ("encoder", "decoder") and kind.target_vocab
