"""Tests for data_scripts/multi30k_features.py (official Multi30k image features -> {split}.img.npy).

Tiny synthetic feature files (distinct values, so a reordered row or region shows) and matching
text files are written in tmp_path; nothing is downloaded and no real features are needed.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import loaded_data_script, run_data_script

SIZES = {"train": 6, "val": 3, "test_2016_flickr": 2}


def features(n: int, *dims: int, dtype: str = "float32") -> np.ndarray:
    """An (n, *dims) array whose every value differs (and is exact in float16)."""
    return (np.arange(n * int(np.prod(dims))) % 2039 / 8).reshape(n, *dims).astype(dtype)


def make_corpus(root: Path, dims: tuple[int, ...], name: str = "{split}-resnet50-res4frelu.npy",
                sizes: dict[str, int] = SIZES) -> dict[str, np.ndarray]:
    """Features in root/feat, text (en, de) in root/out as multi30k.py writes it; returns inputs."""
    (root / "feat").mkdir()
    (root / "out").mkdir()
    arrays = {}
    for split, n in sizes.items():
        arrays[split] = features(n, *dims)
        np.save(root / "feat" / name.replace("{split}", split), arrays[split])
        for lang in ("en", "de"):
            (root / "out" / f"{split}.{lang}").write_text(
                "".join(f"{lang} {split} caption {i}\n" for i in range(n)), encoding="utf-8")
    return arrays


@pytest.fixture
def script():
    """data_scripts/multi30k_features.py loaded in this process."""
    with loaded_data_script("multi30k_features") as module:
        yield module


def run(script, root: Path, *args: str) -> int:
    return script.run_cli(script.main, ["--from", str(root / "feat"), "--out", str(root / "out"),
                                        *args])


def output(root: Path, split: str) -> np.ndarray:
    return np.load(root / "out" / f"{split}.img.npy")


def test_regions_layout_is_copied_exactly_in_order(script, tmp_path, capsys):
    arrays = make_corpus(tmp_path, (49, 8))
    for _ in range(2):  # idempotent: a second run gives the same files
        assert run(script, tmp_path) == 0
    for split, array in arrays.items():
        mine = output(tmp_path, split)
        assert mine.dtype == np.float32 and mine.shape == (SIZES[split], 49, 8)
        np.testing.assert_array_equal(mine, array)
    printed = capsys.readouterr()
    assert "train" in printed.out and "6 x 49 x 8" in printed.out
    assert "count only" in printed.err  # no image-name lists in this corpus
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no temp files


def test_nchw_maps_become_regions_row_major(script, tmp_path):
    arrays = make_corpus(tmp_path, (8, 7, 7))
    assert run(script, tmp_path) == 0
    for split, array in arrays.items():
        expected = array.reshape(len(array), 8, 49).transpose(0, 2, 1)  # region k = h * 7 + w
        np.testing.assert_array_equal(output(tmp_path, split), expected)
    assert output(tmp_path, "val")[1, 7 * 2 + 3, 5] == arrays["val"][1, 5, 2, 3]


def test_nhwc_needs_no_transpose_and_ambiguous_maps_ask_for_layout(script, tmp_path, capsys):
    arrays = make_corpus(tmp_path, (7, 7, 8))
    assert run(script, tmp_path) == 0
    np.testing.assert_array_equal(output(tmp_path, "train"), arrays["train"].reshape(6, 49, 8))
    np.save(tmp_path / "feat" / "val-resnet50-res4frelu.npy", features(3, 7, 7, 7))
    assert run(script, tmp_path) == 2
    assert "--layout nchw" in capsys.readouterr().err
    assert run(script, tmp_path, "--layout", "nchw") == 0  # every file read as (N, C, H, W) now
    np.testing.assert_array_equal(output(tmp_path, "train"),
                                  arrays["train"].reshape(6, 7, 56).transpose(0, 2, 1))


def test_pooled_vectors_get_one_region(script, tmp_path):
    arrays = make_corpus(tmp_path, (8,), name="{split}-resnet50-avgpool.npy")
    assert run(script, tmp_path) == 0
    mine = output(tmp_path, "train")
    assert mine.shape == (6, 1, 8)
    np.testing.assert_array_equal(mine[:, 0], arrays["train"])


def test_pool_mean_and_float16(script, tmp_path):
    arrays = make_corpus(tmp_path, (8, 7, 7))
    assert run(script, tmp_path, "--pool", "mean", "--dtype", "float16") == 0
    mine = output(tmp_path, "val")
    expected = arrays["val"].astype(np.float64).mean(axis=(2, 3))[:, None, :].astype(np.float16)
    assert mine.dtype == np.float16 and mine.shape == (3, 1, 8)
    np.testing.assert_array_equal(mine, expected)
    assert run(script, tmp_path, "--dtype", "float16") == 0
    np.testing.assert_array_equal(output(tmp_path, "val").astype(np.float32),
                                  arrays["val"].reshape(3, 8, 49).transpose(0, 2, 1))


def test_count_mismatch_is_one_clear_error(tmp_path):
    make_corpus(tmp_path, (49, 8))
    np.save(tmp_path / "feat" / "val-resnet50-res4frelu.npy", features(4, 49, 8))
    result = run_data_script("multi30k_features.py", "--from", tmp_path / "feat",
                             "--out", tmp_path / "out")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "val-resnet50-res4frelu.npy has 4 feature rows (shape (4, 49, 8))" in result.stderr
    assert str(tmp_path / "out" / "val.en") + " has 3 lines" in result.stderr
    assert not list((tmp_path / "out").glob("*.npy"))  # nothing written before all checks pass


@pytest.mark.parametrize("shape, args, message", [
    ((6, 2, 7, 7, 8), [], "is not a feature layout"),
    ((6, 0, 8), [], "is not a feature layout"),
    ((6, 392), ["--layout", "nchw"], "--layout nchw needs a 4-D array"),
])
def test_malformed_shape_is_one_clear_error(tmp_path, shape, args, message):
    make_corpus(tmp_path, (49, 8))
    np.save(tmp_path / "feat" / "train-resnet50-res4frelu.npy", np.zeros(shape, np.float32))
    result = run_data_script("multi30k_features.py", "--from", tmp_path / "feat",
                             "--out", tmp_path / "out", *args)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "train-resnet50-res4frelu.npy: " in result.stderr
    assert f"shape {shape}" in result.stderr and message in result.stderr


def test_image_list_is_checked_and_required_when_named(script, tmp_path, capsys):
    make_corpus(tmp_path, (4,))
    lists = tmp_path / "image_splits"
    lists.mkdir()
    for split, n in SIZES.items():
        (lists / f"{split}.txt").write_text("".join(f"{split}{i}.jpg\n" for i in range(n)))
    assert run(script, tmp_path, "--images", str(lists)) == 0
    assert "aligned with val.txt and val.en" in capsys.readouterr().out
    (lists / "val.txt").write_text("one.jpg\n")
    assert run(script, tmp_path, "--images", str(lists)) == 2
    assert f"{lists / 'val.txt'} lists 1 images" in capsys.readouterr().err
    (lists / "val.txt").unlink()
    assert run(script, tmp_path, "--images", str(lists)) == 2
    assert "no image-name list for split val" in capsys.readouterr().err


def test_file_choice_extra_splits_and_missing_text(script, tmp_path, capsys):
    arrays = make_corpus(tmp_path, (4,), sizes={**SIZES, "test_2017_flickr": 5})
    np.save(tmp_path / "feat" / "train-resnet50-avgpool.npy", features(6, 2))
    assert run(script, tmp_path) == 2
    assert "several feature files for split train" in capsys.readouterr().err
    assert run(script, tmp_path, "--name", "{split}-resnet50-res4frelu.npy") == 0
    np.testing.assert_array_equal(output(tmp_path, "test_2017_flickr")[:, 0],
                                  arrays["test_2017_flickr"])  # found beside the default splits
    (tmp_path / "out" / "val.en").unlink()
    (tmp_path / "out" / "val.de").unlink()
    assert run(script, tmp_path, "--name", "{split}-resnet50-res4frelu.npy") == 2
    assert "no text for split val" in capsys.readouterr().err


def test_float16_overflow_and_missing_numpy_are_clear(script, tmp_path, capsys, monkeypatch):
    make_corpus(tmp_path, (4,))
    np.save(tmp_path / "feat" / "val-resnet50-res4frelu.npy", np.full((3, 4), 1e6, np.float32))
    assert run(script, tmp_path, "--dtype", "float16") == 2
    assert "overflows float16; use --dtype float32" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "numpy", None)
    with pytest.raises(script.PrepError, match="pip install numpy"):
        script.load_numpy()


def test_help_says_why_it_does_not_download(script, capsys):
    with pytest.raises(SystemExit):
        script.parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "does not download" in text and "several GB" in text
    with pytest.raises(SystemExit):
        script.parse_args([])  # --from is required


def test_the_captioning_recipe_trains_on_the_scripts_output(tmp_path: Path) -> None:
    """recipes/multi30k/many_to_one_captioning.yaml on the script's output of tiny synthetic
    features (the real ones are not here): it checks, trains a few updates and scores img>en."""
    import json

    from mtseq2seq.__main__ import main

    root = Path(__file__).resolve().parents[1]
    sizes = {"train": 24, "val": 4, "test_2016_flickr": 4}
    make_corpus(tmp_path, (2048,), name="{split}-resnet50-avgpool.npy", sizes=sizes)
    out = tmp_path / "out"
    assert run_data_script("multi30k_features.py", "--from", tmp_path / "feat", "--out", out
                           ).returncode == 0
    assert np.load(out / "train.img.npy").shape == (24, 1, 2048)
    tiny = ["--set", f"data_dir={out}", "--set", "vocabs.en={type: words}",
            "--set", "vocabs.de={type: words}", "--set", "vocabs.fr={type: words}",
            "--set", "vocabs.cs={type: words}", "--set", "train.max_steps=3",
            "--set", "train.warmup=1", "--set", "valid.every=3", "--set", "valid.beam=1",
            "--set", "modules.transformer={dim: 16, layers: 1, heads: 2, ff: 32}",
            "--set", "encoders.img={type: features, input_dim: 2048, dim: 16}"]
    run = tmp_path / "run"
    assert main(["train", str(root / "recipes/multi30k/many_to_one_captioning.yaml"),
                 "--run-dir", str(run), *tiny]) == 0
    scores = json.loads((run / "checkpoint_best.test_2016_flickr.scores.json").read_text())["scores"]
    assert {s["task"]: s["metric"] for s in scores} == {"de>en": "bleu", "img>en": "bleu",
                                                         "en>en": "bleu"}
