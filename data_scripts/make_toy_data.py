#!/usr/bin/env python
"""Generate the toy multi-task corpus (en, de, fr, parse, pos, stype) with `mtseq2seq.toydata.generate`.

Writes `{train,valid,test}.{en,de,fr,parse,pos,stype}` plus `toy_manifest.json`; `.pos` and `.stype` are
labels for classification and sequence-labelling heads (a part-of-speech tag per English word, and a
sentence type: relative, coordination, prepositional, transitive or intransitive).

Example:
    python data_scripts/make_toy_data.py --out data/toy --seed 1
"""
from __future__ import annotations

import argparse
import sys
import time

from mtseq2seq.errors import UserError
from mtseq2seq.toydata import DEFAULT_SIZES, MANIFEST_NAME, SENTENCE_TYPES, generate


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of this script."""
    parser = argparse.ArgumentParser(
        description="Write a synthetic multi-task corpus: English-like sentences (.en), their "
                    "linearized constituency trees with words masked as XX (.parse), and rule-based "
                    "translations into two invented languages (.de: verb-final relative clauses and "
                    "case-marked articles; .fr: post-nominal adjectives and gender agreement), plus "
                    "labels: a part-of-speech tag per English word (.pos) and a sentence type per "
                    f"line (.stype: {', '.join(SENTENCE_TYPES)}). "
                    f"Files: {{train,valid,test}}.{{en,de,fr,parse,pos,stype}} plus {MANIFEST_NAME}, "
                    "line-aligned and byte-identical for the same seed and sizes.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", required=True, metavar="DIR", default=argparse.SUPPRESS,
                        help="output directory (created if missing)")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    for split, size in DEFAULT_SIZES.items():
        parser.add_argument(f"--{split}", type=int, default=size, metavar="N", help=f"sentences in {split}")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Generate the corpus and print a one-line summary; return the exit status."""
    args = parse_args(argv)
    sizes = {split: getattr(args, split) for split in DEFAULT_SIZES}
    start = time.perf_counter()
    try:
        manifest = generate(args.out, seed=args.seed, sizes=sizes)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    counts = ", ".join(f"{split} {n}" for split, n in manifest["sizes"].items())
    seconds = time.perf_counter() - start
    print(f"wrote toy corpus to {args.out} (seed {args.seed}; {counts}) in {seconds:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
