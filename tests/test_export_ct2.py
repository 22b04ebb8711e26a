"""`mtseq2seq export --format ctranslate2`: CTranslate2's greedy search gives our greedy tokens.

Two tiny models trained for a few dozen updates (word vocabularies; SentencePiece with a target tag,
task embeddings on both sides and tied output embeddings) are exported, and every test sentence is
decoded by both, token for token, CTranslate2 run as the exported README says (the tag before the
source, one ``max_decoding_length`` per group of sentences); the teacher-forced log-probs agree
too. Then the refusals: an rnn encoder, a multi-source task, a decoder with a weight the mapping
does not know, a missing ctranslate2, a full folder.
"""
from __future__ import annotations

import dataclasses
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import torch

from mtseq2seq.__main__ import main
from mtseq2seq.build.checkpoint import Loaded, load_checkpoint
from mtseq2seq.errors import UserError
from mtseq2seq.export_ct2 import INFO_FILE, export_ctranslate2, tokens_of
from mtseq2seq.inference import translate_lines
from mtseq2seq.specials import BOS, EOS, PAD
from tests.conftest import SENTENCES, tiny_recipe, write_recipe, write_tiny_corpus

ctranslate2 = pytest.importorskip(
    "ctranslate2", reason="the CTranslate2 export needs ctranslate2: pip install mtseq2seq[ctranslate2]")
pytestmark = pytest.mark.usefixtures("one_thread")

LINES = [*SENTENCES, "the dog sees a cat", "a cat sings loudly", "zebra eats the bird", "cat",
         "dog dog dog dog dog dog"]  # seen, recombined, unknown words, short, repetitive
CPU = torch.device("cpu")


def train(root: Path, steps: int, **changes) -> Path:
    """checkpoint_last.pt of a tiny en>de + en>parse recipe (with ``changes``) after ``steps``."""
    raw = tiny_recipe(write_tiny_corpus(root / "data"), **changes)
    raw["train"].update(max_steps=steps, lr=1e-2, warmup=5, lr_schedule="constant",
                        fast_paths="default")
    raw["valid"].update(every=steps, decode=False)
    assert main(["train", str(write_recipe(root / "r.yaml", raw)), "--run-dir",
                 str(root / "run")]) == 0
    return root / "run" / "checkpoint_last.pt"


@pytest.fixture(scope="module")
def words_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train(tmp_path_factory.mktemp("words"), 40)


@pytest.fixture(scope="module")
def spm_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    recipe = tiny_recipe(Path("unused"))
    vocabs = {**recipe["vocabs"], "en": {"type": "sentencepiece", "size": 40},
              "de": {"type": "sentencepiece", "size": 40}}
    tasks = recipe["tasks"]
    tasks["en>de"].update(tgt_tag="<2de>", embedding="both")
    tasks["en>parse"].update(embedding="encoder")
    return train(tmp_path_factory.mktemp("spm"), 40, vocabs=vocabs, tasks=tasks,
                 decoders={"de": {"tie_embeddings": True}, "parse": {}})


def export(*args: str) -> int:
    """`mtseq2seq export`, as the command line runs it (errors raised, not printed)."""
    from mtseq2seq.__main__ import build_parser, run_command

    return run_command(build_parser().parse_args(["export", *args]))


def ours(loaded: Loaded, name: str, lines: list[str]) -> list[list[int]]:
    """`mtseq2seq translate --task NAME --beam 1`'s tokens of every line."""
    task = loaded.tasks[name]
    out: list[list[int]] = [[] for _ in lines]
    for row, hyps in translate_lines(loaded.model, loaded.vocabs, (task.encoder, task.decoder),
                                     lines, 1, 0.0, 1, 64, task.max_len, CPU, task=task):
        out[row] = hyps[0].tokens
    return out


def source_tokens(out_dir: Path, lines: list[str]) -> list[list[str]]:
    """The lines tokenized as the export's JSON says, from the model directory alone."""
    info = json.loads((out_dir / INFO_FILE).read_text())
    if info["source"]["vocabulary"] == "sentencepiece":
        import sentencepiece as spm

        sp = spm.SentencePieceProcessor(model_file=str(out_dir / info["source"]["model"]))
        pieces = [sp.encode(line, out_type=str) for line in lines]
    else:
        pieces = [line.split() for line in lines]
    return [info["source_prefix"] + tokens for tokens in pieces]


def ct2_greedy(out_dir: Path, batch: list[list[str]]) -> list[list[str]]:
    """CTranslate2's greedy outputs, the sentences grouped by their length limit (README.md)."""
    limit = json.loads((out_dir / INFO_FILE).read_text())["max_decoding_length"]
    groups = defaultdict(list)
    for row, tokens in enumerate(batch):  # n: the tokens, the tag and the </s> CTranslate2 adds
        n = len(tokens) + 1
        groups[min(limit["cap"], math.floor(limit["a"] * n + limit["b"] + 1e-9))].append(row)
    translator = ctranslate2.Translator(str(out_dir), device="cpu", intra_threads=1)
    out: list[list[str]] = [[] for _ in batch]
    for length, rows in groups.items():
        results = translator.translate_batch([batch[i] for i in rows], beam_size=1,
                                             max_decoding_length=length)
        for row, result in zip(rows, results):
            out[row] = result.hypotheses[0]
    return out


def ours_log_probs(loaded: Loaded, name: str, line: str, target: list[int]) -> torch.Tensor:
    """Teacher-forced log-probs (T + 1,) of ``target`` and EOS, PAD and BOS left out of the
    softmax (as the export's output bias does)."""
    task = loaded.tasks[name]
    src = torch.tensor([[*task.source_specs()[0].prefix,
                         *loaded.vocabs[task.encoder].encode([line])[0], EOS]])  # (1, S)
    with torch.inference_mode(), loaded.model.task_inputs(name):
        memory = loaded.model.encode(task.encoder, src, src.ne(PAD))
        logits = loaded.model.decoders[task.decoder](torch.tensor([[BOS, *target]]), memory)[0]
    logits = logits.float().clone()  # (T + 1, V)
    logits[:, [PAD, BOS]] = float("-inf")
    return logits.log_softmax(-1).gather(1, torch.tensor([*target, EOS])[:, None])[:, 0]


def check_same(ckpt: Path, out_dir: Path, name: str) -> Loaded:
    """Every line decodes to the same tokens, and the log-probs of ours agree (float32 noise)."""
    loaded = load_checkpoint(ckpt, CPU)
    vocab = tokens_of(loaded.vocabs[loaded.tasks[name].decoder], "de")
    index = {token: i for i, token in enumerate(vocab)}
    expected = ours(loaded, name, LINES)
    batch = source_tokens(out_dir, LINES)
    got = [[index[token] for token in tokens] for tokens in ct2_greedy(out_dir, batch)]
    assert got == expected
    assert len({tuple(tokens) for tokens in expected}) > 1  # the outputs depend on the input
    translator = ctranslate2.Translator(str(out_dir), device="cpu", intra_threads=1)
    scored = translator.score_batch(batch, [[vocab[i] for i in tokens] for tokens in expected])
    for line, tokens, result in zip(LINES, expected, scored):
        mine = ours_log_probs(loaded, name, line, tokens)
        assert torch.allclose(torch.tensor(result.log_probs), mine, atol=1e-4)
    return loaded


def test_words_model_decodes_as_ours(words_ckpt: Path, tmp_path: Path, capsys) -> None:
    out_dir = tmp_path / "ct2"
    assert export(str(out_dir), "--checkpoint", str(words_ckpt), "--task", "en-de") == 0
    assert capsys.readouterr().out.strip() == str(out_dir)
    info = json.loads((out_dir / INFO_FILE).read_text())
    assert info["task"] == "en>de" and info["source"]["vocabulary"] == "words"
    assert info["source_prefix"] == [] and not list(out_dir.glob("*.spm.model"))
    config = json.loads((out_dir / "config.json").read_text())
    assert config["add_source_eos"] and config["decoder_start_token"] == "<s>"
    check_same(words_ckpt, out_dir, "en>de")


def test_sentencepiece_tag_and_task_embeddings(spm_ckpt: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "ct2"
    assert export(str(out_dir), "--checkpoint", str(spm_ckpt), "--task", "en>de") == 0
    info = json.loads((out_dir / INFO_FILE).read_text())
    assert info["source_prefix"] == ["<2de>"] and info["target"]["model"] == "target.spm.model"
    assert (out_dir / "source.spm.model").is_file() and "<2de>" in (out_dir / "README.md").read_text()
    loaded = check_same(spm_ckpt, out_dir, "en>de")
    assert "en>de" in loaded.model.task_embeddings  # the vectors folded in were really there


def test_quantized_export_loads(spm_ckpt: Path, tmp_path: Path) -> None:
    plain, int8 = tmp_path / "fp32", tmp_path / "int8"
    loaded = load_checkpoint(spm_ckpt, CPU)
    export_ctranslate2(loaded, "en>de", plain)
    export_ctranslate2(loaded, "en>de", int8, quantization="int8")
    assert (int8 / "model.bin").stat().st_size < (plain / "model.bin").stat().st_size
    outputs = ct2_greedy(int8, source_tokens(int8, LINES[:2]))
    assert len(outputs) == 2 and json.loads((int8 / INFO_FILE).read_text())["quantization"] == "int8"


def test_refuses_what_ctranslate2_cannot_run(words_ckpt: Path, tmp_path: Path) -> None:
    rnn = train(tmp_path / "rnn", 2, modules={"type": "rnn", "rnn": {"dim": 16, "embed_dim": 16}})
    with pytest.raises(UserError, match=r"encoders\.en\.type: .*'rnn'.* only the 'transformer'"):
        export(str(tmp_path / "a"), "--checkpoint", str(rnn), "--task", "en>de")
    loaded = load_checkpoint(words_ckpt, CPU)
    loaded.tasks["en>de"] = dataclasses.replace(loaded.tasks["en>de"], encoder=("en", "en"))
    with pytest.raises(UserError, match=r"tasks\.en>de\.encoder: .*several encoder slots"):
        export_ctranslate2(loaded, "en>de", tmp_path / "b")
    loaded = load_checkpoint(words_ckpt, CPU)
    loaded.model.decoders["de"].extra = torch.nn.Linear(2, 2)  # a weight the mapping would drop
    with pytest.raises(UserError, match=r"decoders\.de: .* weights extra\.weight, extra\.bias"):
        export_ctranslate2(loaded, "en>de", tmp_path / "b")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    with pytest.raises(UserError, match="not an empty folder"):
        export(str(tmp_path / "full"), "--checkpoint", str(words_ckpt), "--task", "en>de")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_missing_ctranslate2_names_the_install(words_ckpt: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ctranslate2", None)  # `import ctranslate2` fails
    with pytest.raises(UserError, match=r"pip install mtseq2seq\[ctranslate2\]"):
        export(str(tmp_path / "a"), "--checkpoint", str(words_ckpt), "--task", "en>de")
