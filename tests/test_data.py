"""Data: UTF-8 and alignment errors, cached encoding, dropping with counts, token batches."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mtseq2seq.data.batching import TaskIterator, bucket_batches, collate
from mtseq2seq.data.binarize import cache_path, encode_file
from mtseq2seq.data.datasets import read_lines
from mtseq2seq.errors import DataError
from mtseq2seq.recipe.config import VocabConfig
from mtseq2seq.recipe.loader import load_recipe
from mtseq2seq.vocab import EOS, WordVocab
from tests.conftest import task_split, tiny_recipe, write, write_recipe


def words_vocab(*lines: str) -> WordVocab:
    return WordVocab.train(iter(lines), VocabConfig(type="words"))


def test_non_utf8_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.en"
    path.write_bytes(b"fine\nalso fine\nbad \xff byte\n")
    with pytest.raises(DataError, match=r"bad.en, line 3: not valid UTF-8 \(byte 0xff at column 5\)"):
        list(read_lines(path))


def test_cache_reused_and_rebuilt_on_text_or_vocab_change(tmp_path: Path) -> None:
    text = write(tmp_path / "train.en", "a b\nb c a\n")
    vocab = words_vocab("a b c")
    first = encode_file(text, vocab)
    assert cache_path(text, vocab).is_file() and first.lengths().tolist() == [2, 3]
    stamp = cache_path(text, vocab).stat().st_mtime_ns
    assert encode_file(text, vocab).ids.tolist() == first.ids.tolist()
    assert cache_path(text, vocab).stat().st_mtime_ns == stamp  # reused, not rewritten
    write(text, "c\n")
    assert encode_file(text, vocab).lengths().tolist() == [1]  # text changed -> re-encoded
    other = words_vocab("c c c a")
    assert cache_path(text, other) != cache_path(text, vocab)
    assert encode_file(text, other).ids.tolist() == [other.index["c"]]


def test_split_drops_empty_and_long_lines_and_counts_them(tiny_corpus: Path, tmp_path: Path) -> None:
    write(tiny_corpus / "train.en", "a b\n\nc d e f g h\ni j\n")
    write(tiny_corpus / "train.de", "x\ny\nz\n\n")
    recipe = load_recipe(write_recipe(tmp_path / "r.yaml", tiny_recipe(tiny_corpus)))
    vocabs = {s: words_vocab("a b c d e f g h i j x y z") for s in ("en", "de", "parse")}
    data, stats = task_split(recipe, "en>de", "train", vocabs, max_len=4)
    assert (stats.lines, stats.kept, stats.empty, stats.too_long) == (4, 1, 2, 1)
    assert data.keep.tolist() == [0]


def test_parallel_length_mismatch_names_both_files(tiny_corpus: Path, tmp_path: Path) -> None:
    write(tiny_corpus / "train.de", "x\ny\n")
    recipe = load_recipe(write_recipe(tmp_path / "r.yaml", tiny_recipe(tiny_corpus)))
    vocabs = {s: words_vocab("a x y") for s in ("en", "de", "parse")}
    with pytest.raises(DataError, match=r"train.en' has 40 lines, '.*train.de' has 2"):
        task_split(recipe, "en>de", "train", vocabs, max_len=None)


def test_batches_respect_token_budget_and_iterator_resumes(tiny_corpus: Path, tmp_path: Path
                                                           ) -> None:
    lines = [" ".join("a" * 1 for _ in range(1 + i % 9)) for i in range(200)]
    write(tiny_corpus / "train.en", "\n".join(lines) + "\n")
    write(tiny_corpus / "train.de", "\n".join(lines) + "\n")
    recipe = load_recipe(write_recipe(tmp_path / "r.yaml", tiny_recipe(tiny_corpus)))
    vocabs = {s: words_vocab("a") for s in ("en", "de", "parse")}
    data, _ = task_split(recipe, "en>de", "train", vocabs, max_len=None)
    batches = bucket_batches(data, 40, torch.Generator().manual_seed(0))
    assert sorted(torch.cat(batches).tolist()) == list(range(200))  # every sentence once
    src_len = data.srcs[0].encoded.lengths()[data.keep] + 1  # EOS
    tgt_len = data.tgt.lengths()[data.keep] + 1  # BOS
    assert torch.equal(data.sizes(), torch.maximum(src_len, tgt_len))
    for rows in batches:
        assert len(rows) == 1 or torch.maximum(src_len, tgt_len)[rows].max() * len(rows) <= 40
    whole = TaskIterator(data, collate, 40, seed=3)
    expected = [next(whole).index.tolist() for _ in range(70)]  # crosses an epoch boundary
    first = TaskIterator(data, collate, 40, seed=3)
    head = [next(first).index.tolist() for _ in range(33)]
    resumed = TaskIterator(data, collate, 40, seed=3)
    resumed.load_state_dict(first.state_dict())
    assert head + [next(resumed).index.tolist() for _ in range(37)] == expected
    batch = next(resumed)
    assert (batch.src.gather(1, (batch.src.ne(0).sum(1, keepdim=True) - 1)) == EOS).all()
