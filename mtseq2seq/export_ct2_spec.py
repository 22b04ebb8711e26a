"""Our Transformer encoder-decoder pair as a CTranslate2 ``TransformerSpec``: layout and weights.

`export_ct2.py` checks that a task can be exported and writes the model directory; this module only
maps one `TransformerEncoder` and one `TransformerDecoder` (`modules/transformer.py`) onto
CTranslate2's specification, which it imports inside its functions (the package works without it).

What maps onto what:

- pre-norm layers with a final layer norm on both sides (``pre_norm=True``), ReLU feed-forward,
  the layer norms' eps in the model config (``layer_norm_epsilon``);
- token embeddings scaled by sqrt(dim) (``scale_embeddings``, CTranslate2's default);
- the fused projections as they are: our ``qkv`` rows are [Q; K; V] with the heads contiguous inside
  each, CTranslate2's fused self-attention layout, and our cross-attention ``kv`` rows are [K; V],
  its fused memory projection;
- positions: our sinusoids interleave sin and cos channel by channel, CTranslate2's built-in table
  puts all the sines first, so our table is written out as *learned* encodings (``positions`` rows,
  position t at row t, no offset); a task embedding (`task_embeddings.py`) adds one vector to every
  input embedding, exactly what a position table shifted by that vector adds, so it is folded in;
- the output projection (tied to the embedding or not; CTranslate2 aliases equal matrices) gets a
  bias of 0 except ``SUPPRESSED`` on PAD and BOS, which our search never picks (`search/topk.py`).
"""
from __future__ import annotations

import re
from typing import Any

import torch
from torch import Tensor, nn

from .modules.attention import CrossAttention, SelfAttention
from .modules.embeddings import sinusoids
from .modules.feedforward import FeedForward
from .modules.transformer import DecoderLayer, EncoderLayer, TransformerDecoder, TransformerEncoder

SUPPRESSED = -1e4  # output bias of PAD and BOS: never chosen, finite in float16 and bfloat16
Spec = Any  # a ctranslate2.specs LayerSpec (not imported at module level)
_MAPPED = re.compile(  # every state-dict entry of the pair that the functions below write out
    r"(embed|output)\.weight|norm\.(weight|bias)|layers\.\d+\.(attn_norm|attn\.qkv|attn\.out|ff_norm"
    r"|ff\.0|ff\.3|self_norm|self_attn\.qkv|self_attn\.out|cross_norm|cross_attn\.(q|kv|out))"
    r"\.(weight|bias)")


def unmapped(module: nn.Module) -> list[str]:
    """The module's state-dict entries this mapping does not write (none for our Transformer):
    a module that gained a weight must not be exported without it."""
    return [key for key in module.state_dict() if not _MAPPED.fullmatch(key)]


def _array(tensor: Tensor) -> Tensor:
    """A float32 copy of a parameter, detached from the model (CTranslate2 may convert it in place)."""
    return tensor.detach().to("cpu", torch.float32, copy=True).contiguous()


def _linear(spec: Spec, module: nn.Linear) -> None:
    spec.weight = _array(module.weight)  # (out, in), as CTranslate2 stores it
    if module.bias is not None:
        spec.bias = _array(module.bias)


def _norm(spec: Spec, module: nn.LayerNorm) -> None:
    spec.gamma = _array(module.weight)
    spec.beta = _array(module.bias)


def _self_attention(spec: Spec, norm: nn.LayerNorm, attn: SelfAttention) -> None:
    """Pre-norm self-attention: linear[0] the fused (3D, D) [Q; K; V], linear[1] the output."""
    _norm(spec.layer_norm, norm)
    _linear(spec.linear[0], attn.qkv)
    _linear(spec.linear[1], attn.out)


def _cross_attention(spec: Spec, norm: nn.LayerNorm, attn: CrossAttention) -> None:
    """Pre-norm cross-attention: linear[0] Q, linear[1] the fused (2D, D) [K; V], linear[2] out."""
    _norm(spec.layer_norm, norm)
    _linear(spec.linear[0], attn.q)
    _linear(spec.linear[1], attn.kv)
    _linear(spec.linear[2], attn.out)


def _feed_forward(spec: Spec, norm: nn.LayerNorm, ff: FeedForward) -> None:
    first, activation, _, second = ff
    assert isinstance(activation, nn.ReLU), "CTranslate2 export maps the ReLU feed-forward only"
    _norm(spec.layer_norm, norm)
    _linear(spec.linear_0, first)
    _linear(spec.linear_1, second)


def position_table(dim: int, rows: int, vector: Tensor | None) -> Tensor:
    """(rows, dim) encodings of positions 0 .. rows - 1, plus a task vector (dim,) if given."""
    table = sinusoids(rows, dim)  # (rows, D), the very table `SinusoidalPositions` computes
    if vector is not None:
        table = table + vector.detach().to("cpu", torch.float32)  # (rows, D)
    return _array(table)


def _encoder_spec(encoder: TransformerEncoder, rows: int, vector: Tensor | None) -> Spec:
    from ctranslate2.specs import common_spec, transformer_spec

    first: EncoderLayer = encoder.layers[0]
    spec = transformer_spec.TransformerEncoderSpec(
        len(encoder.layers), first.attn.heads, pre_norm=True,
        activation=common_spec.Activation.RELU)
    spec.embeddings[0].weight = _array(encoder.embed.weight)  # (V, D), scaled by sqrt(D) at run time
    spec.position_encodings.encodings = position_table(encoder.output_size, rows, vector)
    for layer_spec, layer in zip(spec.layer, encoder.layers):
        _self_attention(layer_spec.self_attention, layer.attn_norm, layer.attn)
        _feed_forward(layer_spec.ffn, layer.ff_norm, layer.ff)
    _norm(spec.layer_norm, encoder.norm)
    return spec


def _decoder_spec(decoder: TransformerDecoder, rows: int, vector: Tensor | None,
                  suppressed: tuple[int, ...]) -> Spec:
    from ctranslate2.specs import common_spec, transformer_spec

    spec = transformer_spec.TransformerDecoderSpec(
        len(decoder.layers), decoder.heads, pre_norm=True,
        activation=common_spec.Activation.RELU)
    spec.embeddings.weight = _array(decoder.embed.weight)  # (V, D)
    spec.position_encodings.encodings = position_table(decoder.memory_size, rows, vector)
    layer: DecoderLayer
    for layer_spec, layer in zip(spec.layer, decoder.layers):
        _self_attention(layer_spec.self_attention, layer.self_norm, layer.self_attn)
        _cross_attention(layer_spec.attention, layer.cross_norm, layer.cross_attn)
        _feed_forward(layer_spec.ffn, layer.ff_norm, layer.ff)
    _norm(spec.layer_norm, decoder.norm)
    spec.projection.weight = _array(decoder.output.weight)  # (V, D); tied: the embedding's values
    bias = torch.zeros(decoder.output.out_features)  # (V,)
    bias[list(suppressed)] = SUPPRESSED
    spec.projection.bias = bias
    return spec


def layer_norm_eps(encoder: TransformerEncoder, decoder: TransformerDecoder) -> float:
    """The one eps of every layer norm of the pair (CTranslate2 has one per model)."""
    found = {m.eps for side in (encoder, decoder) for m in side.modules()
             if isinstance(m, nn.LayerNorm)}
    assert len(found) == 1, f"layer norms with different eps: {sorted(found)}"
    return found.pop()


def transformer_spec(encoder: TransformerEncoder, decoder: TransformerDecoder, positions: int,
                     vectors: dict[str, Tensor], suppressed: tuple[int, ...]) -> Spec:
    """The pair as a ``ctranslate2.specs.TransformerSpec`` with every weight set.

    Args:
        encoder, decoder: the task's modules (their dims match: the decoder reads D-wide memory).
        positions: rows of the position tables, the longest source or output CTranslate2 may run.
        vectors: the task's embedding vectors, ``{"encoder": (D,), "decoder": (D,)}``, where it has.
        suppressed: target ids the decoder must never produce (PAD, BOS).
    Returns:
        The spec; its config (special tokens, source EOS, eps) is the caller's to fill.
    """
    from ctranslate2.specs import transformer_spec as specs

    spec = specs.TransformerSpec(
        _encoder_spec(encoder, positions, vectors.get("encoder")),
        _decoder_spec(decoder, positions, vectors.get("decoder"), suppressed))
    spec.config.layer_norm_epsilon = layer_norm_eps(encoder, decoder)
    return spec
