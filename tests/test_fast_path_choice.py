"""Fast paths chosen by measuring (`fast_paths.py`): every candidate computes what the built-in
path does, the choice is cached per CPU model and torch version (and measured anew when either
changes), a corrupt cache is rebuilt with a warning, and `train` logs what it chose."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch

from mtseq2seq import fast_paths
from mtseq2seq.__main__ import main
from mtseq2seq.fast_paths import Choice, Shapes
from mtseq2seq.modules import DECODERS, ENCODERS
from mtseq2seq.modules import attention as attention_module
from mtseq2seq.modules import linear as linear_module
from tests.conftest import tiny_recipe, write_recipe, write_tiny_corpus
from tests.test_modules import build, memory_of, padded_batch

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(autouse=True)
def built_in_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A cache of the test's own; the built-in paths restored afterwards (conftest does too)."""
    monkeypatch.setenv("MTSEQ2SEQ_CACHE_DIR", str(tmp_path / "cache"))
    yield
    fast_paths.restore_defaults()


def encoder_decoder_grads(dtype_autocast: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Logits of a tiny Transformer encoder-decoder (teacher forced, dropout 0, train mode) and
    the gradients of every parameter; the same weights and inputs on every call."""
    encoder = build(ENCODERS, "transformer", seed=3, dropout=0.0)
    decoder = build(DECODERS, "transformer", seed=4, dropout=0.0)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype_autocast):
        logits = decoder(padded_batch([5, 3, 4], seed=2), memory_of(encoder, [6, 2, 4]))  # (B, T, V)
    (logits.float().square().mean()).backward()
    grads = [p.grad for m in (encoder, decoder) for p in m.parameters() if p.grad is not None]
    return logits.detach().float(), grads


@pytest.mark.parametrize("onednn", [True, False])
@pytest.mark.parametrize("fused", [True, False])
def test_every_fp32_path_gives_the_built_in_outputs_and_gradients(onednn: bool, fused: bool
                                                                    ) -> None:
    reference, ref_grads = encoder_decoder_grads(False)
    linear_module.use_onednn(onednn)
    attention_module.use_fused_attention(torch.float32, fused)
    logits, grads = encoder_decoder_grads(False)
    assert torch.allclose(logits, reference, atol=1e-5)
    assert len(grads) == len(ref_grads)
    assert all(torch.allclose(g, r, atol=1e-5, rtol=1e-4) for g, r in zip(grads, ref_grads))


@pytest.mark.parametrize("fused", [True, False])
def test_both_bf16_attention_paths_agree(fused: bool) -> None:
    reference, ref_grads = encoder_decoder_grads(True)
    attention_module.use_fused_attention(torch.bfloat16, fused)
    logits, grads = encoder_decoder_grads(True)
    # bf16 rounding differs between the kernels: a few bf16 ulps of the logits' scale
    assert (logits - reference).abs().max() <= 0.03 * reference.abs().max()
    assert all((g - r).abs().max() <= 0.05 * r.abs().max() + 1e-6 for g, r in zip(grads, ref_grads))


def test_the_other_path_must_win_by_more_than_the_margin() -> None:
    close = fast_paths._pick("linear", {"onednn": 1.00, "aten": 0.99}, "onednn")
    assert (close.pick, close.other) == ("onednn", "aten") and close.margin < 1.0
    assert "built in" in close.describe()
    clear = fast_paths._pick("linear", {"onednn": 1.0, "aten": 0.5}, "onednn")
    assert (clear.pick, clear.margin) == ("aten", 2.0)
    assert "2.00x faster than onednn" in clear.describe()


def tiny_model() -> torch.nn.Module:
    return torch.nn.ModuleDict({"encoder": build(ENCODERS, "transformer"),
                                "decoder": build(DECODERS, "transformer")})


def test_measure_times_both_candidates_at_the_models_shapes() -> None:
    shapes = Shapes.of(tiny_model(), batch_tokens=64)
    assert shapes.linears and shapes.heads and shapes.rows == 64
    fp32 = fast_paths.measure(shapes, "fp32")
    assert [c.knob for c in fp32] == ["linear", "attention"]
    assert {fp32[0].pick, fp32[0].other} == {"onednn", "aten"}
    assert {fp32[1].pick, fp32[1].other} == {"fused", "written"}
    assert all(c.margin > 0 for c in fp32)
    assert [c.knob for c in fast_paths.measure(shapes, "bf16")] == ["attention"]  # no fp32 products


def counting_measure(monkeypatch: pytest.MonkeyPatch, pick: str) -> list[int]:
    """Replace the timing with a fixed answer (``pick`` for the products), counting the calls."""
    calls = []

    def measure(shapes: Shapes, precision: str) -> list[Choice]:
        calls.append(1)
        return [Choice("linear", pick, "onednn" if pick == "aten" else "aten", 1.5)]
    monkeypatch.setattr(fast_paths, "measure", measure)
    return calls


def test_the_choice_is_cached_per_cpu_model_and_torch_version(monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    calls = counting_measure(monkeypatch, "aten")
    model = tiny_model()
    assert fast_paths.choose(model, 64, "fp32")[1] is True and len(calls) == 1
    assert linear_module.onednn_wanted() is False  # applied
    linear_module.use_onednn(True)
    choices, measured = fast_paths.choose(model, 64, "fp32")
    assert measured is False and len(calls) == 1 and choices[0].pick == "aten"
    assert linear_module.onednn_wanted() is False  # the cached choice applied too
    monkeypatch.setattr(fast_paths, "cpu_model", lambda: "Another CPU 9000")
    assert fast_paths.choose(model, 64, "fp32")[1] is True and len(calls) == 2
    monkeypatch.setattr(torch, "__version__", "9.9.9")
    assert fast_paths.choose(model, 64, "fp32")[1] is True and len(calls) == 3
    assert fast_paths.choose(model, 64, "fp32")[1] is False and len(calls) == 3
    entries = json.loads(fast_paths.cache_path().read_text())["entries"]
    assert len(entries) == 3  # the first machine's entry is still there


def test_a_corrupt_cache_is_rebuilt_with_a_warning(monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    calls = counting_measure(monkeypatch, "onednn")
    path = fast_paths.cache_path()
    path.parent.mkdir(parents=True)
    path.write_text('{"entries": [1, 2', encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="mtseq2seq.fast_paths"):
        assert fast_paths.choose(tiny_model(), 64, "fp32")[1] is True
    assert len(calls) == 1 and "not a valid cache" in caplog.text and str(path) in caplog.text
    assert len(json.loads(path.read_text())["entries"]) == 1


def test_train_logs_the_choice_and_default_skips_it(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    counting_measure(monkeypatch, "aten")
    data = write_tiny_corpus(tmp_path / "data")
    raw = tiny_recipe(data, train={"max_steps": 2, "batch_tokens": 200, "warmup": 1,
                                   "precision": "fp32", "threads": 1},
                      valid={"every": 2, "decode": False})
    raw["tasks"] = {"en>de": raw["tasks"]["en>de"]}
    raw["decoders"] = {"de": {}}
    recipe = write_recipe(tmp_path / "r.yaml", raw)
    assert main(["train", str(recipe), "--run-dir", str(tmp_path / "tuned")]) == 0
    log = (tmp_path / "tuned" / "train.log").read_text()
    assert "fast paths (" in log and "linear: aten (1.50x faster than onednn)" in log
    linear_module.use_onednn(True)
    assert main(["train", str(recipe), "--run-dir", str(tmp_path / "plain"),
                 "--set", "train.fast_paths=default"]) == 0
    assert "fast paths" not in (tmp_path / "plain" / "train.log").read_text()
    assert linear_module.onednn_wanted() is True


def test_tune_measures_again_and_prints_the_choice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture) -> None:
    calls = counting_measure(monkeypatch, "onednn")
    data = write_tiny_corpus(tmp_path / "data")
    raw = tiny_recipe(data, train={"max_steps": 2, "precision": "fp32", "threads": 1})
    recipe = write_recipe(tmp_path / "r.yaml", raw)
    for _ in range(2):  # a cached choice is measured again
        assert main(["tune", str(recipe), "--run-dir", str(tmp_path / "run")]) == 0
    assert len(calls) == 2
    out = capsys.readouterr().out
    assert out.count("measured now") == 2 and "linear: onednn (1.50x faster than aten)" in out
