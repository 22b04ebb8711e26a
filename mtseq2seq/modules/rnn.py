"""RNN encoder and decoder (registered as ``rnn``): bidirectional LSTM encoder; LSTM decoder with
Luong "general" attention and input feeding (Luong et al. 2015).

The decoder starts from its memory alone (tanh of a projection of the masked mean of the memory
states), so any encoder of the same size can feed it, a Transformer encoder included.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .attention import LuongAttention
from .base import DECODERS, ENCODERS, Decoder, Encoder, EncoderOutput, State
from .dropout import Dropout
from .embeddings import TokenEmbedding
from .linear import Linear


@ENCODERS.register("rnn")
class RNNEncoder(Encoder):
    """Bidirectional LSTM over packed sequences; ``dim // 2`` units per direction.

    Padding must be on the right (``src_mask`` is a prefix of True); padded outputs are zero.

    Args:
        vocab_size: source vocabulary size (provided by the toolkit).
        pad_id: padding id (provided by the toolkit).
        dim: output size (both directions together); must be even.
        embed_dim: token embedding size.
        layers: stacked LSTM layers.
        dropout: dropout on embeddings, between layers and on the output.
    """

    def __init__(
        self, vocab_size: int, pad_id: int, dim: int = 256, embed_dim: int = 256, layers: int = 2,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if dim % 2:
            raise ValueError(f"rnn encoder dim ({dim}) must be even: it is split between two directions")
        self.output_size = dim
        self.embed = TokenEmbedding(vocab_size, embed_dim, pad_id)
        self.drop = Dropout(dropout)
        self.lstm = nn.LSTM(embed_dim, dim // 2, num_layers=layers, batch_first=True, bidirectional=True,
                            dropout=dropout if layers > 1 else 0.0)

    def forward(self, src: Tensor, src_mask: Tensor) -> EncoderOutput:
        """Args: src (B, S) ids; src_mask (B, S) bool, True = real token."""
        x = self.drop(self.embed(src))  # (B, S, E)
        # packing needs lengths on the CPU and >= 1; an empty row reads one pad and is zeroed below
        lengths = src_mask.sum(dim=1).clamp(min=1).cpu()  # (B,)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        states, _ = pad_packed_sequence(out, batch_first=True, total_length=src.size(1))  # (B, S, D)
        states = self.drop(states).masked_fill(~src_mask[:, :, None], 0.0)  # (B, S, D)
        return EncoderOutput(states, src_mask)


@DECODERS.register("rnn")
class RNNDecoder(Decoder):
    """LSTM decoder with Luong general attention and input feeding.

    Each step: h_t = LSTM([embed(y_{t-1}); h~_{t-1}]), c_t = attention(h_t, memory),
    h~_t = tanh(W_c [c_t; h_t]), logits = W_o h~_t. ``forward`` unrolls the same cell as ``step``.

    Args:
        vocab_size: target vocabulary size (provided by the toolkit).
        pad_id: padding id (provided by the toolkit).
        dim: hidden size of the LSTM and of the attentional state; also ``memory_size``.
        embed_dim: token embedding size.
        layers: stacked LSTM layers.
        dropout: dropout on embeddings, between layers and before the output projection.
        tie_embeddings: share the embedding with the output projection (needs ``embed_dim == dim``).
    """

    def __init__(
        self, vocab_size: int, pad_id: int, dim: int = 256, embed_dim: int = 256, layers: int = 2,
        dropout: float = 0.1, tie_embeddings: bool = False,
    ) -> None:
        super().__init__()
        if tie_embeddings and embed_dim != dim:
            raise ValueError(f"tie_embeddings needs embed_dim ({embed_dim}) equal to dim ({dim})")
        self.memory_size = dim
        self.dim = dim
        self.num_layers = layers
        self.embed = TokenEmbedding(vocab_size, embed_dim, pad_id)
        self.drop = Dropout(dropout)
        self.init_proj = Linear(dim, 2 * layers * dim)
        self.lstm = nn.LSTM(embed_dim + dim, dim, num_layers=layers, batch_first=True,
                            dropout=dropout if layers > 1 else 0.0)
        self.attention = LuongAttention(dim, dim)
        self.combine = Linear(2 * dim, dim, bias=False)  # W_c
        self.output = Linear(dim, vocab_size, bias=False)
        if tie_embeddings:
            self.output.weight = self.embed.weight

    def init_state(self, memory: EncoderOutput) -> State:
        """State: a dict with

        - ``h``, ``c``: (L, B, D) LSTM hidden and cell states (layer-first, as ``nn.LSTM`` wants);
        - ``feed``: (B, D) the previous attentional state h~ (zeros before the first step).
        """
        keep = memory.mask[:, :, None]  # (B, S, 1)
        mean = (memory.states * keep).sum(dim=1) / keep.sum(dim=1).clamp(min=1)  # (B, D)
        batch = mean.size(0)
        init = torch.tanh(self.init_proj(mean))  # (B, 2 * L * D)
        init = init.view(batch, 2, self.num_layers, self.dim).permute(1, 2, 0, 3).contiguous()  # (2, L, B, D)
        return {"h": init[0], "c": init[1], "feed": mean.new_zeros(batch, self.dim)}

    def _cell(self, emb: Tensor, memory: EncoderOutput, state: State) -> tuple[Tensor, State]:
        """One step from embedded input emb (B, E): attentional state h~ (B, D) and the new state."""
        x = torch.cat([emb, state["feed"]], dim=-1)[:, None]  # (B, 1, E + D)
        y, (h, c) = self.lstm(x, (state["h"], state["c"]))  # (B, 1, D)
        top = y[:, 0]  # (B, D)
        context = self.attention(top, memory.states, memory.mask)  # (B, D)
        att = torch.tanh(self.combine(torch.cat([context.to(top.dtype), top], dim=-1)))  # (B, D)
        return att, {"h": h, "c": c, "feed": att}

    def forward(self, tgt_in: Tensor, memory: EncoderOutput) -> Tensor:
        """Teacher forcing: tgt_in (B, T) ids -> logits (B, T, V)."""
        emb = self.drop(self.embed(tgt_in))  # (B, T, E)
        state = self.init_state(memory)
        outputs = []
        for t in range(tgt_in.size(1)):
            att, state = self._cell(emb[:, t], memory, state)  # (B, D)
            outputs.append(att)
        return self.output(self.drop(torch.stack(outputs, dim=1)))  # (B, T, V)

    def cross_attention(self, tgt_in: Tensor, memory: EncoderOutput) -> Tensor:
        """Teacher-forced attention weights, tgt_in (B, T) -> (B, T, S): the one Luong attention
        of each step (no layers or heads to choose from). The cell runs as in ``forward``; the
        weights are recomputed from the top layer's new hidden state (``h[-1]``, the query the
        cell attended with), so the cell itself is left as it is."""
        emb = self.drop(self.embed(tgt_in))  # (B, T, E)
        state = self.init_state(memory)
        rows = []
        for t in range(tgt_in.size(1)):
            _, state = self._cell(emb[:, t], memory, state)
            rows.append(self.attention.weights(state["h"][-1], memory.states, memory.mask))  # (B, S)
        return torch.stack(rows, dim=1)  # (B, T, S)

    def step(self, prev: Tensor, memory: EncoderOutput, state: State) -> tuple[Tensor, State]:
        """prev (B,) last tokens -> logits (B, V) and the new state."""
        att, state = self._cell(self.drop(self.embed(prev)), memory, state)  # (B, D)
        return self.output(self.drop(att)), state  # (B, V)

    def reorder_state(self, state: State, order: Tensor) -> State:
        """Rows picked by ``order`` (N,): dim 1 of ``h``/``c`` (layer-first), dim 0 of ``feed``."""
        return {
            "h": state["h"].index_select(1, order),
            "c": state["c"].index_select(1, order),
            "feed": state["feed"].index_select(0, order),
        }
