"""MultiTaskModel: encoders and decoders keyed by slot; a task picks one of each.

Two tasks naming the same slot use the same module object, so a shared encoder exists once in
the state dict and every task that names it trains it.
"""
from __future__ import annotations

import logging

from torch import Tensor, nn

from .config import Recipe
from .modules import DECODERS, ENCODERS, EncoderOutput
from .vocab import Vocab

log = logging.getLogger(__name__)


class MultiTaskModel(nn.Module):
    """``encoders[slot]``, ``decoders[slot]``, and ``tasks[name] = (encoder slot, decoder slot)``."""

    def __init__(self, encoders: dict[str, nn.Module], decoders: dict[str, nn.Module],
                 tasks: dict[str, tuple[str, str]], pad_ids: dict[str, int]) -> None:
        super().__init__()
        self.encoders = nn.ModuleDict(encoders)
        self.decoders = nn.ModuleDict(decoders)
        self.tasks = dict(tasks)
        self.pad_ids = dict(pad_ids)  # per slot

    def encode(self, slot: str, src: Tensor) -> EncoderOutput:
        """``src`` (B, S) ids -> states (B, S, D) and mask (B, S)."""
        return self.encoders[slot](src, src.ne(self.pad_ids[slot]))

    def forward(self, task: str, src: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher-forced logits (B, T, V) of ``task``."""
        enc_slot, dec_slot = self.tasks[task]
        return self.decoders[dec_slot](tgt_in, self.encode(enc_slot, src))

    def task_parameters(self, task: str) -> list[nn.Parameter]:
        enc_slot, dec_slot = self.tasks[task]
        return [*self.encoders[enc_slot].parameters(), *self.decoders[dec_slot].parameters()]

    @classmethod
    def build(cls, recipe: Recipe, vocabs: dict[str, Vocab]) -> "MultiTaskModel":
        """Modules for every slot some task uses; unused slots are skipped with a warning."""
        used_enc = {t.encoder for t in recipe.tasks.values()}
        used_dec = {t.decoder for t in recipe.tasks.values()}
        for side, defined, used in (("encoder", recipe.encoders, used_enc),
                                    ("decoder", recipe.decoders, used_dec)):
            for slot in sorted(set(defined) - used):
                log.warning("%s '%s' is defined but no task uses it; not built", side, slot)
        encoders = {s: _build(ENCODERS, recipe.encoders[s], f"encoders.{s}", vocabs[s])
                    for s in sorted(used_enc)}
        decoders = {s: _build(DECODERS, recipe.decoders[s], f"decoders.{s}", vocabs[s])
                    for s in sorted(used_dec)}
        tasks = {name: (t.encoder, t.decoder) for name, t in recipe.tasks.items()}
        pad_ids = {slot: vocabs[slot].pad_id for slot in vocabs}
        return cls(encoders, decoders, tasks, pad_ids)


def _build(registry, module_cfg, path: str, vocab: Vocab) -> nn.Module:
    return registry.build(module_cfg.type, module_cfg.options, path,
                          vocab_size=len(vocab), pad_id=vocab.pad_id)
