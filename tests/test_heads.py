"""Classification and tagging heads: they learn beside translation on a shared encoder through the
unchanged trainer, predict from `translate`, align tags to each word's first piece, and refuse bad
label files with errors that name the file and line."""
from __future__ import annotations

import io
import json
import random
import re
import sys
from pathlib import Path

import pytest
import torch

from mtseq2seq.__main__ import main
from mtseq2seq.modules import HEADS, EncoderOutput
from mtseq2seq.recipe.config import VocabConfig
from mtseq2seq.tasks.tagging import is_iob, word_pieces
from mtseq2seq.vocab import LabelVocab, SentencePieceVocab
from tests.conftest import tiny_recipe, write, write_recipe

DETS, ADJS, NOUNS = ["the", "a"], ["big", "small", "red"], ["cat", "dog", "bird", "fish"]
VERBS = ["sees", "likes", "eats"]


def phrase(rng: random.Random) -> tuple[list[str], list[str]]:
    """A noun phrase and its IOB tags: the (adjective +) noun is an ANIMAL span."""
    words, tags = [rng.choice(DETS)], ["O"]
    if rng.random() < 0.5:
        words, tags = words + [rng.choice(ADJS)], tags + ["B-ANIMAL"]
    words.append(rng.choice(NOUNS))
    tags.append("I-ANIMAL" if len(tags) == 2 else "B-ANIMAL")
    return words, tags


def labelled_corpus(folder: Path) -> Path:
    """en sentences `NP verb NP`; de: the words reversed; verb: the verb (3 classes); tags: IOB."""
    rng = random.Random(0)
    for split, count in (("train", 400), ("valid", 60), ("test", 60)):
        rows = []
        for _ in range(count):
            (a, ta), verb, (b, tb) = phrase(rng), rng.choice(VERBS), phrase(rng)
            rows.append((a + [verb] + b, ta + ["O"] + tb, verb))
        write(folder / f"{split}.en", "".join(" ".join(w) + "\n" for w, _, _ in rows))
        write(folder / f"{split}.de", "".join(" ".join(reversed(w)) + "\n" for w, _, _ in rows))
        write(folder / f"{split}.tags", "".join(" ".join(t) + "\n" for _, t, _ in rows))
        write(folder / f"{split}.verb", "".join(v + "\n" for _, _, v in rows))
    return folder


def heads_recipe(tmp_path: Path, data: Path | None = None) -> Path:
    raw = tiny_recipe(data or labelled_corpus(tmp_path / "data"))
    raw["vocabs"] = {"en": {"type": "words"}, "de": {"type": "words"},
                     "verb": {"type": "labels"}, "tags": {"type": "labels"}}
    head = {"dim": 16, "hidden": 32, "dropout": 0.0}
    raw["decoders"] = {"de": {}, "verb": {"type": "classifier", **head},
                       "tags": {"type": "tagger", **head}}
    raw["tasks"] = {"en>de": {"kind": "translation", "encoder": "en", "decoder": "de"},
                    "en>verb": {"kind": "classification", "encoder": "en", "decoder": "verb"},
                    "en>tags": {"kind": "tagging", "encoder": "en", "decoder": "tags"}}
    raw["train"] = {"max_steps": 360, "batch_tokens": 400, "lr": 5e-3, "warmup": 20,
                    "log_every": 60, "threads": 1}
    raw["valid"] = {"every": 120}
    return write_recipe(tmp_path / "r.yaml", raw)


def valid_records(run: Path, task: str) -> list[dict]:
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [r for r in records if r["split"] == "valid" and r.get("task") == task]


def test_classifier_and_tagger_learn_beside_translation(tmp_path: Path, capsys,
                                                        monkeypatch) -> None:
    recipe, run = heads_recipe(tmp_path), tmp_path / "run"
    assert main(["train", str(recipe), "--run-dir", str(run)]) == 0
    verb, tags, de = (valid_records(run, t) for t in ("en>verb", "en>tags", "en>de"))
    assert verb[-1]["accuracy"] >= 90.0 and "macro_f1" in verb[-1]  # chance: 33
    assert tags[-1]["word_accuracy"] >= 90.0 and tags[-1]["span_f1"] >= 80.0
    assert de[-1]["loss"] < de[0]["loss"]
    scores = json.loads((run / "checkpoint_best.test.scores.json").read_text())["scores"]
    assert {s["task"]: s["metric"] for s in scores} == {
        "en>de": "bleu", "en>verb": "accuracy", "en>tags": "word_accuracy"}
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(
        b"the cat eats a fish\n\na big dog sees the bird\n")))
    assert main(["translate", "--checkpoint", str(run / "checkpoint_best.pt"),
                 "--task", "en-tags"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ["O B-ANIMAL O O B-ANIMAL", "", "O B-ANIMAL I-ANIMAL O O B-ANIMAL"]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"the cat eats a fish\n")))
    assert main(["translate", "--checkpoint", str(run / "checkpoint_best.pt"),
                 "--task", "en-verb"]) == 0
    assert capsys.readouterr().out == "eats\n"
    assert main(["graph", str(recipe)]) == 0  # parameter counts without training anything
    shown = re.search(r"in all: ([\d,]+) parameters", capsys.readouterr().out).group(1)
    from mtseq2seq import checkpoint
    weights = checkpoint.load(run / "checkpoint_best.pt")["model"]
    assert int(shown.replace(",", "")) == sum(w.numel() for w in weights.values())


def test_first_piece_alignment_on_hand_made_sentences(tmp_path: Path) -> None:
    text = ["the unbelievably small dog, barking loudly.", "dogs (and cats) sleep."] * 50
    vocab = SentencePieceVocab.train(iter(text), VocabConfig(size=40, model_type="unigram"))
    lines = ["unbelievably loudly.", "(and cats) dog,", ""]
    pieces, starts = word_pieces(vocab, lines)
    for i, line in enumerate(lines):
        ids, first = pieces.sentence(i).tolist(), starts.sentence(i).tolist() + [None]
        words = [vocab.decode(ids[a:b]) for a, b in zip(first[:-1], first[1:])]
        assert words == line.split()  # each word's pieces start at its own first piece
    assert len(pieces.sentence(0)) > 2  # the words were really split into several pieces


def test_iob_label_sets_get_span_f1() -> None:
    assert is_iob(["B-PER", "I-PER", "O"]) and not is_iob(["NOUN", "VERB"])
    assert not is_iob(["O"])


def test_heads_ignore_padding() -> None:
    torch.manual_seed(0)
    states, mask = torch.randn(2, 5, 8), torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]).bool()
    alone = EncoderOutput(states[:1, :3], mask[:1, :3])
    for pool in ("mean", "max", "attention"):
        head = HEADS.build("classifier", {"dim": 8, "pool": pool, "dropout": 0.0},
                           num_labels=3).eval()
        assert torch.allclose(head(EncoderOutput(states, mask))[:1], head(alone), atol=1e-6)
    tagger = HEADS.build("tagger", {"dim": 8, "dropout": 0.0}, num_labels=3).eval()
    positions = torch.tensor([[0, 2], [1, 4]])
    logits = tagger(EncoderOutput(states, mask), positions)  # (2, 2, 3)
    assert logits.shape == (2, 2, 3)
    assert torch.allclose(logits[1, 1], tagger.out(states[1, 4]), atol=1e-6)


def test_label_set_errors_name_the_file_line_and_label(tmp_path: Path, capsys) -> None:
    data = labelled_corpus(tmp_path / "data")
    lines = (data / "valid.verb").read_text().splitlines()
    write(data / "valid.verb", "\n".join(["runs", *lines[1:]]) + "\n")
    assert main(["train", str(heads_recipe(tmp_path, data)), "--run-dir",
                 str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "valid.verb, line 1: label 'runs' is not in the training labels" in err
    assert "Traceback" not in err


def test_a_tag_count_other_than_the_word_count_is_an_error(tmp_path: Path, capsys) -> None:
    data = labelled_corpus(tmp_path / "data")
    lines = (data / "train.tags").read_text().splitlines()
    write(data / "train.tags", "\n".join([*lines[:2], lines[2] + " O", *lines[3:]]) + "\n")
    assert main(["train", str(heads_recipe(tmp_path, data)), "--run-dir",
                 str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "train.tags, line 3:" in err and "labels for the" in err and "Traceback" not in err


def test_unk_label_maps_unseen_labels() -> None:
    vocab = LabelVocab(["pos", "neg"], unk_label="other")
    assert vocab.decode(vocab.encode(["pos", "surprise"])[1]) == "other"
    with pytest.raises(Exception, match="line 2: label 'surprise'"):
        LabelVocab(["pos", "neg"]).encode(["pos", "surprise"])


def test_per_task_patience_stops_one_task_and_survives_resume(tmp_path: Path) -> None:
    from mtseq2seq import checkpoint

    path, run = heads_recipe(tmp_path), tmp_path / "run"
    # en>verb may go 1 validation without a new best, and it cannot improve on 100% accuracy
    sets = ["--set", "tasks.en-verb.patience=1", "--set", "valid.every=40",
            "--set", "train.log_every=20", "--set", "train.max_steps=200"]
    assert main(["train", str(path), "--run-dir", str(run), *sets]) == 0
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    stopped = [r for r in records if r.get("event") == "task_stopped"]
    assert [r["task"] for r in stopped] == ["en>verb"]
    after = [r for r in records if r["split"] == "train" and "loss" in r  # loss lines of the
             and r["step"] >= stopped[0]["step"] + 20]  # intervals that began after the stop
    assert after and all(r["task"] != "en>verb" for r in after)  # no longer trained
    assert {r["task"] for r in after} == {"en>de", "en>tags"}  # the others go on
    state = checkpoint.load(run / "checkpoint_last.pt")
    assert state["tracker"]["stopped"] == ["en>verb"]
    best_verb = checkpoint.load(run / "checkpoint_best_en-verb.pt")["step"]
    assert best_verb <= stopped[0]["step"]
    # resuming with more updates keeps it stopped
    more = [*sets[:-1], "train.max_steps=280"]
    assert main(["train", str(path), "--run-dir", str(run), *more]) == 0
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    resumed = [r for r in records if r["split"] == "train" and "loss" in r and r["step"] > 200]
    assert resumed and all(r["task"] != "en>verb" for r in resumed)
    assert checkpoint.load(run / "checkpoint_best_en-verb.pt")["step"] == best_verb


def test_a_slot_named_like_a_module_attribute_is_refused(tmp_path: Path) -> None:
    from mtseq2seq.errors import ConfigError
    from mtseq2seq.recipe.loader import load_recipe

    with pytest.raises(ConfigError, match="decoders.type: the slot name 'type' is taken by torch"):
        load_recipe(heads_recipe(tmp_path), ["decoders.type={type: classifier, dim: 16}"],
                    check_files=False)


def test_a_side_may_read_files_named_otherwise_than_its_slot(tmp_path: Path) -> None:
    """Two heads (slots verb and verb2) read the same `<split>.verb` files (FDU-MTL's 16 domain
    heads all read `<split>.sentiment`)."""
    from mtseq2seq.build.tasks import build_tasks
    from mtseq2seq.build.vocabs import load_or_train
    from mtseq2seq.recipe.loader import load_recipe

    path = heads_recipe(tmp_path)
    sets = ["vocabs.verb2={type: labels}",
            "decoders.verb2={type: classifier, dim: 16, hidden: 32, dropout: 0.0}",
            "tasks.other={kind: classification, encoder: en, decoder: verb2, "
            "files: {decoder: verb}}"]
    recipe = load_recipe(path, sets)
    vocabs = load_or_train(recipe, tmp_path / "run")
    task = build_tasks(recipe, vocabs)["other"]
    assert [p.name for p in task.files["valid"]] == ["valid.en", "valid.verb"]
    assert vocabs["verb2"].labels == sorted(VERBS)  # trained on train.verb
    with pytest.raises(Exception, match=r"tasks.other.files.target: unknown side 'target'"):
        load_recipe(path, [*sets[:2], "tasks.other={kind: classification, encoder: en, "
                           "decoder: verb2, files: {target: verb}}"])


def test_long_training_sources_of_a_classifier_are_cut_not_dropped(tmp_path: Path) -> None:
    """A review over train.max_len tokens keeps its first max_len tokens in training; evaluation
    reads it whole."""
    from mtseq2seq.build.tasks import build_tasks
    from mtseq2seq.build.vocabs import load_or_train
    from mtseq2seq.recipe.loader import load_recipe
    from mtseq2seq.specials import EOS

    recipe = load_recipe(heads_recipe(tmp_path), ["train.max_len=4"])
    task = build_tasks(recipe, load_or_train(recipe, tmp_path / "run"))["en>verb"]
    train = task.kind.load(task, "train", 4)
    assert len(train) == 400  # every line kept (sentences have 5-7 words)
    assert int(train.sizes().max()) == 5  # 4 tokens + EOS
    batch = task.kind.make_batch(train, torch.arange(3))
    whole = [train.src.sentence(int(i)) for i in batch.index]
    assert batch.src.shape == (3, 5) and batch.src[:, -1].eq(EOS).all()
    assert all(batch.src[b, :4].tolist() == whole[b][:4].tolist() for b in range(3))
    valid = task.kind.load(task, "valid", None)
    assert int(valid.sizes().max()) >= 6
