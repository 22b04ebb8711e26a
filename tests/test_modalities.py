"""Feature slots (captioning), multi-source tasks and a memory of facts, end to end.

The data is made here: captions of one or two noun phrases whose words are recoverable from one
feature vector per phrase; and a dialogue where the answer to "what colour is the X ?" is in one
of the facts and nowhere else, so a model with the facts (FACTS) must beat one without (NOFACTS).
"""
from __future__ import annotations

import io
import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest
import sacrebleu
import torch

from mtseq2seq.__main__ import main
from mtseq2seq.model import MultiTaskModel
from mtseq2seq.modules import ENCODERS
from tests.conftest import write, write_recipe
from tests.test_faults import fails

NOUNS = ["cat", "dog", "bird", "fish", "cow", "fox"]
ADJS = ["big", "small", "red", "old"]
COLOURS = ["red", "blue", "green", "black"]
DIM_IN, DIM = 12, 32
SPLITS = (("train", 600), ("valid", 40), ("test", 100))


def captions(folder: Path, seed: int = 0) -> Path:
    """`{split}.img.npy` (N, 2, DIM_IN): one region per noun phrase (noun + adjective + role
    vectors, plus noise; a second region of zeros when there is one phrase), and `{split}.en`."""
    rng, gen = random.Random(seed), np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    vectors = {w: gen.normal(size=DIM_IN) for w in [*NOUNS, *ADJS, "subject", "object"]}
    for split, count in SPLITS:
        lines, rows = [], np.zeros((count, 2, DIM_IN), dtype=np.float32)
        for i in range(count):
            phrases = [(rng.choice(ADJS), rng.choice(NOUNS)) for _ in range(rng.choice((1, 2)))]
            words = [f"a {adj} {noun}" for adj, noun in phrases]
            lines.append(" sees ".join(words))
            for k, ((adj, noun), role) in enumerate(zip(phrases, ("subject", "object"))):
                rows[i, k] = vectors[noun] + vectors[adj] + vectors[role] + \
                    0.1 * gen.normal(size=DIM_IN)
        np.save(folder / f"{split}.img.npy", rows)
        write(folder / f"{split}.en", "\n".join(lines) + "\n")
    return folder


def dialogue(folder: Path, seed: int = 0) -> Path:
    """`{split}.{hist,facts,resp}`: three colour facts, a question about one of them, the answer."""
    rng = random.Random(seed)
    for split, count in SPLITS:
        hist, facts, resp = [], [], []
        for _ in range(count):
            animals = rng.sample(NOUNS, 3)
            colours = {a: rng.choice(COLOURS) for a in animals}
            asked = rng.choice(animals)
            facts.append(" ||| ".join(f"the {a} is {colours[a]}" for a in animals))
            hist.append(f"what colour is the {asked} ?")
            resp.append(f"the {asked} is {colours[asked]}")
        for name, lines in (("hist", hist), ("facts", facts), ("resp", resp)):
            write(folder / f"{split}.{name}", "\n".join(lines) + "\n")
    return folder


def recipe(tmp_path: Path, data: Path, raw: dict, steps: int = 300) -> Path:
    base = {"data_dir": str(data), "seed": 3,
            "modules": {"type": "transformer", "transformer": {
                "dim": DIM, "layers": 1, "heads": 2, "ff": 64, "dropout": 0.0}},
            "train": {"max_steps": steps, "batch_tokens": 600, "lr": 3e-3, "warmup": 30,
                      "log_every": 100, "threads": 1},
            "valid": {"every": steps}}
    return write_recipe(tmp_path / "r.yaml", {**base, **raw})


def caption_recipe(tmp_path: Path, decoder: str = "transformer") -> Path:
    data = captions(tmp_path / "data")
    return recipe(tmp_path, data, {
        "vocabs": {"en": {"type": "words"}},
        "encoders": {"img": {"type": "features", "input_dim": DIM_IN, "dim": DIM}},
        "decoders": {"en": {"type": decoder, "dim": DIM, **({"embed_dim": DIM, "layers": 1}
                                                            if decoder == "rnn" else {})}},
        "tasks": {"img>en": {"kind": "captioning", "encoder": "img", "decoder": "en"}}})


def test_concatenated_memory_is_each_encoders_memory_side_by_side() -> None:
    torch.manual_seed(0)
    tokens = ENCODERS.build("transformer", {"dim": 8, "layers": 1, "heads": 2, "ff": 16},
                            vocab_size=11, pad_id=0)
    feats = ENCODERS.build("features", {"input_dim": 5, "dim": 8}, "")
    model = MultiTaskModel({"en": tokens, "img": feats}, {}, {}).eval()
    ids = torch.tensor([[4, 5, 2, 0], [6, 2, 0, 0]])  # (B, S)
    vectors, regions = torch.randn(2, 3, 5), torch.tensor([[True] * 3, [True, True, False]])
    both = model.encode(("en", "img"), (ids, vectors), (ids.ne(0), regions))
    en, img = model.encode("en", ids, ids.ne(0)), model.encode("img", vectors, regions)
    assert torch.equal(both.states, torch.cat([en.states, img.states], dim=1))  # (B, 7, 8)
    assert torch.equal(both.mask, torch.cat([ids.ne(0), regions], dim=1))


@pytest.mark.parametrize("decoder", ["transformer", "rnn"])
def test_features_encoder_learns_captions(tmp_path: Path, decoder: str) -> None:
    run = tmp_path / "run"
    assert main(["train", str(caption_recipe(tmp_path, decoder)), "--run-dir", str(run)]) == 0
    scores = json.loads((run / "checkpoint_best.test.scores.json").read_text())["scores"][0]
    assert scores["metric"] == "bleu" and "chrf" in scores["others"]
    assert scores["score"] > 60.0, scores  # a caption is 3 or 7 words; chance BLEU is ~0


def test_several_references_score_as_sacrebleu_does(tmp_path: Path) -> None:
    path, run = caption_recipe(tmp_path), tmp_path / "run"
    assert main(["train", str(path), "--run-dir", str(run), "--set", "train.max_steps=60",
                 "--set", "valid.every=60", "--set", "valid.sample=true",
                 "--set", "valid.top_k=3"]) == 0  # validation and the test scores sample
    sampled = json.loads((run / "checkpoint_best.test.scores.json").read_text())
    assert sampled["sampling"] == {"temperature": 1.0, "top_k": 3, "top_p": 1.0, "seed": 1}
    checkpoint = ["--checkpoint", str(run / "checkpoint_best.pt")]
    runs = []
    for seed in ("7", "7"):
        assert main(["evaluate", str(path), *checkpoint, "--sample", "--seed", seed]) == 0
        runs.append(json.loads((run / "checkpoint_best.test.scores.json").read_text()))
    assert runs[0] == runs[1] and runs[0]["sampling"]["seed"] == 7  # the same samples again
    data = tmp_path / "data"
    refs = (data / "test.en").read_text().splitlines()
    second = [line.replace("sees", "watches") for line in refs]
    write(data / "test.en.2", "\n".join(second) + "\n")
    assert main(["evaluate", str(path), "--checkpoint", str(run / "checkpoint_best.pt")]) == 0
    scored = json.loads((run / "checkpoint_best.test.scores.json").read_text())["scores"][0]
    assert "nrefs:2" in scored["signature"]
    hyps = predictions(path, run, data)
    assert scored["score"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs, second]).score)


def predictions(path: Path, run: Path, data: Path) -> list[str]:
    """The test captions as `evaluate` decodes them (greedy, in line order)."""
    from mtseq2seq.build.checkpoint import load_checkpoint
    from mtseq2seq.evaluate import predict_split
    from mtseq2seq.tasks import DecodeSettings

    loaded = load_checkpoint(run / "checkpoint_best.pt", torch.device("cpu"))
    task = loaded.tasks["img>en"]
    return predict_split(loaded.model, task, task.kind.load(task, "test", None), DecodeSettings(),
                         torch.device("cpu"))


def dialogue_recipe(tmp_path: Path, tasks: dict, steps: int = 300) -> Path:
    data = dialogue(tmp_path / "data")
    return recipe(tmp_path, data, {
        "vocabs": {"hist": {"type": "words"}, "facts": {"type": "words"},
                   "resp": {"type": "words"}},
        "encoders": {"hist": {}, "facts": {"type": "facts", "max_facts": 4, "dim": DIM,
                                           "layers": 1, "heads": 2, "ff": 64, "dropout": 0.0}},
        "decoders": {"resp": {}},
        "tasks": tasks}, steps)


FACTS = {"kind": "response", "encoder": ["hist", "facts"], "decoder": "resp", "metric": "exact_match"}
NOFACTS = {"kind": "response", "encoder": "hist", "decoder": "resp", "metric": "exact_match"}


def test_facts_beat_no_facts_and_multi_source_decodes(tmp_path: Path, capsys,
                                                       monkeypatch) -> None:
    scores = {}
    for name, task in (("facts", FACTS), ("nofacts", NOFACTS)):
        folder = tmp_path / name
        folder.mkdir()
        run = folder / "run"
        assert main(["train", str(dialogue_recipe(folder, {name: task}, 400)), "--run-dir",
                     str(run)]) == 0
        scores[name] = json.loads((run / "checkpoint_best.test.scores.json").read_text())
    facts, nofacts = (scores[n]["scores"][0]["score"] for n in ("facts", "nofacts"))
    # exact match on 100 test answers; NOFACTS can only guess 1 of 4 colours (seen: 85 vs 33)
    assert facts >= 75.0 and nofacts <= 50.0 and facts - nofacts >= 30.0, (facts, nofacts)
    checkpoint = str(tmp_path / "facts" / "run" / "checkpoint_best.pt")
    line = b"what colour is the cow ?\tthe dog is red ||| the cow is green ||| the fox is black\n"
    outputs = []
    for args in (["--beam", "3", "--n-best", "3"], ["--sample", "--n-best", "4", "--seed", "5"],
                 ["--sample", "--n-best", "4", "--seed", "5"],
                 ["--sample", "--n-best", "4", "--seed", "6", "--temperature", "3"]):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(line + b"\n" + line)))
        capsys.readouterr()
        assert main(["translate", "--checkpoint", checkpoint, "--encoder", "hist,facts",
                     "--decoder", "resp", *args]) == 0
        outputs.append([row.split("\t") for row in capsys.readouterr().out.splitlines()])
    beam, sample, again, hot = outputs
    assert [r[0] for r in beam] == ["0"] * 3 + ["1"] + ["2"] * 3  # 3-best, empty line, 3-best
    assert beam[0][1] == "the cow is green" and len({r[1] for r in beam[:3]}) == 3
    assert [float(r[2]) for r in beam[:3]] == sorted((float(r[2]) for r in beam[:3]), reverse=True)
    assert sample == again and len(sample) == 9  # the same seed: the same samples
    assert hot != sample


def test_feature_and_fact_errors_name_the_file_and_shapes(tmp_path: Path, capsys) -> None:
    path = caption_recipe(tmp_path)
    data = tmp_path / "data"
    np.save(data / "valid.img.npy", np.zeros((39, 2, DIM_IN), dtype=np.float32))
    fails(["train", str(path), "--run-dir", str(tmp_path / "a")], capsys,
          f"'{data}/valid.img.npy' has 39 rows", f"'{data}/valid.en' has 40 lines")
    np.save(data / "valid.img.npy", np.zeros((40, 2, DIM_IN + 1), dtype=np.float32))
    fails(["train", str(path), "--run-dir", str(tmp_path / "b")], capsys,
          "encoders.img.input_dim: 12", f"'{data}/valid.img.npy' has shape (40, 2, 13)")
    folder = tmp_path / "dialogue"
    folder.mkdir()
    dpath = dialogue_recipe(folder, {"facts": FACTS})
    fails(["train", str(dpath), "--run-dir", str(folder / "run"), "--set",
           "encoders.facts.max_facts=2"], capsys,
          f"{folder}/data/train.facts, line 1: 3 facts, more than encoders.facts.max_facts (2)")
