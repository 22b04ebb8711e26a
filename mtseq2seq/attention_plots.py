"""Attention heatmaps: how much each output token of a decoded sentence read each source piece.

`plot_attention` runs the model teacher-forced on (source, hypothesis) pairs and draws the
decoder's cross-attention weights (`Decoder.cross_attention`: for the Transformer the last layer,
averaged over its heads; for the RNN its one Luong attention), one PNG per sentence, named
``attention_<task>_<n>.png`` (``en>de`` written ``en-de``). Row t is the attention while the model
predicts output t (the hypothesis' pieces, then ``</s>``); columns are the memory positions,
i.e. the source pieces as the encoder read them (a task's target tag first, ``</s>`` last; a
multi-source task's slots side by side). `translation_pairs` makes the pairs from what
`mtseq2seq translate` holds after decoding (the input lines and their hypotheses), reading the
lines exactly as `inference.translate_lines` does. matplotlib (`pip install mtseq2seq[plot]`) is
needed only here, and imported when drawing.
"""
from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Mapping, Sequence, Union

import torch
from torch import Tensor

from .data.sources import source_from_lines
from .errors import UserError
from .hypotheses import Hypothesis
from .inference import source_spec, split_fields
from .model import MultiTaskModel
from .modules import Decoder, EncoderOutput
from .plots import file_safe, matplotlib_classes
from .specials import BOS, PAD, SPECIALS
from .tasks import Task
from .vocab import Vocab

# One sentence's source: token ids (a 1-D sequence, EOS and any target tag included, as the
# encoder reads them) or a tensor of one example without its batch dimension (facts (F, L) ids,
# features (K, D) floats); a multi-source task gives a tuple of those, one per encoder slot.
Source = Union[Sequence[int], Tensor, tuple]
Pair = tuple[Source, Sequence[int]]  # (source, hypothesis ids without BOS and EOS)
TaskOrPair = Union[Task, str, tuple]


def plot_attention(model: MultiTaskModel, task: TaskOrPair, pairs: Sequence[Pair] | Mapping[int, Pair],
                   out_dir: Path | str, vocabs: Mapping[str, Vocab] | None = None,
                   limit: int = 10) -> list[Path]:
    """One cross-attention heatmap per pair, for the first ``limit`` pairs; the files written.

    Args:
        model: the model; it runs in eval mode (its mode is restored afterwards).
        task: a built task, a task name of ``model`` (its task embeddings are added, as
            `translate --task` does), or an (encoder slot(s), decoder slot) pair (none added).
        pairs: (source, hypothesis ids) pairs, numbered 0, 1, ... in the file names; or a
            mapping number -> pair (`translation_pairs`: the input line numbers).
        out_dir: where the PNGs go (made if missing).
        vocabs: slot -> vocabulary, for the pieces on the axes (a slot without one shows
            positions); a built task's own are used when this is None.
        limit: at most this many heatmaps (the first pairs).
    """
    figure_class, canvas_class = matplotlib_classes()
    name, (encoders, decoder_slot), applied = _task_and_pair(model, task)
    vocabs = vocabs if vocabs is not None else getattr(task, "vocabs", {})
    slots = encoders if isinstance(encoders, tuple) else (encoders,)
    decoder = model.decoders[decoder_slot]
    if not isinstance(decoder, Decoder):
        raise UserError(f"task {name}: slot '{decoder_slot}' holds a {type(decoder).__name__}, "
                        "which predicts labels and has no attention over its source to show")
    numbered = list(pairs.items()) if isinstance(pairs, Mapping) else list(enumerate(pairs))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), model.task_inputs(applied) if applied else nullcontext():
            for number, (source, hyp) in numbered[:limit]:
                weights, src_labels = sentence_attention(model, slots, decoder, source, hyp, vocabs)
                tgt_labels = pieces(vocabs.get(decoder_slot), list(hyp)) + [SPECIALS[-1]]
                path = out / f"attention_{file_safe(name)}_{number}.png"
                draw_heatmap(weights, src_labels, tgt_labels, f"{name} #{number}", path,
                             figure_class, canvas_class)
                written.append(path)
    finally:
        model.train(was_training)
    return written


def _task_and_pair(model: MultiTaskModel, task: TaskOrPair) -> tuple[str, tuple, str | None]:
    """The name for titles and files, the (encoder slot(s), decoder slot) pair, and the task
    whose inputs (task embeddings) are added: none for an explicit pair, as in translate."""
    if isinstance(task, Task):
        return task.name, (task.encoder, task.decoder), task.name
    if isinstance(task, str):
        if task not in model.tasks:
            raise UserError(f"no task '{task}' in the model (tasks: {', '.join(model.tasks)})")
        return task, tuple(model.tasks[task]), task
    encoders, decoder = task
    joined = "+".join(encoders) if isinstance(encoders, tuple) else encoders
    return f"{joined}>{decoder}", (encoders, decoder), None


def sentence_attention(model: MultiTaskModel, slots: tuple[str, ...], decoder: Decoder,
                       source: Source, hyp: Sequence[int], vocabs: Mapping[str, Vocab]
                       ) -> tuple[Tensor, list[str]]:
    """One sentence's weights (T, S), T = len(hyp) + 1, and a label per memory position."""
    device = next(model.parameters()).device
    parts = [source] if len(slots) == 1 else list(source)
    if len(parts) != len(slots):
        raise ValueError(f"a source of {len(parts)} part(s) for encoder slots {slots}")
    outputs, labels = [], []
    for slot, part in zip(slots, parts):
        x = torch.as_tensor(part)[None].to(device)  # (1, S) ids, (1, F, L) ids or (1, K, D)
        mask = torch.ones(x.shape[:2], dtype=torch.bool, device=device) if x.is_floating_point() \
            else x.ne(PAD)  # (1, S) or (1, F, L)
        memory = model.encoders[slot](x, mask)
        outputs.append(memory)
        labels += _memory_labels(slot, x[0], memory.mask.size(1), vocabs.get(slot), len(slots))
    tgt_in = torch.tensor([[BOS, *hyp]], dtype=torch.long, device=device)  # (1, T)
    try:
        weights = decoder.cross_attention(tgt_in, EncoderOutput.concat(outputs))  # (1, T, S)
    except NotImplementedError as err:
        raise UserError(str(err)) from None
    return weights[0].float().cpu(), labels  # (T, S)


def _memory_labels(slot: str, ids: Tensor, length: int, vocab: Vocab | None, slots: int
                   ) -> list[str]:
    """The source pieces, when the slot's memory has one position per token; else positions."""
    if vocab is not None and ids.dim() == 1 and not ids.is_floating_point() and len(ids) == length:
        return pieces(vocab, ids.tolist())
    return [f"{slot}:{i}" if slots > 1 else str(i) for i in range(length)]


def pieces(vocab: Vocab | None, ids: list[int]) -> list[str]:
    """The piece of every id: specials by name, SentencePiece pieces as the model has them
    (with their ``▁``), words as they are; bare ids without a vocabulary."""
    found = []
    for i in ids:
        if i < len(SPECIALS):
            found.append(SPECIALS[i])
        elif vocab is None:
            found.append(str(i))
        elif hasattr(vocab, "sp"):  # SentencePieceVocab: decode() would drop the ``▁``
            found.append(vocab.sp.id_to_piece(i))
        else:
            found.append(vocab.decode([i]) or f"<{i}>")
    return found


def draw_heatmap(weights: Tensor, src_labels: list[str], tgt_labels: list[str], title: str,
                 path: Path, figure_class: type, canvas_class: type) -> None:
    """weights (T, S) as an image: source pieces along x, output pieces down y."""
    rows, cols = weights.shape
    figure = figure_class(figsize=(min(max(4.0, 0.32 * cols + 2.0), 40.0),
                                   min(max(3.0, 0.32 * rows + 1.8), 40.0)), dpi=100,
                          layout="constrained")
    canvas_class(figure)
    ax = figure.subplots()
    image = ax.imshow(weights.numpy(), cmap="viridis", vmin=0.0, aspect="auto",
                      interpolation="nearest")
    ax.set_xticks(range(cols), labels=src_labels, rotation=90, fontsize="small")
    ax.set_yticks(range(rows), labels=tgt_labels, fontsize="small")
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    ax.set_title(title)
    figure.colorbar(image, ax=ax, shrink=0.8, label="attention weight")
    figure.savefig(path, format="png")


def translation_pairs(model: MultiTaskModel, vocabs: Mapping[str, Vocab], pair: tuple,
                      lines: list[str], hypotheses: Sequence[list[Hypothesis]],
                      task: Task | None = None, limit: int = 10) -> dict[int, Pair]:
    """Input line number -> (source ids, best hypothesis) for the first ``limit`` lines that
    have a hypothesis, the lines read as `translate_lines` reads them (with ``task``: its target
    tag first; a multi-source pair: one tab-separated field per encoder slot)."""
    slots = pair[0] if isinstance(pair[0], tuple) else (pair[0],)
    rows = [row for row, hyps in enumerate(hypotheses) if hyps][:limit]
    columns = split_fields([lines[row] for row in rows], slots)
    specs = task.source_specs() if task is not None else \
        [source_spec(model, vocabs, slot) for slot in slots]
    sources = [source_from_lines(column, spec) for spec, column in zip(specs, columns)]
    found: dict[int, Pair] = {}
    for j, row in enumerate(rows):
        parts = [src.batch([j])[0][0] for src in sources]  # one row: no padding but facts'
        found[row] = (parts[0] if len(slots) == 1 else tuple(parts), hypotheses[row][0].tokens)
    return found
