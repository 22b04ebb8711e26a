"""Bad input gets a clear error: data files, recipes, arguments and checkpoints, through the CLI
(exit code 2, `mtseq2seq <command>: error: ...` on stderr, never a traceback)."""
from __future__ import annotations

import io
import logging
import os
import re
import shutil
import sys
from pathlib import Path

import pytest
import torch

from mtseq2seq import checkpoint
from mtseq2seq.__main__ import main
from mtseq2seq.data.binarize import encode_file
from mtseq2seq.errors import CheckpointError, DataError
from mtseq2seq.recipe.loader import load_recipe
from mtseq2seq.vocab import WordVocab, vocab_problems
from tests.conftest import task_split, tiny_recipe, write, write_recipe


def fails(args: list[str], capsys: pytest.CaptureFixture, *expected: str) -> str:
    """Run the CLI; assert exit code 2, one clean error line per ``expected`` text, no traceback."""
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    head = f"mtseq2seq {args[0]}: error: "
    assert head in err, err
    message = err[err.index(head):]  # log lines may come first
    for text in expected:
        assert text in message, f"{text!r} not in:\n{message}"
    return message


def recipe_file(folder: Path, tmp_path: Path, name: str = "r.yaml", **changes) -> str:
    raw = tiny_recipe(folder, **changes)
    raw["vocabs"]["en"] = {"type": "sentencepiece", "size": 30}
    return str(write_recipe(tmp_path / name, raw))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(data folder, recipe, checkpoint) of a tiny en>de + en>parse run (2 updates)."""
    root = tmp_path_factory.mktemp("trained")
    lines = ["the cat sees a dog", "a dog runs", "the small cat sleeps", "a bird sings"] * 5
    for split in ("train", "valid", "test"):
        write(root / "data" / f"{split}.en", "\n".join(lines) + "\n")
        write(root / "data" / f"{split}.de", "\n".join(line[::-1] for line in lines) + "\n")
        write(root / "data" / f"{split}.parse", "\n".join("(S XX )S" for _ in lines) + "\n")
    recipe = recipe_file(root / "data", root, train={"max_steps": 2, "batch_tokens": 200,
                                                     "warmup": 1}, valid={"every": 2})
    assert main(["train", recipe, "--run-dir", str(root / "run")]) == 0
    return root / "data", Path(recipe), root / "run" / "checkpoint_best.pt"


def copy_data(trained: tuple, tmp_path: Path) -> Path:
    return Path(shutil.copytree(trained[0], tmp_path / "data"))


# ---- bad data -------------------------------------------------------------------------------
def test_parallel_files_of_different_length(trained, tmp_path, capsys) -> None:
    data = copy_data(trained, tmp_path)
    write(data / "train.de", "one\ntwo\n")
    fails(["train", recipe_file(data, tmp_path), "--run-dir", str(tmp_path / "run")], capsys,
          f"tasks.en>de.train: parallel files differ in length: '{data}/train.en' has 20 lines, "
          f"'{data}/train.de' has 2")


@pytest.mark.parametrize("slot,bad", [("en", "sentencepiece training"), ("de", "word list"),
                                      ("parse", "encoding a split")])
def test_non_utf8_names_file_and_line_on_every_path(trained, tmp_path, capsys, slot, bad) -> None:
    data = copy_data(trained, tmp_path)
    split = "valid" if bad == "encoding a split" else "train"  # valid text trains no vocabulary
    lines = (data / f"{split}.{slot}").read_bytes().split(b"\n")
    lines[6] = b"caf\xe9 au lait"  # Latin-1, not UTF-8
    (data / f"{split}.{slot}").write_bytes(b"\n".join(lines))
    fails(["prepare", recipe_file(data, tmp_path), "--run-dir", str(tmp_path / "run")], capsys,
          f"{data}/{split}.{slot}, line 7: not valid UTF-8 (byte 0xe9 at column 4)")
    with pytest.raises(DataError, match="line 7: not valid UTF-8"):
        encode_file(data / f"{split}.{slot}", WordVocab(["a"]))


def test_empty_and_long_lines_dropped_counted_and_logged(trained, tmp_path, caplog) -> None:
    data = copy_data(trained, tmp_path)
    write(data / "train.en", "a b\n\nc d e f g h\n  \ni j\n")
    write(data / "train.de", "x\ny\nz\nw\n\n")
    recipe = load_recipe(recipe_file(data, tmp_path))
    vocabs = {s: WordVocab(list("abcdefghijwxyz")) for s in ("en", "de", "parse")}
    with caplog.at_level(logging.INFO, logger="mtseq2seq"):
        loaded, stats = task_split(recipe, "en>de", "train", vocabs, max_len=4)
    assert (stats.lines, stats.kept, stats.empty, stats.too_long) == (5, 1, 3, 1)
    assert loaded.keep.tolist() == [0]
    assert "en>de train: 1/5 examples kept (3 empty dropped, 1 over the length limit dropped)" \
        in caplog.text


def test_missing_or_empty_split_file(trained, tmp_path, capsys) -> None:
    data = copy_data(trained, tmp_path)
    (data / "valid.de").unlink()
    write(data / "test.parse", "")
    fails(["prepare", recipe_file(data, tmp_path), "--run-dir", str(tmp_path / "run")], capsys,
          f"tasks.en>de.valid: target file '{data}/valid.de' not found (split 'valid' of slot 'de')",
          f"tasks.en>parse.test: target file '{data}/test.parse' is empty (split 'test' of "
          "slot 'parse')")
    write(data / "valid.de", "")  # the data reader refuses an empty split too, and blank lines
    recipe = load_recipe(recipe_file(data, tmp_path), check_files=False)
    vocabs = {s: WordVocab(["a"]) for s in ("en", "de", "parse")}
    with pytest.raises(DataError, match=r"tasks.en>de.valid: parallel files differ in length"):
        task_split(recipe, "en>de", "valid", vocabs, None)
    write(data / "valid.en", "")
    with pytest.raises(DataError, match=rf"tasks.en>de.valid: data file '{data}/valid.en' is empty"):
        task_split(recipe, "en>de", "valid", vocabs, None)
    (data / "valid.en").write_text("\n\n")
    (data / "valid.de").write_text("a\n\n")
    with pytest.raises(DataError, match=r"no usable examples .* \(0/2 examples kept \(2 empty"):
        task_split(recipe, "en>de", "valid", vocabs, None)


def test_vocabulary_that_does_not_match_the_checkpoint(trained, tmp_path, capsys,
                                                       monkeypatch) -> None:
    data, recipe, ckpt = trained
    run = tmp_path / "run"  # a run directory whose vocabularies differ: evaluate ignores them
    write(run / "vocab" / "de.words", "<pad>\n<unk>\n<s>\n</s>\nzz\nyy")
    assert main(["evaluate", str(recipe), "--checkpoint", str(ckpt)]) == 0
    state = checkpoint.load(ckpt)
    de = WordVocab.from_state(state["vocabs"]["de"])
    other = WordVocab(de.words[4:] + ["extra1", "extra2", "extra3"])
    assert vocab_problems({"de": state["vocabs"]["de"]}, {"de": other}) == [
        f"vocabulary of slot 'de' differs: the checkpoint's has {len(de)} entries (words), "
        f"this one {len(de) + 3} (words)"]
    state["vocabs"]["de"] = other.to_state()  # stored vocabulary and stored weights disagree
    bad = tmp_path / "bad_vocab.pt"
    torch.save(state, bad)
    fails(["evaluate", str(recipe), "--checkpoint", str(bad)], capsys,
          f"checkpoint '{bad}' does not fit the model of recipe '{recipe}' (trained with another "
          "recipe or vocabulary?)",
          f"decoders.de.embed.weight: [{len(de)}, 16] in the checkpoint, [{len(de) + 3}, 16] in "
          "the model")
    monkeypatch.setattr(sys, "stdin", io.StringIO("a dog\n"))
    fails(["translate", "--checkpoint", str(bad), "--task", "en>de"], capsys,
          f"checkpoint '{bad}' does not fit the model of its own stored recipe",
          "decoders.de.output.weight: ")
    state["vocabs"]["en"]["payload"] = b"not a sentencepiece model"
    torch.save(state, bad)
    fails(["evaluate", str(recipe), "--checkpoint", str(bad)], capsys,
          f"checkpoint '{bad}': the vocabulary of slot 'en' is damaged (RuntimeError: ")


# ---- bad recipes and arguments --------------------------------------------------------------
def test_checkpoint_of_another_recipe(trained, tmp_path, capsys) -> None:
    data, recipe, ckpt = trained
    run = ["--checkpoint", str(ckpt)]
    wider = recipe_file(data, tmp_path, "wide.yaml", modules={
        "type": "transformer", "transformer": {"dim": 32, "heads": 2, "ff": 32, "layers": 1}})
    fails(["evaluate", wider, *run], capsys, "does not fit the model of recipe",
          "decoders.de: the checkpoint's recipe has transformer {dim: 16, dropout: 0.0, ff: 32, "
          "heads: 2, layers: 1}, this recipe transformer {dim: 32, ff: 32, heads: 2, layers: 1}",
          "encoders.en.embed.weight: ", ", 16] in the checkpoint, [", ", 32] in the model")
    rnn = recipe_file(data, tmp_path, "rnn.yaml", modules={"type": "rnn", "rnn": {"dim": 16}})
    fails(["evaluate", rnn, *run], capsys, "encoders.en: the checkpoint's recipe has transformer "
          "{dim: 16, dropout: 0.0, ff: 32, heads: 2, layers: 1}, this recipe rnn {dim: 16}",
          "decoders.de: other layers or type: 22 weights only in the checkpoint (e.g. "
          "decoders.de.layers.0.", "12 only in the model (e.g. decoders.de.")
    raw = tiny_recipe(data)
    raw["vocabs"]["fr"], raw["decoders"]["fr"] = {"type": "words"}, {}
    raw["tasks"]["en>fr"] = {"kind": "translation", "encoder": "en", "decoder": "fr"}
    shutil.copy(data / "train.de", data / "valid.fr")  # a fresh copy: the module's data is shared
    for split in ("train", "test"):
        shutil.copy(data / "train.de", data / f"{split}.fr")
    fails(["evaluate", str(write_recipe(tmp_path / "fr.yaml", raw)), *run, "--tasks", "en>de"],
          capsys, f"checkpoint '{ckpt}' has no vocabulary for slot(s) fr that recipe")
    for split in ("train", "valid", "test"):
        (data / f"{split}.fr").unlink()


def test_unknown_task_names(trained, tmp_path, capsys, monkeypatch) -> None:
    _, recipe, ckpt = trained
    fails(["evaluate", str(recipe), "--checkpoint", str(ckpt),
           "--tasks", "en>de", "en>prase"], capsys,
          "--tasks: no task 'en>prase' in the recipe (tasks: en>de, en>parse; did you mean "
          "'en>parse'?)")
    monkeypatch.setattr(sys, "stdin", io.StringIO("a dog\n"))
    fails(["translate", "--checkpoint", str(ckpt), "--task", "de>en"], capsys,
          "--task: no task 'de>en' in the checkpoint (tasks: en>de, en>parse)")


def test_unreadable_checkpoints(trained, tmp_path, capsys, monkeypatch) -> None:
    _, recipe, ckpt = trained
    blob = ckpt.read_bytes()
    (tmp_path / "truncated.pt").write_bytes(blob[:len(blob) // 2])
    (tmp_path / "random.pt").write_bytes(os.urandom(5000))
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "folder.pt").mkdir()
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    cases = {"truncated.pt": "cannot be read (truncated or not a checkpoint)",
             "random.pt": "cannot be read (truncated or not a checkpoint)",
             "empty.pt": "is empty (0 bytes)", "folder.pt": "is a directory, not a checkpoint file",
             "missing.pt": "not found", "foreign.pt": "is not an mtseq2seq checkpoint"}
    for name, text in cases.items():
        path = tmp_path / name
        with pytest.raises(CheckpointError, match=re.escape(f"checkpoint '{path}' {text}")):
            checkpoint.load(path)
        fails(["evaluate", str(recipe), "--checkpoint", str(path)],
              capsys, f"checkpoint '{path}' {text}")
        monkeypatch.setattr(sys, "stdin", io.StringIO("a dog\n"))
        fails(["translate", "--checkpoint", str(path), "--task", "en>de"], capsys, text)


def test_recipe_mistakes_through_the_cli(trained, tmp_path, capsys) -> None:
    data, _, _ = trained
    path = write(tmp_path / "r.yaml", f"""
        data_dir: {data}
        name: 2024-05-01
        vocabs: {{en: {{type: words}}, de: &d {{type: words, extra: *d}}}}
        encoders: {{en: {{type: transformer, dim: -4}}}}
        decoders: {{de: {{type: transformer}}}}
        tasks: {{en>de: {{kind: [translation], encoder: en, decoder: de}}}}
        toy_data: 5
        train: {{lr: .nan, betas: [0.9], batch_tokens: 0}}
    """)
    fails(["graph", str(path)], capsys, "name: got datetime.date(2024, 5, 1) (date); only "
          "strings, numbers, true/false, null, lists and mappings are allowed (quote a date)",
          "vocabs.de.extra: refers to itself (a YAML alias inside its own anchor)")
    write(path, path.read_text().replace("2024-05-01", "x").replace(", extra: *d", ""))
    fails(["graph", str(path)], capsys, "tasks.en>de.kind: got ['translation'], expected a string",
          "toy_data: got 5, expected a mapping (or null)", "train.lr: got nan, expected a finite",
          "train.betas: got [0.9], expected two numbers in [0, 1)",
          "train.batch_tokens: got 0, expected at least 1", "encoders.en: these options do not "
          "build the encoder: RuntimeError: Trying to create tensor with negative dimension")
    fails(["graph", str(path), "--set", "train.lr=2020-13-45", "--set", "seed"], capsys,
          "--set 'train.lr=2020-13-45': value is not valid YAML (invalid YAML value: month must "
          "be in 1..12)", "--set 'seed': expected KEY.PATH=VALUE")
