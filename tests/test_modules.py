"""Contract tests over every registered encoder x decoder type, plus family-specific checks.

New types are covered automatically: options come from ``TINY`` when the type is known, otherwise
from ``FALLBACK`` filtered by the constructor's signature (``Registry.options``). An encoder's
input is made for its ``input_kind`` (token ids, feature vectors, or facts) by ``encoder_input``,
and "the row alone" is that input trimmed of its padding along every axis (``trim``).
"""
from __future__ import annotations

import inspect
import itertools
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from mtseq2seq.modules import DECODERS, ENCODERS, EncoderOutput
from mtseq2seq.modules.base import padding_mask
from mtseq2seq.registry import Registry

VOCAB, PAD, DIM, FEATURES, FACT_LEN = 23, 0, 16, 8, 3
TINY: dict[str, dict[str, Any]] = {
    "transformer": {"dim": DIM, "layers": 2, "heads": 2, "ff": 32, "dropout": 0.1},
    "rnn": {"dim": DIM, "embed_dim": 12, "layers": 2, "dropout": 0.1},
    "features": {"input_dim": FEATURES, "dim": DIM, "layers": 1, "heads": 2, "ff": 32,
                 "dropout": 0.1, "positions": True},
    "facts": {"dim": DIM, "layers": 1, "heads": 2, "ff": 32, "dropout": 0.1},
}
FALLBACK: dict[str, Any] = {"dim": DIM, "layers": 1, "heads": 2, "ff": 32, "embed_dim": DIM, "dropout": 0.1}
PAIRS = list(itertools.product(ENCODERS.names(), DECODERS.names()))


def tiny_options(registry: Registry, name: str, **override: Any) -> dict[str, Any]:
    """Small options for type ``name``, restricted to those its constructor accepts."""
    options = {**TINY.get(name, FALLBACK), **override}
    accepted = registry.options(name)
    return {key: value for key, value in options.items() if key in accepted}


def build(registry: Registry, name: str, seed: int = 0, **override: Any) -> torch.nn.Module:
    torch.manual_seed(seed)
    accepted = inspect.signature(registry.get(name).__init__).parameters
    provided = {k: v for k, v in (("vocab_size", VOCAB), ("pad_id", PAD)) if k in accepted}
    return registry.build(name, tiny_options(registry, name, **override), **provided)


def padded_batch(lengths: list[int], seed: int = 1) -> torch.Tensor:
    """(B, max(lengths)) random non-pad ids, right-padded with PAD."""
    gen = torch.Generator().manual_seed(seed)
    tokens = torch.randint(1, VOCAB, (len(lengths), max(lengths)), generator=gen)  # (B, S)
    keep = torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None]  # (B, S)
    return tokens.masked_fill(~keep, PAD)


def encoder_input(encoder: torch.nn.Module, lengths: list[int], seed: int = 1
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """(src, src_mask) of B examples of the given lengths, in the encoder's input kind: ids
    (B, S); vectors (B, K, FEATURES); or facts of FACT_LEN tokens (the last one shorter), (B, F, L)."""
    kind = getattr(encoder, "input_kind", "tokens")
    if kind == "tokens":
        src = padded_batch(lengths, seed)
        return src, padding_mask(src, PAD)
    keep = torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None]  # (B, S)
    if kind == "features":
        gen = torch.Generator().manual_seed(seed)
        return torch.randn(*keep.shape, FEATURES, generator=gen) * keep[:, :, None], keep
    assert kind == "facts", kind
    ids = padded_batch(lengths, seed)  # (B, S) then cut into facts of FACT_LEN tokens
    facts = -(-max(lengths) // FACT_LEN)
    ids = F.pad(ids, (0, facts * FACT_LEN - ids.size(1)), value=PAD).view(len(lengths), facts, FACT_LEN)
    return ids, ids.ne(PAD)  # (B, F, L)


def trim(src: torch.Tensor, mask: torch.Tensor, row: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Row ``row`` of an input alone, its padding cut off along every axis of the mask."""
    real = mask[row]
    index = [slice(row, row + 1)]
    for axis in range(real.dim()):
        other = tuple(d for d in range(real.dim()) if d != axis)
        used = real.any(dim=other) if other else real
        index.append(slice(0, int(used.nonzero().max()) + 1))
    return src[tuple(index)], mask[tuple(index)]


def encode(encoder: torch.nn.Module, src: torch.Tensor, mask: torch.Tensor | None = None
           ) -> EncoderOutput:
    return encoder(src, padding_mask(src, PAD) if mask is None else mask)


def memory_of(encoder: torch.nn.Module, lengths: list[int], seed: int = 1) -> EncoderOutput:
    return encode(encoder, *encoder_input(encoder, lengths, seed))


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.float() - b.float()).abs().max().item()


@pytest.mark.parametrize("name", ENCODERS.names())
def test_encoder_shapes_mask_and_padding(name: str) -> None:
    encoder = build(ENCODERS, name).eval()
    src, mask = encoder_input(encoder, [7, 4, 2])
    out = encode(encoder, src, mask)
    assert out.states.shape == (3, mask.flatten(1).size(1), encoder.output_size)
    assert out.mask.dtype == torch.bool and torch.equal(out.mask, mask.flatten(1))
    assert torch.isfinite(out.states).all()
    assert out.states[~out.mask].abs().max() == 0  # padding zeroed
    for row in range(3):
        alone = encode(encoder, *trim(src, mask, row))  # the row without its padding
        assert max_diff(out.states[row][out.mask[row]], alone.states[0][alone.mask[0]]) < 1e-5


@pytest.mark.parametrize("enc_name,dec_name", PAIRS)
def test_decoder_shapes_and_memory_padding(enc_name: str, dec_name: str) -> None:
    encoder, decoder = build(ENCODERS, enc_name).eval(), build(DECODERS, dec_name, seed=2).eval()
    assert decoder.memory_size == encoder.output_size
    (src, mask), tgt_in = encoder_input(encoder, [6, 3]), padded_batch([5, 5], seed=3)
    memory = encode(encoder, src, mask)
    logits = decoder(tgt_in, memory)
    assert logits.shape == (2, 5, VOCAB) and torch.isfinite(logits).all()
    trimmed = encode(encoder, *trim(src, mask, 1))  # the short row without its padding
    assert max_diff(logits[1], decoder(tgt_in[1:], trimmed)[0]) < 1e-5


@pytest.mark.parametrize("enc_name,dec_name", PAIRS)
def test_step_matches_forward(enc_name: str, dec_name: str) -> None:
    encoder, decoder = build(ENCODERS, enc_name).eval(), build(DECODERS, dec_name, seed=2).eval()
    with torch.no_grad():
        memory = memory_of(encoder, [6, 2, 4])
        tgt_in = padded_batch([5, 3, 5], seed=4)
        full = decoder(tgt_in, memory)  # (B, T, V)
        state = decoder.init_state(memory)
        for t in range(tgt_in.size(1)):
            logits, state = decoder.step(tgt_in[:, t], memory, state)  # (B, V)
            assert max_diff(logits, full[:, t]) < 1e-5, f"step {t}"


@pytest.mark.parametrize("enc_name,dec_name", PAIRS)
def test_reorder_state_commutes_with_index_select(enc_name: str, dec_name: str) -> None:
    encoder, decoder = build(ENCODERS, enc_name).eval(), build(DECODERS, dec_name, seed=2).eval()
    order = torch.tensor([2, 0, 0, 1])
    with torch.no_grad():
        memory = memory_of(encoder, [5, 2, 4])
        tgt_in = padded_batch([4, 4, 4], seed=5)
        state = decoder.init_state(memory)
        for t in range(2):
            _, state = decoder.step(tgt_in[:, t], memory, state)
        picked_memory = memory.index_select(order)
        picked_state = decoder.reorder_state(state, order)
        for t in range(2, 4):  # reorder first, then step; versus step, then reorder the logits
            picked_logits, picked_state = decoder.step(tgt_in[order, t], picked_memory, picked_state)
            logits, state = decoder.step(tgt_in[:, t], memory, state)
            assert max_diff(picked_logits, logits[order]) < 1e-5


@pytest.mark.parametrize("name", DECODERS.names())
def test_decoder_is_causal(name: str) -> None:
    encoder, decoder = build(ENCODERS, "transformer").eval(), build(DECODERS, name).eval()
    memory = encode(encoder, padded_batch([5, 3]))
    tgt_in = padded_batch([6, 6], seed=6)
    changed = tgt_in.clone()
    changed[:, 4] = (changed[:, 4] % (VOCAB - 1)) + 1  # another non-pad token
    before, after = decoder(tgt_in, memory), decoder(changed, memory)
    assert max_diff(before[:, :4], after[:, :4]) < 1e-6
    assert max_diff(before[:, 4:], after[:, 4:]) > 1e-4


@pytest.mark.parametrize("enc_name,dec_name", PAIRS)
def test_bfloat16_autocast(enc_name: str, dec_name: str) -> None:
    encoder, decoder = build(ENCODERS, enc_name), build(DECODERS, dec_name, seed=2)
    (src, mask), tgt_in = encoder_input(encoder, [5, 3]), padded_batch([4, 2], seed=7)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        memory = encode(encoder, src, mask)
        logits = decoder(tgt_in, memory)
        loss = F.cross_entropy(logits.float().flatten(0, 1), tgt_in.flatten(), ignore_index=PAD)
        state = decoder.init_state(memory)
        for t in range(3):
            step_logits, state = decoder.step(tgt_in[:, t], memory, state)
            assert torch.isfinite(step_logits).all()
    loss.backward()
    assert torch.isfinite(loss)


@pytest.mark.parametrize("name", [n for n in DECODERS.names() if "tie_embeddings" in DECODERS.options(n)])
def test_tie_embeddings_shares_parameter(name: str) -> None:
    untied = build(DECODERS, name)
    tied = build(DECODERS, name, tie_embeddings=True, embed_dim=DIM)
    shared = len(list(tied.named_parameters(remove_duplicate=False))) - len(list(tied.parameters()))
    assert shared == 1
    assert sum(p.numel() for p in tied.parameters()) < sum(p.numel() for p in untied.parameters())
    if name in ("rnn", "transformer"):
        assert tied.output.weight is tied.embed.weight


def test_bad_sizes_raise_value_error() -> None:
    with pytest.raises(ValueError, match="divisible"):
        build(ENCODERS, "transformer", dim=10, heads=3)
    with pytest.raises(ValueError, match="divisible"):
        build(DECODERS, "transformer", dim=10, heads=4)
    with pytest.raises(ValueError, match="even"):
        build(ENCODERS, "rnn", dim=15)
    with pytest.raises(ValueError, match=r"embed_dim \(12\).*dim \(16\)"):
        build(DECODERS, "rnn", embed_dim=12, tie_embeddings=True)


def test_transformer_cache_grows_one_position_per_step() -> None:
    encoder, decoder = build(ENCODERS, "transformer").eval(), build(DECODERS, "transformer").eval()
    memory = encode(encoder, padded_batch([5, 3]))
    state = decoder.init_state(memory)
    assert state["cross_k"][0].shape == (2, 2, 5, DIM // 2)
    for t in range(1, 4):
        _, state = decoder.step(torch.tensor([3, 4]), memory, state)
        assert state["pos"] == t
        assert all(k.shape == (2, 2, t, DIM // 2) for k in state["self_k"] + state["self_v"])


def test_rnn_encoder_feeds_transformer_decoder_and_learns() -> None:
    """A tiny copy task: the loss must fall well below its start after a few Adam steps."""
    encoder = build(ENCODERS, "rnn", dropout=0.0)
    decoder = build(DECODERS, "transformer", seed=1, dropout=0.0)
    src = padded_batch([6, 5, 6, 4, 6, 3, 5, 6], seed=8)  # (B, S)
    bos = torch.full((src.size(0), 1), 1)
    tgt_in, tgt_out = torch.cat([bos, src[:, :-1]], dim=1), src  # shifted copy
    params = list(encoder.parameters()) + list(decoder.parameters())
    optimizer = torch.optim.Adam(params, lr=1e-2)
    losses = []
    for _ in range(40):
        logits = decoder(tgt_in, encode(encoder, src))  # (B, T, V)
        loss = F.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(), ignore_index=PAD)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0], losses
