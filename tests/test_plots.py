"""Learning-curve plots of run directories (`plots.py`) and attention heatmaps (`attention_plots.py`,
`Decoder.cross_attention`): two tiny runs trained for a few updates, then drawn."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest
import torch

from mtseq2seq import plots
from mtseq2seq.__main__ import main
from mtseq2seq.attention_plots import plot_attention, translation_pairs
from mtseq2seq.errors import UserError
from mtseq2seq.hypotheses import Hypothesis
from mtseq2seq.modules.rnn import RNNDecoder, RNNEncoder
from mtseq2seq.modules.transformer import TransformerDecoder, TransformerEncoder
from tests.conftest import tiny_recipe, write_recipe, write_tiny_corpus

pytestmark = pytest.mark.usefixtures("one_thread")
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two runs of 4 updates, validated (and decoded) at updates 2 and 4: a Transformer, an RNN."""
    root = tmp_path_factory.mktemp("plots")
    data = write_tiny_corpus(root / "data")
    made = []
    for family in ("transformer", "rnn"):
        raw = tiny_recipe(data)
        raw["modules"].update(type=family, rnn={"dim": 16, "embed_dim": 16, "layers": 1,
                                                "dropout": 0.0})
        raw["train"].update(fast_paths="default")
        raw["valid"].update(decode_sentences=8)
        recipe = write_recipe(root / f"{family}.yaml", raw)
        run_dir = root / family
        assert main(["train", str(recipe), "--run-dir", str(run_dir)]) == 0
        made.append(run_dir)
    return made[0], made[1]


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > 1024, path


def plot_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    plots.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_plot_one_run_writes_every_curve(runs, capsys) -> None:
    transformer, _ = runs
    assert plots.run(plot_args(str(transformer))) == 0
    printed = capsys.readouterr().out.split()
    names = sorted(Path(p).name for p in printed)
    # en>de's first decoded metric is bleu, en>parse's tree_f1: one file for both metrics
    assert names == ["train_loss.png", "valid_loss.png", "valid_metric.png"]
    for path in printed:
        assert Path(path).parent == transformer / "plots"
        assert_png(Path(path))


def test_plot_overlays_runs_and_filters_tasks(runs, tmp_path) -> None:
    transformer, rnn = runs
    run_objects = plots.load_runs([transformer, rnn])
    assert [run.name for run in run_objects] == ["transformer", "rnn"]
    assert plots.pick_metrics(run_objects, ["en>de", "en>parse"], None) == \
        {"en>de": "bleu", "en>parse": "tree_f1"}
    written = plots.plot_runs([transformer, rnn], tasks=["en-de"], out_dir=tmp_path / "both")
    assert sorted(p.name for p in written) == ["train_loss.png", "valid_bleu.png", "valid_loss.png"]
    for path in written:
        assert_png(path)
    assert plots.pick_tasks(run_objects, ["en>parse,en-de"]) == ["en>parse", "en>de"]
    with pytest.raises(UserError, match=r"--task: no task 'en>fr' in the metrics of .*"
                                        r"transformer.metrics\.jsonl.*did you mean"):
        plots.plot_runs([transformer, rnn], tasks=["en>fr"], out_dir=tmp_path / "none")
    chrf = plots.plot_runs([transformer, rnn], metric="chrf", out_dir=tmp_path / "chrf")
    assert [p.name for p in chrf][-1] == "valid_chrf.png"  # en>parse's panel: no chrf records
    with pytest.raises(UserError, match=r"--metric meteor: no validation record of en>de, "
                                        r"en>parse has it \(known: acc, bleu, chrf, ppl"):
        plots.plot_runs([transformer], metric="meteor", out_dir=tmp_path / "none")


def test_plot_fails_clearly_without_records(tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match=r"empty: the run directory is empty; expected .*"
                                        r"empty.metrics\.jsonl"):
        plots.plot_runs([empty])
    (empty / "train.log").write_text("x\n")
    with pytest.raises(UserError, match=r"no metrics\.jsonl in the run directory"):
        plots.plot_runs([empty])
    (empty / "metrics.jsonl").write_text('{"step": 1, "split": "diagnose"}\n{"torn\n')
    with pytest.raises(UserError, match="no training or validation records"):
        plots.plot_runs([empty])
    with pytest.raises(UserError, match="no such run directory"):
        plots.plot_runs([tmp_path / "missing"])


def test_plot_names_the_extra_without_matplotlib(runs, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # its import now fails
    with pytest.raises(UserError, match=r"needs matplotlib.*pip install mtseq2seq\[plot\]"):
        plots.plot_runs([runs[0]])


@pytest.mark.parametrize("family", ["transformer", "rnn"])
def test_cross_attention_rows_are_distributions_over_real_source(family: str) -> None:
    torch.manual_seed(0)
    if family == "transformer":
        options = {"dim": 16, "layers": 2, "heads": 2, "ff": 32, "dropout": 0.0}
        encoder, decoder = TransformerEncoder(20, 0, **options), TransformerDecoder(20, 0, **options)
    else:
        options = {"dim": 16, "embed_dim": 8, "layers": 2, "dropout": 0.0}
        encoder, decoder = RNNEncoder(20, 0, **options), RNNDecoder(20, 0, **options)
    encoder.eval(), decoder.eval()
    src = torch.tensor([[5, 6, 7, 9, 3], [8, 4, 3, 0, 0]])  # (B, S), the second padded
    tgt_in = torch.tensor([[2, 5, 6, 7], [2, 7, 0, 0]])  # (B, T)
    memory = encoder(src, src.ne(0))
    before = decoder(tgt_in, memory)
    weights = decoder.cross_attention(tgt_in, memory)
    assert weights.shape == (2, 4, 5)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4))
    assert torch.all(weights[1, :, 3:] == 0) and torch.all(weights >= 0)
    torch.testing.assert_close(decoder(tgt_in, memory), before)  # forward is left as it was
    if family == "transformer":  # the layer's weights reproduce its fused attention's output
        layer = decoder.layers[-1].cross_attn
        seen = []
        handle = layer.register_forward_hook(lambda module, args, out: seen.append((args, out)))
        decoder(tgt_in, memory)
        handle.remove()
        (x, k, v, mask), out = seen[-1]
        per_head = layer.weights(x, k, mask)  # (B, H, T, S)
        rebuilt = layer.out((per_head @ v).transpose(1, 2).flatten(2))  # (B, T, D)
        torch.testing.assert_close(rebuilt, out)
        every = decoder.cross_attention(tgt_in, memory, layer=None)
        torch.testing.assert_close(every.sum(-1), torch.ones(2, 4))


def test_heatmaps_of_translations(runs, tmp_path) -> None:
    from mtseq2seq.build.checkpoint import load_checkpoint

    for run_dir in runs:
        loaded = load_checkpoint(run_dir / "checkpoint_last.pt", torch.device("cpu"))
        lines = ["a dog runs", "", "the cat sees a dog"]
        hyps = [[Hypothesis([5, 6], -1.0, -1.0)], [], [Hypothesis([], -1.0, -1.0)]]
        pairs = translation_pairs(loaded.model, loaded.vocabs, ("en", "de"), lines, hyps,
                                  loaded.tasks["en>de"])
        assert sorted(pairs) == [0, 2] and len(pairs[0][0]) == 4  # 3 words + </s>
        out = tmp_path / run_dir.name
        written = plot_attention(loaded.model, "en>de", pairs, out, loaded.vocabs)
        assert [p.name for p in written] == ["attention_en-de_0.png", "attention_en-de_2.png"]
        for path in written:
            assert_png(path)
        pair_files = plot_attention(loaded.model, ("en", "parse"), [pairs[0]], out,
                                    loaded.vocabs, limit=1)
        assert [p.name for p in pair_files] == ["attention_en-parse_0.png"]


def test_translate_plot_attention_writes_a_heatmap_per_line(runs, tmp_path, capsys,
                                                            monkeypatch) -> None:
    import io
    import sys

    transformer, _ = runs
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a dog runs\nthe cat\n")))
    folder = tmp_path / "attention"
    assert main(["translate", "--checkpoint", str(transformer / "checkpoint_last.pt"),
                 "--task", "en-de", "--beam", "1", "--plot-attention", str(folder)]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2
    assert sorted(p.name for p in folder.iterdir()) == ["attention_en-de_0.png",
                                                        "attention_en-de_1.png"]
    assert "attention heatmap:" in captured.err
    for path in folder.iterdir():
        assert_png(path)
