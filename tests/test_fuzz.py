"""Property tests: random bytes, random YAML and mangled recipes give a result or a UserError, never
another exception (no traceback reaches a user from the recipe loader, the data reader, vocabulary
training or checkpoint loading)."""
from __future__ import annotations

import io
import itertools
import os
from pathlib import Path
from typing import Any, Callable

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mtseq2seq import checkpoint
from mtseq2seq.build.vocabs import load_or_train
from mtseq2seq.data.binarize import encode_file
from mtseq2seq.data.datasets import read_lines
from mtseq2seq.errors import UserError
from mtseq2seq.recipe.config import VocabConfig
from mtseq2seq.recipe.loader import load_recipe
from mtseq2seq.vocab import SentencePieceVocab, WordVocab
from tests.conftest import task_split, tiny_recipe, write, write_recipe

# Fixed examples by default (a CI run is repeatable); MTSEQ2SEQ_FUZZ=N explores N fresh random ones.
EXPLORE = int(os.environ.get("MTSEQ2SEQ_FUZZ", "0"))
FUZZ = settings(max_examples=EXPLORE or 150, deadline=None, derandomize=not EXPLORE,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FEWER = settings(FUZZ, max_examples=EXPLORE or 100)
KEYS = ["include", "name", "seed", "run_dir", "data_dir", "toy_data", "plugins", "vocabs", "modules",
        "encoders", "decoders", "tasks", "schedule", "train", "valid", "type", "size", "share",
        "kind", "encoder", "decoder", "ratio", "dim", "layers", "heads", "ff", "dropout", "en", "de",
        "en>de", "max_steps", "batch_tokens", "lr", "betas", "weights", "select", "temperature",
        "options", "transformer", "rnn", "train", "valid", "test", "metric", "beam"]
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
           | st.sampled_from(KEYS))
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6) | st.integers() | st.booleans(),
                      inner, max_size=4), max_leaves=25)
YAML_TOKENS = ["a:", "tasks:", "train:", " ", "  ", "\n", "- ", "[", "]", "{", "}", ", ", ": ",
               "&x ", "*x", "!!binary ", "!!set ", "!!python/object:os.system ", "2020-13-45",
               "2021-01-01", "1e-3", ".nan", "-.inf", "0x1F", "~", "null", "yes", "? ", "'", '"',
               "#", "%YAML 1.1\n", "---\n", "...\n", "\t", "|\n", "<<: *x", "en>de", "\x00", "é"]


def user_error_or_result(call: Callable[[], Any]) -> None:
    """Run ``call``; a UserError is a fine answer, any other exception fails the property."""
    try:
        call()
    except UserError as err:
        assert str(err).strip()  # a message the user can read


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz") / "data"
    lines = ["the cat sees a dog", "a dog runs", "the small cat sleeps"] * 4
    for split in ("train", "valid", "test"):
        write(folder / f"{split}.en", "\n".join(lines) + "\n")
        write(folder / f"{split}.de", "\n".join(line[::-1] for line in lines) + "\n")
        write(folder / f"{split}.parse", "\n".join("(S XX )S" for _ in lines) + "\n")
    return folder


def load_text(folder: Path, text: str | bytes, overrides: list[str] = ()) -> None:
    path = folder.parent / "fuzz.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    user_error_or_result(lambda: load_recipe(path, list(overrides), check_files=True))


# ---- recipes --------------------------------------------------------------------------------
@FUZZ
@given(raw=st.binary(max_size=300))
def test_random_bytes_as_recipe(corpus: Path, raw: bytes) -> None:
    load_text(corpus, raw)


@FUZZ
@given(tokens=st.lists(st.sampled_from(YAML_TOKENS), max_size=40))
def test_random_yaml_text_as_recipe(corpus: Path, tokens: list[str]) -> None:
    load_text(corpus, "".join(tokens))


@FUZZ
@given(value=VALUES)
def test_random_yaml_structure_as_recipe(corpus: Path, value: Any) -> None:
    load_text(corpus, yaml.safe_dump(value, allow_unicode=True))


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path into nested dicts and lists."""
    out = [prefix] if prefix else []
    items = node.items() if isinstance(node, dict) else enumerate(node) \
        if isinstance(node, list) else []
    for key, child in items:
        out += _paths(child, (*prefix, key))
    return out


def _mutate(raw: dict, path: tuple, delete: bool, value: Any) -> None:
    node = raw
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value


@FEWER
@given(data=st.data())
def test_mutated_valid_recipe(corpus: Path, data: st.DataObject) -> None:
    raw = tiny_recipe(corpus)
    raw["schedule"] = {"type": "temperature", "temperature": 2.0}
    raw["valid"]["weights"] = {"en>de": 2.0}
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(raw)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        _mutate(raw, path, data.draw(st.booleans()), data.draw(VALUES))
    load_text(corpus, yaml.safe_dump(raw, allow_unicode=True))


@FUZZ
@given(data=st.data())
def test_random_overrides(corpus: Path, data: st.DataObject) -> None:
    base = tiny_recipe(corpus)
    paths = [".".join(str(k) for k in p) for p in _paths(base) if all(isinstance(k, str) for k in p)]
    key = st.sampled_from(paths) | st.text(max_size=10)
    text = st.sampled_from(YAML_TOKENS) | st.text(max_size=10) | VALUES.map(
        lambda v: yaml.safe_dump(v, default_flow_style=True).strip())
    overrides = data.draw(st.lists(st.one_of(key.flatmap(lambda k: text.map(lambda t: f"{k}={t}")),
                                             st.text(max_size=15)), max_size=4))
    load_text(corpus, yaml.safe_dump(base), overrides)


# ---- data -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def vocabs(corpus: Path) -> dict:
    sp = SentencePieceVocab.train(read_lines(corpus / "train.en"),
                                  VocabConfig(type="sentencepiece", size=30))
    words = WordVocab.train(read_lines(corpus / "train.de"), VocabConfig(type="words"))
    return {"sp": sp, "words": words}


RUNS = itertools.count()
LINES = st.lists(st.binary(max_size=30) | st.sampled_from(
    [b"", b"a b", b"\xff", b"\r", b"\x00", b"caf\xc3\xa9", b"\xc3", b"\xe2\x80\xa8", b" " * 5]),
    max_size=8)


@FUZZ
@given(chunks=LINES)
def test_random_bytes_read_and_encoded(tmp_path_factory: pytest.TempPathFactory, vocabs: dict,
                                       chunks: list[bytes]) -> None:
    path = tmp_path_factory.getbasetemp() / "bytes" / "train.en"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(b"\n".join(chunks))
    user_error_or_result(lambda: list(read_lines(path)))
    for vocab in vocabs.values():
        user_error_or_result(lambda vocab=vocab: encode_file(path, vocab))


@FEWER
@given(src=LINES, tgt=LINES, max_len=st.none() | st.integers(0, 8))
def test_random_bytes_loaded_as_a_split(corpus: Path, vocabs: dict, src: list[bytes],
                                        tgt: list[bytes], max_len: int | None) -> None:
    folder = corpus.parent / "split"
    if not folder.exists():
        folder.mkdir()
        for name in ("valid.en", "valid.de", "test.en", "test.de", "test.parse", "valid.parse",
                     "train.parse"):
            (folder / name).write_text("a\n")
    (folder / "train.en").write_bytes(b"\n".join(src))
    (folder / "train.de").write_bytes(b"\n".join(tgt))
    recipe = load_recipe(write_recipe(corpus.parent / "split.yaml", tiny_recipe(folder)),
                         check_files=False)  # empty files are the data reader's to refuse here
    slots = {"en": vocabs["sp"], "de": vocabs["words"], "parse": vocabs["words"]}
    user_error_or_result(lambda: task_split(recipe, "en>de", "train", slots, max_len))


@settings(FUZZ, max_examples=EXPLORE or 25)
@given(chunks=LINES, kind=st.sampled_from(["sentencepiece", "words"]), size=st.integers(1, 60))
def test_random_bytes_train_a_vocabulary(corpus: Path, chunks: list[bytes], kind: str,
                                         size: int) -> None:
    folder = corpus.parent / "vocab_data"
    folder.mkdir(exist_ok=True)
    for split in ("train", "valid", "test"):
        for slot in ("en", "de", "parse"):
            (folder / f"{split}.{slot}").write_bytes(b"\n".join(chunks))
    raw = tiny_recipe(folder)
    raw["vocabs"]["en"] = {"type": kind, "size": max(size, 8)}
    recipe = load_recipe(write_recipe(corpus.parent / "vocab.yaml", raw), check_files=False)
    run_dir = corpus.parent / f"vocab_run_{next(RUNS)}"
    user_error_or_result(lambda: load_or_train(recipe, run_dir))
    user_error_or_result(lambda: load_or_train(recipe, run_dir))  # reads what it wrote


# ---- checkpoints ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def checkpoint_bytes() -> bytes:
    buffer = io.BytesIO()
    torch.save({"format": checkpoint.FORMAT, "step": 3, "model": {"w": torch.arange(64.0)},
                "recipe": {"name": "x"}, "vocabs": {}}, buffer)
    return buffer.getvalue()


@FUZZ
@given(data=st.data())
def test_damaged_checkpoint(tmp_path_factory: pytest.TempPathFactory, checkpoint_bytes: bytes,
                           data: st.DataObject) -> None:
    blob = bytearray(checkpoint_bytes[:data.draw(st.integers(0, len(checkpoint_bytes)))])
    for _ in range(data.draw(st.integers(0, 4)) if blob else 0):
        blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
    path = tmp_path_factory.getbasetemp() / "damaged.pt"
    path.write_bytes(bytes(blob))
    user_error_or_result(lambda: checkpoint.load(path))
