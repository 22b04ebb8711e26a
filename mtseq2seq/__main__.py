"""Command line: `mtseq2seq prepare | train | evaluate | translate | graph | diagnose | tune |
average | plot | export` (thin: parse, dispatch)."""
from __future__ import annotations

import argparse
import logging
import sys

from .errors import UserError
from .interrupt import exit_status

log = logging.getLogger("mtseq2seq")


RUN_DIR_TRAIN = ("where vocabularies, checkpoints and logs go: DIR/vocab/, DIR/checkpoint_*.pt, "
                 "DIR/train.log (default: the recipe's run_dir, else runs/<recipe name>; "
                 "relative to the working directory)")


def add_recipe_args(parser: argparse.ArgumentParser, run_dir_help: str | None = RUN_DIR_TRAIN
                    ) -> None:
    """RECIPE and --set; also --run-dir with this help text, unless ``run_dir_help`` is None
    (the command has no use for a run directory)."""
    parser.add_argument("recipe", help="recipe YAML file, e.g. recipes/toy/one_to_many.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe value, e.g. --set train.max_steps=100 or "
                             "--set tasks.en-de.ratio=2 (repeatable; the value is read as YAML; "
                             "en-de and en:de name the task en>de)")
    if run_dir_help is not None:
        parser.add_argument("--run-dir", default=None, metavar="DIR", help=run_dir_help)


def add_decode_args(parser: argparse.ArgumentParser, default_beam: int | None) -> None:
    where = "the recipe's valid.beam" if default_beam is None else str(default_beam)
    parser.add_argument("--beam", type=int, default=default_beam, help=f"beam size (default: {where})")
    parser.add_argument("--alpha", type=float, default=None if default_beam is None else 0.6,
                        help="length penalty, GNMT style (default: "
                             f"{'valid.alpha' if default_beam is None else 0.6})")
    sample = parser.add_argument_group("sampling (instead of greedy or beam search)")
    sample.add_argument("--sample", action="store_true",
                        help="draw each output token at random from the model's distribution "
                             + ("(with --n-best N: N samples per line)" if default_beam else
                                "(default: the recipe's valid.sample)"))
    sample.add_argument("--temperature", type=float, default=None,
                        help="divides the logits: below 1 sharper, above 1 flatter (default: 1, "
                             "or valid.temperature)")
    sample.add_argument("--top-k", type=int, default=None,
                        help="draw only from the k most probable tokens (default: 0 = all)")
    sample.add_argument("--top-p", type=float, default=None,
                        help="draw only from the most probable tokens whose probabilities sum to "
                             "p (nucleus; default: 1 = all)")
    sample.add_argument("--seed", type=int, default=None,
                        help="seed of the sampling generator (default: 1, or valid.sample_seed): "
                             "the same seed and input give the same outputs")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__  # the package is imported already: costs nothing

    parser = argparse.ArgumentParser(
        prog="mtseq2seq", description="Multi-task sequence-to-sequence learning: train recipes, "
        "evaluate every task with its metric, translate with any encoder/decoder pair. A task "
        "en>de may be written en-de or en:de (an unquoted > redirects output in a shell).")
    parser.add_argument("--version", action="version", version=f"mtseq2seq {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    prepare = commands.add_parser("prepare", help="train vocabularies and encode the data (cached)")
    add_recipe_args(prepare, "where the vocabularies go: each slot's is read from DIR/vocab/ if "
                    "there, else trained and written there; the log goes to DIR/train.log "
                    "(default: the recipe's run_dir, else runs/<recipe name>; relative to the working "
                    "directory). The encoded data is cached next to the text, not in DIR")
    train = commands.add_parser("train", help="train a recipe (prepares what is missing first)")
    add_recipe_args(train)
    resume = train.add_mutually_exclusive_group()
    resume.add_argument("--resume", action="store_true",
                        help="continue from the run directory's checkpoint_last.pt (an error if "
                             "there is none); re-running without it continues too")
    resume.add_argument("--restart", action="store_true",
                        help="start from scratch even if the run directory holds "
                             "checkpoint_last.pt")
    add_evaluate_parser(commands)
    add_translate_parser(commands)
    graph = commands.add_parser("graph", help="print the tasks, which modules they share, "
                                "each module's parameter count and each task's share of them")
    add_recipe_args(graph, run_dir_help=None)
    graph.add_argument("--format", default="text", choices=["text", "dot"],
                       help="text (default), or Graphviz source: mtseq2seq graph R --format dot "
                            "| dot -Tpng -o graph.png")
    graph.add_argument("--png", default=None, metavar="FILE",
                       help="also draw the graph into FILE with matplotlib (pip install "
                            "'mtseq2seq[plot]')")
    diagnose = commands.add_parser("diagnose", help="print the task-gradient conflicts a run "
                                   "logged (train.diagnose_every) per shared module")
    diagnose.add_argument("run_dir", metavar="RUN_DIR", help="e.g. runs/NAME")
    tune = commands.add_parser("tune", help="time the candidate CPU kernels (oneDNN or MKL "
                               "products, fused or written-out attention) for a recipe's model "
                               "and cache the fastest for train (keyed by CPU model and torch "
                               "version)")
    add_recipe_args(tune, "where the vocabularies are read from or trained into (as for train)")
    add_average_parser(commands)
    add_output_parsers(commands)
    return parser


def add_output_parsers(commands: argparse._SubParsersAction) -> None:
    """`export` (CTranslate2) and `plot` (learning curves)."""
    from . import export_options, plots  # light: argparse and the package's error types

    export_options.add_arguments(commands.add_parser(
        "export", help="convert one task's Transformer encoder-decoder to a CTranslate2 model",
        description="Write one task's encoder and decoder (with its SentencePiece models) as a "
        "CTranslate2 model directory, for fast CPU/GPU inference outside PyTorch (needs "
        "ctranslate2: pip install 'mtseq2seq[ctranslate2]'). Example: mtseq2seq export "
        "--checkpoint runs/NAME/checkpoint_best.pt --task en-de --format ctranslate2 "
        "runs/NAME/ct2_en-de"))

    plots.add_arguments(commands.add_parser(
        "plot", help="learning curves (PNG) of run directories, from their metrics.jsonl",
        description="Learning curves of one or more runs from their metrics.jsonl: "
        "train_loss.png, valid_loss.png and valid_<metric>.png, one panel per task, one line "
        "per run (needs matplotlib: pip install 'mtseq2seq[plot]'). Example: mtseq2seq plot "
        "runs/base runs/shared --task en-de --metric chrf -o plots/compare"))


def add_average_parser(commands: argparse._SubParsersAction) -> None:
    average = commands.add_parser(
        "average", help="average the weights of several checkpoints of one recipe into one",
        description="Average checkpoints of one recipe (e.g. the last few of a run, kept by "
        "train.keep_last) into one that evaluate and translate take like any other. Examples: "
        "mtseq2seq average runs/NAME/checkpoint_step4000.pt runs/NAME/checkpoint_step5000.pt "
        "-o runs/NAME/checkpoint_avg.pt; mtseq2seq average --last 5 runs/NAME -o "
        "runs/NAME/checkpoint_avg5.pt")
    average.add_argument("inputs", nargs="+", metavar="CHECKPOINT",
                         help="checkpoint files; with --last N, one run directory")
    average.add_argument("--last", type=int, default=None, metavar="N",
                         help="the N newest checkpoint_step<S>.pt files of the run directory given")
    average.add_argument("-o", "--output", required=True, help="the averaged checkpoint to write")


def add_evaluate_parser(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser("evaluate", help="decode a split and score every task with its "
                                   "metric; writes <checkpoint>.<split>.scores.json")
    add_recipe_args(evaluate, run_dir_help=None)  # the checkpoint carries all it needs
    evaluate.add_argument("--checkpoint", required=True, help="e.g. runs/NAME/checkpoint_best.pt")
    evaluate.add_argument("--split", default="test", choices=["train", "valid", "test"],
                          help="which of each task's splits to score (default: test)")
    evaluate.add_argument("--tasks", nargs="+", default=None, metavar="TASK",
                          help="only these tasks, e.g. --tasks en-de en-parse (en-de, en:de and "
                               "'en>de' are the same task; default: all)")
    add_decode_args(evaluate, default_beam=None)


def add_translate_parser(commands: argparse._SubParsersAction) -> None:
    translate = commands.add_parser(
        "translate", help="translate stdin to stdout with a checkpoint (any trained encoder with "
        "any trained decoder)", description="Translate stdin to stdout, one output line per input "
        "line in order. An empty input line gives an empty line. An input line that is not valid "
        "UTF-8 stops the run: the lines before it are written, then the error names the line "
        "(exit status 2); --skip-bad-lines goes on instead.")
    translate.add_argument("--checkpoint", required=True)
    translate.add_argument("--task", default=None,
                           help="a trained task, e.g. --task en-de (or --task 'en>de', quoted: an "
                                "unquoted > redirects stdout in a shell); not with --encoder")
    translate.add_argument("--encoder", default=None, help="source slot, with --decoder instead of "
                           "--task; the pair need not have been trained together (zero-shot: "
                           "a warning says so)")
    translate.add_argument("--decoder", default=None, help="target slot (with --encoder)")
    translate.add_argument("--n-best", type=int, default=1,
                           help="hypotheses per line; above 1, rows LINE<TAB>TEXT<TAB>SCORE, "
                                "best first, LINE counted from 0; an empty input line gives one "
                                "row LINE<TAB><TAB> (empty text and score)")
    translate.add_argument("--skip-bad-lines", action="store_true",
                           help="an input line that is not valid UTF-8 gives an empty output line "
                                "(an n-best row LINE<TAB><TAB>) and a warning naming it, instead "
                                "of stopping the run")
    translate.add_argument("--batch-size", type=int, default=64, help="sentences per batch")
    translate.add_argument("--plot-attention", default=None, metavar="DIR",
                           help="also draw the decoder-to-source attention of the first 10 "
                                "translated lines as heatmaps (PNG) into DIR (needs matplotlib: "
                                "pip install 'mtseq2seq[plot]')")
    add_decode_args(translate, default_beam=5)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run_command(args)
    except UserError as err:
        print(f"mtseq2seq {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:  # a second stop signal, or Ctrl-C outside training
        signame = getattr(err, "signame", "SIGINT")
        print(f"\nmtseq2seq {args.command}: stopped at once by {signame}; files already written "
              "are complete (saves are atomic)", file=sys.stderr)
        return exit_status(signame)


def run_command(args: argparse.Namespace) -> int:
    from . import commands, tool_commands  # late: keeps `--help` fast (no torch import)

    return {"prepare": commands.prepare, "train": commands.train, "evaluate": commands.evaluate,
            "translate": commands.translate, "graph": tool_commands.graph,
            "diagnose": tool_commands.diagnose, "tune": tool_commands.tune,
            "average": tool_commands.average, "plot": tool_commands.plot,
            "export": tool_commands.export}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
