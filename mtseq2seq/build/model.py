"""The model of a recipe: one module per slot some task uses, from `encoders:` and `decoders:`.

Modules are built in a fixed order (encoders, then decoders, each sorted by slot), so a seed
gives the same initial weights; task embeddings (`tasks.<t>.embedding`) are drawn after them, so
a recipe without any keeps its weights exactly. The toolkit gives each module what its slot
provides: an encoder reading tokens gets its vocabulary's size and PAD id; a decoder or head gets
what its tasks' kind says (`TaskKind.decoder_args`), from the registry that kind names.
"""
from __future__ import annotations

import logging

from torch import nn

from ..model import MultiTaskModel
from ..modules import ENCODERS
from ..recipe.config import ModuleConfig
from ..task_embeddings import TaskEmbeddings, embedding_targets
from ..tasks import Task

log = logging.getLogger(__name__)


def build_model(encoders: dict[str, ModuleConfig], decoders: dict[str, ModuleConfig],
                tasks: dict[str, Task]) -> MultiTaskModel:
    """Modules for every slot some task uses; unused slots are skipped with a warning."""
    used_enc = {slot for t in tasks.values() for slot in t.encoder_slots}
    used_dec = {t.decoder: t for t in reversed(list(tasks.values()))}  # slot -> its first task
    for side, defined, used in (("encoder", encoders, used_enc), ("decoder", decoders, used_dec)):
        for slot in sorted(set(defined) - set(used)):
            log.warning("%s '%s' is defined but no task uses it; not built", side, slot)
    vocab_of = {slot: v for t in tasks.values() for slot, v in t.vocabs.items()}
    built_enc = {slot: build_encoder(encoders[slot], f"encoders.{slot}", vocab_of.get(slot))
                 for slot in sorted(used_enc)}
    built_dec = {}
    for slot in sorted(used_dec):
        kind, cfg = used_dec[slot].kind, decoders[slot]
        built_dec[slot] = kind.decoder_registry.build(cfg.type, cfg.options, f"decoders.{slot}",
                                                      **kind.decoder_args(vocab_of.get(slot)))
    targets = {name: embedding_targets(t.embedding, t.encoder_slots, t.decoder)
               for name, t in tasks.items() if t.embedding}
    vectors = TaskEmbeddings.build(targets, {"encoder": built_enc, "decoder": built_dec})
    return MultiTaskModel(built_enc, built_dec,
                          {name: (t.encoder, t.decoder) for name, t in tasks.items()}, vectors)


def build_encoder(cfg: ModuleConfig, path: str, vocab) -> nn.Module:
    provided = {"vocab_size": len(vocab), "pad_id": vocab.pad_id} if vocab is not None else {}
    return ENCODERS.build(cfg.type, cfg.options, path, **provided)
