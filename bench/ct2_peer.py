"""CTranslate2 as a decoding peer of decode_speed.py: the HF Marian peer converted, and its search.

Conversion: the in-memory MarianMTModel of the HF peer (random weights, no download, no tokenizer
files) goes through ``ctranslate2.converters``' loader for BART-style models, with Marian's layout
(post-norm, no embedding layer norm), and is saved with float32 weights; ``compute_type="int8"``
quantizes them when the translator loads them. Not ``MarianMTLoader`` (which
``TransformersConverter`` picks for a MarianConfig): it assumes real Marian checkpoints, whose
``<pad>`` is the last id and starts the decoder from a zero embedding, so it drops the last row of
the vocabulary and of every embedding and starts from zeros. The bench's Marian has PAD = 0 and
starts from BOS (id 2), so the converted model here is the HF peer itself, all 8,000 rows; with the
same weights its fp32 outputs are the HF peer's (decode_speed.py's outputs check counts them).

Vocabulary: the token string of id i is ``vocabulary(V)[i]``: "<pad>", "<unk>", "<s>", "</s>",
then "w4" ... "w7999", registered as the source and target vocabulary of the converted model, so
source ids map to strings and output strings back to ids without loss.

This module imports no torch at module level: ``python bench/ct2_peer.py rss ...`` is the memory
child of a CT2 row, a fresh process that loads only CTranslate2 (what a CTranslate2 deployment
needs) and reports its peak resident memory.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from torch import Tensor, nn

PAD, EOS = 0, 3  # as in synthetic.py (not imported: it imports torch)
COMPUTE = {"fp32": "float32", "int8": "int8"}  # row name -> CTranslate2 compute_type
Decode = Callable[[list[list[int]], int], list[list[int]]]  # unpadded source ids, beam -> outputs


def vocabulary(size: int) -> list[str]:
    """Token strings of ids 0 .. size - 1 (the special ids of synthetic.py, then one word per id)."""
    return ["<pad>", "<unk>", "<s>", "</s>"] + [f"w{i}" for i in range(4, size)]


def convert(model: nn.Module, out_dir: str) -> None:
    """Save the HF MarianMTModel ``model`` as a CTranslate2 model (float32 weights) in ``out_dir``."""
    from ctranslate2.converters.transformers import BartLoader

    class MarianAsIs(BartLoader):
        """MarianMTModel's weights as they are (see the module docstring: not MarianMTLoader)."""

        def get_model_spec(self, model):
            model.config.normalize_before = False  # Marian: post-norm,
            model.config.normalize_embedding = False  # no layer norm on the embeddings
            return super().get_model_spec(model)

    tokens = vocabulary(model.config.vocab_size)

    class Vocab:
        """What the loader asks of a tokenizer: the vocabulary and the special tokens' strings."""

        bos_token, eos_token, unk_token = tokens[2], tokens[EOS], tokens[1]

        def get_vocab(self) -> dict[str, int]:
            return {token: i for i, token in enumerate(tokens)}

        def convert_ids_to_tokens(self, i: int) -> str:
            return tokens[i]  # the decoder start token: BOS, as the HF peer's decoder_start_token_id

    spec = MarianAsIs()(model, Vocab())
    spec.validate()
    spec.optimize(quantization=None)  # float32 on disk; int8 is the translator's compute_type
    Path(out_dir).mkdir(parents=True)
    spec.save(out_dir)


def decoder(model_dir: str, compute: str, device: str, threads: int, steps: int) -> Decode:
    """A CTranslate2 translator of ``model_dir`` and a function decoding one batch of id lists."""
    import ctranslate2

    translator = ctranslate2.Translator(model_dir, device=device, compute_type=COMPUTE[compute],
                                        intra_threads=threads, inter_threads=1)
    tokens = json.loads((Path(model_dir) / "shared_vocabulary.json").read_text())  # the model's own
    index = {token: i for i, token in enumerate(tokens)}

    def decode(rows: list[list[int]], beam: int) -> list[list[int]]:
        # exactly ``steps`` decoder steps per sentence, as the other systems: EOS is banned before
        # min_decoding_length and decoding stops at max_decoding_length; CT2 returns the words
        # without the decoder start token, so every output must be ``steps`` words long (checked
        # on every batch here, so a length the others do not run cannot go unnoticed)
        results = translator.translate_batch(
            [[tokens[i] for i in row] for row in rows], max_batch_size=0, beam_size=beam,
            num_hypotheses=1, min_decoding_length=steps, max_decoding_length=steps,
            max_input_length=0)
        out = [[index[token] for token in result.hypotheses[0]] for result in results]
        if any(len(row) != steps for row in out):
            raise RuntimeError(f"CTranslate2 output lengths {sorted({len(r) for r in out})}, "
                               f"expected {steps}")
        return out
    return decode


def peer(model_dir: str, compute: str, device: str, threads: int, steps: int
         ) -> Callable[[Tensor, int], list[list[int]]]:
    """decode_speed.py's ``run(src, beam)`` for a CT2 row: padded source ids (B, S) -> output ids.

    The ids -> strings -> ids mapping runs inside the timed call (as HF's ``tolist`` does), a few
    dictionary look-ups per token, well under 1% of a batch's decoding."""
    decode = decoder(model_dir, compute, device, threads, steps)

    def run(src: Tensor, beam: int) -> list[list[int]]:
        rows = [[i for i in row if i != PAD] for row in src.tolist()]  # (B, S) -> unpadded ids
        return decode(rows, beam)
    return run


def peers(model: nn.Module, model_dir: str, device: str, threads: int, steps: int
          ) -> dict[str, Callable[[Tensor, int], list[list[int]]]]:
    """``model`` (the HF peer) converted to ``model_dir``: the rows "ct2 fp32" and "ct2 int8"."""
    convert(model, model_dir)
    return {f"ct2 {c}": peer(model_dir, c, device, threads, steps) for c in COMPUTE}


def agreement(outs: dict[str, list[list[int]]], beam: int) -> list[str]:
    """How many CT2 outputs are the HF peer's (the same weights: fp32 should be all of them)."""
    return [f"{name} == hf (same weights, beam {beam}): "
            f"{sum(a == b for a, b in zip(outs[name], outs['hf']))}/{len(outs['hf'])} sentences"
            for name in outs if name.startswith("ct2") and "hf" in outs]


def target(rate: dict[str, float], modes: list[str], beam: int) -> tuple[list[list], list[str]]:
    """The issue's target, ours >= CT2 fp32 in every search: ratio rows and the verdict line."""
    ratios = {mode: rate[f"ours {mode}"] / rate[f"ct2 fp32 {mode}"] for mode in modes
              if f"ct2 fp32 {mode}" in rate}
    rows = [[f"ours / CT2 fp32 {mode}", f"{ratio:.2f}", ">= 1.0", "met" if ratio >= 1 else "MISSED"]
            for mode, ratio in ratios.items()]
    if not ratios:
        return rows, []
    verdict = "met" if min(ratios.values()) >= 1 else "MISSED"
    return rows, [f'- issue target "greedy and beam {beam} >= CT2 fp32": {verdict}']


def rss_mib(field: str = "VmRSS") -> float:
    """This process's resident memory (``VmRSS``) or its peak so far (``VmHWM``), in MiB (Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return math.nan


def measure_rss(model_dir: str, compute: str, device: str, threads: int, steps: int, beam: int,
                rows_file: str) -> dict[str, float]:
    """Peak RSS of a CT2 row, measured in a fresh process (this file run as ``rss``)."""
    command = [sys.executable, __file__, "rss", model_dir, compute, device, str(threads),
               str(steps), str(beam), rows_file]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def rss_child(model_dir: str, compute: str, device: str, threads: str, steps: str, beam: str,
              rows_file: str) -> None:
    """The memory child: load the model, decode every batch once greedily and once with the beam.

    Prints {"libraries": RSS after importing ctranslate2, "greedy": peak after the greedy pass,
    "beam<k>": peak after the beam pass}; the peak (VmHWM) is monotone, so the beam figure is the
    process's peak over both passes (the beam's, which needs k times the greedy's hypotheses)."""
    import ctranslate2  # noqa: F401  (the library alone, before any model)

    out = {"libraries": rss_mib()}
    decode = decoder(model_dir, compute, device, int(threads), int(steps))
    batches = json.loads(Path(rows_file).read_text())  # [batch][sentence][ids]
    for k in (1, int(beam)):
        for rows in batches:
            decode(rows, k)
        out["greedy" if k == 1 else f"beam{k}"] = rss_mib("VmHWM")
    print(json.dumps(out))


if __name__ == "__main__" and sys.argv[1:2] == ["rss"]:
    rss_child(*sys.argv[2:])
