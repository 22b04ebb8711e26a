"""Denoising (`tasks.<t>.noise`, `data/noise.py`): the noise functions' bounds, the generator
(seeded, fresh per draw, resumed exactly), the reserved `<mask>`, clean validation, the recipe
checks, and recipes without noise left exactly as they were."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mtseq2seq import checkpoint
from mtseq2seq.__main__ import main
from mtseq2seq.build.prepare import prepare
from mtseq2seq.build.tasks import build_tasks
from mtseq2seq.build.trainer import build_trainer, task_data
from mtseq2seq.build.vocabs import load_or_train
from mtseq2seq.data.batching import Batch
from mtseq2seq.data.noise import (
    NoiseConfig,
    Noiser,
    local_shuffle,
    span_mask,
    span_start_rate,
    word_drop,
)
from mtseq2seq.recipe.config import VocabConfig
from mtseq2seq.recipe.loader import load_recipe
from mtseq2seq.specials import EOS, PAD
from mtseq2seq.validate import validate_task
from mtseq2seq.vocab import SentencePieceVocab, WordVocab
from tests.conftest import SENTENCES, tiny_recipe, write, write_recipe
from tests.test_faults import fails

pytestmark = pytest.mark.usefixtures("one_thread")
MASK_ID = 4
FULL = {"drop": 0.1, "shuffle": 3, "mask": 0.15, "span": 3}


def random_batch(rows: int = 400, longest: int = 30, seed: int = 0) -> tuple[torch.Tensor,
                                                                             torch.Tensor]:
    """(ids (B, S), lengths (B,)) of distinct ids per sentence (position p holds 5 + p)."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, longest + 1, (rows,), generator=g)  # (B,)
    positions = torch.arange(longest).expand(rows, longest)  # (B, S)
    return (positions + 5).masked_fill(positions >= lengths[:, None], PAD), lengths


def sentences(ids: torch.Tensor, lengths: torch.Tensor) -> list[list[int]]:
    return [row[:n].tolist() for row, n in zip(ids, lengths.tolist())]


def gen(seed: int = 1) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("k", [1, 3])
def test_shuffle_moves_no_token_more_than_k_and_keeps_the_tokens(k: int) -> None:
    ids, lengths = random_batch()
    out, out_lengths = local_shuffle(ids, lengths, k, gen())
    assert torch.equal(out_lengths, lengths) and out.shape == ids.shape
    moved = 0
    for before, after in zip(sentences(ids, lengths), sentences(out, lengths)):
        assert sorted(after) == before  # the same tokens
        shifts = [abs(new - (token - 5)) for new, token in enumerate(after)]
        assert max(shifts) <= k
        moved += sum(s > 0 for s in shifts)
    assert moved > 1000  # it does shuffle
    assert out.masked_select(torch.arange(30) >= lengths[:, None]).eq(PAD).all()
    assert torch.equal(local_shuffle(ids, lengths, k, gen())[0], out)  # same seed, same noise


def test_drop_keeps_order_and_at_least_one_token() -> None:
    ids, lengths = random_batch()
    out, kept = word_drop(ids, lengths, 0.9, gen())
    assert kept.min() >= 1 and out.size(1) == kept.max()
    for before, after in zip(sentences(ids, lengths), sentences(out, kept)):
        assert after == [t for t in before if t in after]  # an ordered subsequence
    assert out.masked_select(torch.arange(out.size(1)) >= kept[:, None]).eq(PAD).all()
    dropped = 1 - kept.sum() / lengths.sum()
    assert 0.85 < dropped < 0.92  # p, less the tokens kept so that no sentence is empty


@pytest.mark.parametrize("span", [1, 3])
def test_mask_covers_about_p_of_the_tokens_with_the_mask_id(span: int) -> None:
    ids, lengths = random_batch(rows=2000, longest=40)
    out, out_lengths = span_mask(ids, lengths, 0.15, span, MASK_ID, gen())
    real = torch.arange(40) < lengths[:, None]  # (B, S)
    masked = out.ne(ids)
    assert torch.equal(out_lengths, lengths) and not (masked & ~real).any()
    assert out[masked].eq(MASK_ID).all()
    assert abs(float(masked.sum() / real.sum()) - 0.15) < 0.01
    runs = masked[:, 1:] & ~masked[:, :-1]  # (B, S-1) where a run of masks starts
    mean_run = float(masked.sum() / (runs.sum() + masked[:, 0].sum()))
    assert (mean_run < 1.2) if span == 1 else (mean_run > 1.6)


def test_span_start_rate_solves_the_coverage_equation() -> None:
    for p, span in ((0.15, 1), (0.15, 3), (0.4, 5)):
        rate = span_start_rate(p, span)
        left = 1.0
        for m in range(1, span + 1):
            left *= 1 - rate * m / span
        assert abs((1 - left) - p) < 1e-9


def clean_batch() -> Batch:
    ids, lengths = random_batch(rows=16, longest=12)
    src = torch.nn.functional.pad(ids, (0, 1))  # (B, S + 1)
    src[torch.arange(16), lengths] = EOS
    tgt = torch.ones(16, 3, dtype=torch.long)
    return Batch(src, src.ne(PAD), tgt, tgt, torch.arange(16))


def test_noiser_keeps_eos_and_target_and_draws_fresh_noise() -> None:
    batch = clean_batch()
    noiser = Noiser(NoiseConfig(**FULL), (MASK_ID,), seed=7)
    first, second = noiser(batch), noiser(batch)
    assert not torch.equal(first.src, second.src)  # fresh noise per draw
    again = Noiser(NoiseConfig(**FULL), (MASK_ID,), seed=7)
    assert torch.equal(again(batch).src, first.src)  # reproducible from the seed
    for out in (first, second):
        lengths = out.src_mask.sum(dim=1)
        assert torch.equal(out.src[torch.arange(16), lengths - 1], torch.full((16,), EOS))
        assert out.src.eq(EOS).sum() == 16 and torch.equal(out.src_mask, out.src.ne(PAD))
        assert (lengths <= batch.src_mask.sum(dim=1)).all() and lengths.min() >= 2
        assert out.tgt_out is batch.tgt_out and torch.equal(out.index, batch.index)
    pair = Batch((batch.src, batch.src), (batch.src_mask, batch.src_mask), batch.tgt_in,
                 batch.tgt_out, batch.index)  # a multi-source task: every text source noised
    both = Noiser(NoiseConfig(shuffle=2), (None, None), seed=7)(pair)
    assert all(not torch.equal(s, batch.src) for s in both.src)


def noise_recipe(data: Path, noise: dict | None = FULL, **changes) -> dict:
    raw = tiny_recipe(data, **changes)
    raw["decoders"]["en"] = {}
    raw["tasks"]["en>en"] = {"kind": "autoencoder", "encoder": "en", "decoder": "en"}
    if noise is not None:
        raw["tasks"]["en>en"]["noise"] = noise
    return raw


def vocabs_of(raw: dict, tmp_path: Path, name: str) -> dict:
    recipe = load_recipe(write_recipe(tmp_path / f"{name}.yaml", raw))
    return load_or_train(recipe, tmp_path / name)


def test_mask_is_reserved_only_where_a_task_masks(tiny_corpus: Path, tmp_path: Path) -> None:
    plain = vocabs_of(noise_recipe(tiny_corpus, None), tmp_path, "plain")
    dropping = vocabs_of(noise_recipe(tiny_corpus, {"drop": 0.2, "shuffle": 2}), tmp_path, "drop")
    masking = vocabs_of(noise_recipe(tiny_corpus), tmp_path, "mask")
    for slot in ("en", "de", "parse"):
        assert plain[slot].mask_id is None
        assert dropping[slot].payload() == plain[slot].payload()  # no mask: the same ids
    assert masking["en"].mask_id == MASK_ID and len(masking["en"]) == len(plain["en"]) + 1
    assert masking["en"].encode(["a dog"]) == [[i + 1 for i in plain["en"].encode(["a dog"])[0]]]
    assert masking["de"].payload() == plain["de"].payload() and masking["de"].mask_id is None
    sp = SentencePieceVocab.train(iter(SENTENCES * 5), VocabConfig(size=30), ("<mask>",))
    assert sp.mask_id == MASK_ID and sp.encode(["a <mask> dog"])[0].count(MASK_ID) == 1
    assert SentencePieceVocab.train(iter(SENTENCES * 5), VocabConfig(size=30)).mask_id is None
    words = WordVocab.train(iter(SENTENCES), VocabConfig(type="words"), ("<mask>",))
    assert words.words[MASK_ID] == "<mask>"


def test_a_recipe_without_noise_is_bitwise_unchanged(tiny_corpus: Path, tmp_path: Path) -> None:
    raw = tiny_recipe(tiny_corpus)
    raw["vocabs"]["en"] = {"type": "sentencepiece", "size": 30}
    recipe = load_recipe(write_recipe(tmp_path / "r.yaml", raw))
    vocabs = load_or_train(recipe, tmp_path / "run")
    # fingerprints and sizes of these vocabularies before denoising existed
    assert {s: (len(v), v.fingerprint) for s, v in vocabs.items()} == {
        "de": (15, "4f808df875b22fe5"), "en": (27, "45b2789b7e13f4df"),
        "parse": (7, "75ddc0098ebab097")}
    tasks = build_tasks(recipe, vocabs)
    assert all(t.noise is None for t in tasks.values())
    iterator = task_data(tasks, 128, 200, 1, False).train["en>de"]
    assert iterator.noise is None and set(iterator.state_dict()) == {"epoch", "position"}
    batch = next(iterator)
    assert batch.src[0].tolist() == [4, 7, 12, 10, 8, 21, 5, 9, 9, 4, 11, 5, 7, 8, 9, 17, 22, 6, 3]
    assert (tuple(batch.src.shape), int(batch.src.sum())) == ((3, 19), 531)


def test_validation_is_never_noised(tiny_corpus: Path, tmp_path: Path) -> None:
    """Same weights and vocabularies with and without drop/shuffle noise: the training batches
    differ, the validation results are identical."""
    results, batches = [], []
    for name, noise in (("clean", None), ("noisy", {"drop": 0.3, "shuffle": 3})):
        recipe = load_recipe(write_recipe(tmp_path / f"{name}.yaml",
                                          noise_recipe(tiny_corpus, noise)))
        trainer = build_trainer(recipe, tmp_path / name, prepare(recipe, tmp_path / name))
        batches.append(next(trainer.data.train["en>en"]))
        results.append(validate_task(trainer.model, trainer.tasks["en>en"],
                                     trainer.data.valid["en>en"], 200, torch.device("cpu")))
    assert torch.equal(batches[0].index, batches[1].index)  # the same sentences, noised
    assert batches[0].src.shape != batches[1].src.shape or \
        not torch.equal(batches[0].src, batches[1].src)
    assert results[0] == results[1]


def test_resume_is_bitwise_exact_with_noise(tiny_corpus: Path, tmp_path: Path) -> None:
    raw = noise_recipe(tiny_corpus)
    raw["modules"]["transformer"]["dropout"] = 0.2
    raw["train"].update(lr=3e-3, warmup=4, threads=1)
    raw["valid"].update(every=3, decode_sentences=4)
    path = str(write_recipe(tmp_path / "r.yaml", raw))
    assert main(["train", path, "--run-dir", str(tmp_path / "whole"),
                 "--set", "train.max_steps=12"]) == 0
    assert main(["train", path, "--run-dir", str(tmp_path / "split"),
                 "--set", "train.max_steps=6"]) == 0
    assert main(["train", path, "--run-dir", str(tmp_path / "split"), "--resume",
                 "--set", "train.max_steps=12"]) == 0
    whole = checkpoint.load(tmp_path / "whole" / "checkpoint_last.pt")
    split = checkpoint.load(tmp_path / "split" / "checkpoint_last.pt")
    assert whole["step"] == split["step"] == 12
    for name, tensor in whole["model"].items():
        assert torch.equal(tensor, split["model"][name]), name
    noisy, clean = whole["iterators"]["en>en"], whole["iterators"]["en>de"]
    assert set(clean) == {"epoch", "position"} and "noise" in noisy
    assert torch.equal(noisy["noise"]["generator"],
                       split["iterators"]["en>en"]["noise"]["generator"])
    assert (noisy["epoch"], noisy["position"]) == (split["iterators"]["en>en"]["epoch"],
                                                   split["iterators"]["en>en"]["position"])


def test_bad_noise_settings_are_clear_errors(tiny_corpus: Path, tmp_path: Path, capsys) -> None:
    raw = noise_recipe(tiny_corpus, {"dorp": 0.1, "drop": 1.0, "shuffle": 1.5, "mask": -0.1,
                                     "span": 0})
    raw["vocabs"]["verb"] = {"type": "labels"}
    raw["decoders"]["verb"] = {"type": "classifier", "dim": 16, "hidden": 32}
    raw["encoders"]["img"] = {"type": "features", "input_dim": 4, "dim": 16}
    raw["tasks"].update({
        "en>verb": {"kind": "classification", "encoder": "en", "decoder": "verb",
                    "noise": {"drop": 0.1}},
        "img>en": {"kind": "captioning", "encoder": "img", "decoder": "en", "noise": {"drop": 0.1}},
    })
    raw["tasks"]["en>de"]["noise"] = {"span": 3}
    raw["tasks"]["en>parse"]["noise"] = 0.1
    for split in ("train", "valid", "test"):
        write(tiny_corpus / f"{split}.verb", "run\n" * 40)
    path = str(write_recipe(tmp_path / "r.yaml", raw))
    fails(["train", path], capsys,
          "tasks.en>en.noise.dorp: unknown key 'dorp' (known: drop, mask, shuffle, span; "
          "did you mean 'drop'?)",
          "tasks.en>en.noise.drop: got 1.0, expected 0.0 <= value < 1.0",
          "tasks.en>en.noise.shuffle: got 1.5, expected an integer",
          "tasks.en>en.noise.mask: got -0.1, expected 0.0 <= value < 1.0",
          "tasks.en>en.noise.span: got 0, expected at least 1",
          "tasks.en>verb.noise: a classification task takes no noise",
          "tasks.img>en.noise: slot 'img' reads features; noise applies to text sources only",
          "tasks.en>de.noise.span: spans are what masking masks; set tasks.en>de.noise.mask",
          "tasks.en>parse.noise: expected a mapping, got float 0.1")


def test_a_vocabulary_without_mask_in_the_run_dir_is_refused(tiny_corpus: Path, tmp_path: Path,
                                                             capsys) -> None:
    run = tmp_path / "run"
    plain = str(write_recipe(tmp_path / "plain.yaml", noise_recipe(tiny_corpus, None)))
    assert main(["prepare", plain, "--run-dir", str(run)]) == 0
    masked = str(write_recipe(tmp_path / "masked.yaml", noise_recipe(tiny_corpus)))
    fails(["train", masked, "--run-dir", str(run)], capsys,
          "has no <mask> symbol, which tasks.en>en.noise.mask needs; delete the file")
