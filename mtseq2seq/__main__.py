"""Command line: `mtseq2seq prepare | train | graph` (thin: parse arguments, call the builders)."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from tqdm import tqdm

from .errors import UserError

log = logging.getLogger("mtseq2seq")


class TqdmHandler(logging.Handler):
    """Log lines that do not break a progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        tqdm.write(self.format(record), file=sys.stderr)


def setup_logging(run_dir: Path | None, verbose: bool = False) -> None:
    root = logging.getLogger("mtseq2seq")
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.handlers.clear()
    console = TqdmHandler()
    console.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    root.addHandler(console)
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        file = logging.FileHandler(run_dir / "train.log", encoding="utf-8")
        file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(file)


def add_recipe_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="recipe YAML file, e.g. recipes/toy/one_to_many.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe value, e.g. --set train.max_steps=100 "
                             "(repeatable; the value is read as YAML)")
    parser.add_argument("--run-dir", default=None,
                        help="where vocabularies, checkpoints and logs go (default: recipe's "
                             "run_dir, else runs/<recipe name>)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mtseq2seq", description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    prepare = commands.add_parser("prepare", help="train vocabularies and encode the data (cached)")
    add_recipe_args(prepare)
    train = commands.add_parser("train", help="train a recipe (prepares what is missing first)")
    add_recipe_args(train)
    train.add_argument("--restart", action="store_true",
                       help="start from scratch even if the run directory holds checkpoint_last.pt "
                            "(default: continue from it)")
    graph = commands.add_parser("graph", help="print the tasks and which modules they share")
    add_recipe_args(graph)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run_command(args)
    except UserError as err:
        print(f"mtseq2seq {args.command}: error: {err}", file=sys.stderr)
        return 2


def run_command(args: argparse.Namespace) -> int:
    from . import commands  # late: keeps `--help` fast (no torch import)

    return {"prepare": commands.prepare, "train": commands.train,
            "graph": commands.graph}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
