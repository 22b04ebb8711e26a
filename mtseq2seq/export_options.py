"""The flags of `mtseq2seq export` (`export_ct2.py` does the work): here, apart, so that
building the command line imports neither torch nor ctranslate2."""
from __future__ import annotations

import argparse

QUANTIZATIONS = ("none", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16",
                 "float16", "bfloat16", "float32")  # ctranslate2.specs' ACCEPTED_MODEL_TYPES
MAX_POSITIONS = 1024  # rows of the position tables: CTranslate2's default max_input_length


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `mtseq2seq export` (a checkpoint alone is enough, as for `translate`)."""
    parser.add_argument("out_dir", metavar="OUT_DIR",
                        help="the model directory to write (new, or an empty folder)")
    parser.add_argument("--checkpoint", required=True, help="e.g. runs/NAME/checkpoint_best.pt")
    parser.add_argument("--task", required=True,
                        help="the task whose encoder and decoder are exported, e.g. --task en-de "
                             "(en-de, en:de and 'en>de' are the same task)")
    parser.add_argument("--format", default="ctranslate2", choices=["ctranslate2"],
                        help="the format written (default: ctranslate2, the only one)")
    parser.add_argument("--quantization", default="none", choices=QUANTIZATIONS,
                        help="the weights' type on disk (default: none = float32 as trained); "
                             "CTranslate2 can still convert at load time (compute_type)")
    parser.add_argument("--max-positions", type=int, default=MAX_POSITIONS,
                        help="the longest source (tokens, tag and </s>) and output the model can "
                             f"run (default: {MAX_POSITIONS})")
