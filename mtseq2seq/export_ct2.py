"""`mtseq2seq export --format ctranslate2`: one task's Transformer pair as a CTranslate2 model.

The model directory holds CTranslate2's ``model.bin``, ``config.json`` and vocabularies, the
SentencePiece models of the slots that use them, and ``mtseq2seq_export.json`` plus ``README.md``
saying how to tokenize and decode so that greedy search (``beam_size=1``) gives `mtseq2seq
translate --beam 1`'s tokens. The weights' mapping is `export_ct2_spec.py`'s; here are the checks
(a task CTranslate2 cannot run is a UserError naming the recipe key) and the files.

What the export keeps of a task: its target tag (`tasks.<t>.tgt_tag`) is a token the caller puts
before every source (``source_prefix`` in the JSON; CTranslate2 adds the source's ``</s>``
itself), its task embeddings are folded into the position tables, and its length limit
``a * source length + b`` is the caller's ``max_decoding_length`` (CTranslate2 takes one per call).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from torch import Tensor

from .build.checkpoint import Loaded, load_checkpoint
from .errors import UserError
from .export_ct2_spec import transformer_spec, unmapped
from .export_options import MAX_POSITIONS, QUANTIZATIONS
from .hypotheses import MAX_LEN_CAP
from .logs import setup_logging
from .modules.transformer import TransformerDecoder, TransformerEncoder
from .specials import BOS, EOS, UNK
from .task_names import resolve_task
from .vocab import SentencePieceVocab, Vocab, WordVocab

INFO_FILE = "mtseq2seq_export.json"
INSTALL = "pip install mtseq2seq[ctranslate2]"


def run(args: argparse.Namespace) -> int:
    """Export ``args.task`` of ``args.checkpoint`` into ``args.out_dir``; prints the folder."""
    require_ctranslate2()
    setup_logging(None, getattr(args, "verbose", False))
    out_dir = Path(args.out_dir)
    check_out_dir(out_dir)  # before the slow checkpoint load
    loaded = load_checkpoint(args.checkpoint, torch.device("cpu"))
    print(export_ctranslate2(loaded, args.task, out_dir, args.quantization, args.max_positions,
                             checkpoint=str(args.checkpoint)))
    return 0


def require_ctranslate2() -> None:
    """A UserError naming the install command when ctranslate2 cannot be imported."""
    try:
        import ctranslate2  # noqa: F401
    except ImportError:
        raise UserError(f"exporting to CTranslate2 needs the ctranslate2 package: {INSTALL}"
                        ) from None


def check_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise UserError(f"{out_dir}: exists and is not an empty folder; name a new one (the "
                        "export never overwrites files)")


def export_ctranslate2(loaded: Loaded, task: str, out_dir: str | Path, quantization: str | None = None,
                       max_positions: int = MAX_POSITIONS, checkpoint: str | None = None) -> Path:
    """Write ``task``'s encoder-decoder pair of a loaded checkpoint as a CTranslate2 model.

    Args:
        loaded: `build.checkpoint.load_checkpoint`'s result.
        task: a task name of the checkpoint (``en-de`` and ``en:de`` name ``en>de``).
        out_dir: the model directory, created; it must not hold files yet.
        quantization: one of ``QUANTIZATIONS``; None or "none" keeps the float32 weights.
        max_positions: rows of the position tables.
        checkpoint: where the checkpoint was read from (recorded in the JSON only).
    Returns:
        ``out_dir`` as a Path.
    Raises:
        UserError: ctranslate2 is missing, the folder is not empty, or the task cannot be exported.
    """
    require_ctranslate2()
    if quantization not in (None, *QUANTIZATIONS):
        raise UserError(f"--quantization {quantization}: not one of {', '.join(QUANTIZATIONS)}")
    if max_positions < 1:
        raise UserError(f"--max-positions {max_positions}: need at least 1")
    quantization = None if quantization == "none" else quantization
    out_dir = Path(out_dir)
    check_out_dir(out_dir)
    name = resolve_task(task, loaded.model.tasks, "--task", "the checkpoint")
    encoder, decoder = exportable_pair(loaded, name)
    built = loaded.tasks[name]
    src_vocab, tgt_vocab = loaded.vocabs[built.encoder], loaded.vocabs[built.decoder]
    src_tokens, tgt_tokens = tokens_of(src_vocab, built.encoder), tokens_of(tgt_vocab, built.decoder)
    spec = transformer_spec(encoder, decoder, max_positions, task_vectors(loaded, name),
                            (tgt_vocab.pad_id, tgt_vocab.bos_id))
    config = spec.config
    config.unk_token, config.bos_token, config.eos_token = (tgt_tokens[i] for i in (UNK, BOS, EOS))
    config.decoder_start_token = tgt_tokens[BOS]  # our search starts from BOS
    config.add_source_eos = True  # our sources end with EOS (`data/sources.py`)
    spec.register_source_vocabulary(src_tokens)
    spec.register_target_vocabulary(tgt_tokens)
    spec.validate()
    spec.optimize(quantization=quantization)
    out_dir.mkdir(parents=True, exist_ok=True)
    spec.save(str(out_dir))
    files = write_sentencepiece(out_dir, src_vocab, tgt_vocab)
    prefix = [src_tokens[i] for source in built.source_specs() for i in source.prefix]  # the tag
    write_guide(out_dir, {
        "format": "ctranslate2", "task": name, "checkpoint": checkpoint, "step": loaded.step,
        "quantization": quantization or "none", "max_positions": max_positions,
        "source": side_info(built.encoder, src_vocab, files.get("source")),
        "target": side_info(built.decoder, tgt_vocab, files.get("target")),
        "source_prefix": prefix, "add_source_eos": True,
        "max_decoding_length": {"a": built.max_len[0], "b": built.max_len[1], "cap": MAX_LEN_CAP},
    })
    return out_dir


def exportable_pair(loaded: Loaded, name: str) -> tuple[TransformerEncoder, TransformerDecoder]:
    """The task's encoder and decoder, or a UserError naming the recipe key CTranslate2 cannot
    represent: several encoder slots, or a module that is not our own Transformer."""
    task = loaded.tasks[name]
    if isinstance(task.encoder, tuple):
        raise UserError(f"tasks.{name}.encoder: task {name} reads several encoder slots "
                        f"({', '.join(task.encoder)}); a CTranslate2 model has one source, so a "
                        "multi-source task cannot be exported")
    pair = []
    for side, slot, wanted, modules in (
            ("encoders", task.encoder, TransformerEncoder, loaded.model.encoders),
            ("decoders", task.decoder, TransformerDecoder, loaded.model.decoders)):
        module = modules[slot]
        if type(module) is not wanted:
            cfg = getattr(loaded.recipe, side).get(slot)
            shown = getattr(cfg, "type", None) or type(module).__name__
            raise UserError(f"{side}.{slot}.type: task {name}'s {side[:-1]} is of type "
                            f"'{shown}' ({type(module).__name__}); only the 'transformer' type "
                            "can be exported to CTranslate2")
        if unmapped(module):
            raise UserError(f"{side}.{slot}: the export does not know the weights "
                            f"{', '.join(unmapped(module)[:5])} of this {type(module).__name__}")
        pair.append(module)
    return pair[0], pair[1]


def tokens_of(vocab: Vocab, slot: str) -> list[str]:
    """The token string of every id; the specials must be CTranslate2's (``<unk>``, ``<s>``,
    ``</s>``) and every string distinct, since CTranslate2 maps strings back to ids."""
    if isinstance(vocab, SentencePieceVocab):
        tokens = [vocab.sp.id_to_piece(i) for i in range(len(vocab))]
    elif isinstance(vocab, WordVocab):
        tokens = list(vocab.words)
    else:
        raise UserError(f"vocabs.{slot}.type: '{vocab.kind}' vocabularies cannot be exported to "
                        "CTranslate2 (sentencepiece and words can)")
    wanted = {UNK: "<unk>", BOS: "<s>", EOS: "</s>"}
    odd = [f"id {i} is '{tokens[i]}'" for i, token in wanted.items() if tokens[i] != token]
    if odd or len(set(tokens)) != len(tokens):
        what = ", ".join(odd) if odd else "some entries repeat"
        raise UserError(f"vocabs.{slot}: the vocabulary cannot be exported to CTranslate2 ({what}; "
                        "needed: distinct entries, <unk> = 1, <s> = 2, </s> = 3)")
    return tokens


def task_vectors(loaded: Loaded, name: str) -> dict[str, Tensor]:
    """The task's embedding vectors (`tasks.<t>.embedding`), ``{"encoder": (D,), "decoder": (D,)}``
    for the sides it has."""
    embeddings, task = loaded.model.task_embeddings, loaded.tasks[name]
    if name not in embeddings:
        return {}
    slots = {"encoder": task.encoder, "decoder": task.decoder}
    return {side: vectors[slots[side]] for side, vectors in embeddings[name].items()
            if slots[side] in vectors}


def write_sentencepiece(out_dir: Path, src: Vocab, tgt: Vocab) -> dict[str, str]:
    """The SentencePiece models of the sides that use one (one shared file if they are the same):
    side -> file name in ``out_dir``."""
    files: dict[str, str] = {}
    shared = src.kind == tgt.kind == "sentencepiece" and src.payload() == tgt.payload()
    for side, vocab in (("source", src), ("target", tgt)):
        if isinstance(vocab, SentencePieceVocab):
            files[side] = "shared.spm.model" if shared else f"{side}.spm.model"
            (out_dir / files[side]).write_bytes(vocab.payload())
    return files


def side_info(slot: str, vocab: Vocab, model_file: str | None) -> dict:
    """How one side's text becomes tokens and back (the JSON's ``source`` and ``target``)."""
    if model_file is not None:
        return {"slot": slot, "vocabulary": "sentencepiece", "model": model_file,
                "tokenize": "sp.encode(line, out_type=str)",
                "detokenize": "sp.decode_pieces(tokens without <unk>)"}
    return {"slot": slot, "vocabulary": "words", "tokenize": "line.split()",
            "detokenize": "' '.join(tokens without <unk>)"}


def write_guide(out_dir: Path, info: dict) -> None:
    """``mtseq2seq_export.json`` (``info``) and a README saying how to use the model."""
    (out_dir / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    src, tgt, limit = info["source"], info["target"], info["max_decoding_length"]
    prefix = " ".join(info["source_prefix"])
    lines = [
        f"# {info['task']}: exported by mtseq2seq to CTranslate2", "",
        f"Source ({src['slot']}): `tokens = {src['tokenize']}`"
        + (f" with `{src['model']}`" if "model" in src else "")
        + (f", then put `{prefix}` before them" if prefix else "")
        + "; CTranslate2 adds the final `</s>` itself.",
        f"Target ({tgt['slot']}): `{tgt['detokenize']}`"
        + (f" with `{tgt['model']}`" if "model" in tgt else "") + ".", "",
        "Greedy decoding gives `mtseq2seq translate --beam 1`'s tokens with",
        "`translator.translate_batch(batch, beam_size=1, max_decoding_length=L)`, where",
        f"`L = min({limit['cap']}, floor({limit['a']} * n + {limit['b']}))` and `n` counts the "
        "source tokens, the prefix and the `</s>`",
        "(a batch takes one L: group sentences by it). See `mtseq2seq_export.json`.", "",
    ]
    (out_dir / "README.md").write_text("\n".join(lines), encoding="utf-8")

