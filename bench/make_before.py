"""Put a committed revision's package next to the working tree's, renamed, for before/after runs.

    python bench/make_before.py [REV] [DIR]        # default: HEAD into /tmp/mtseq2seq_before

Writes DIR/mtseq2seq_before (``git archive``; read-only for the repository). The package's imports
are relative, so the copy imports as ``mtseq2seq_before`` beside the current ``mtseq2seq``, and the
benchmarks' ``--before DIR`` option measures both in one run.
"""
from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    rev = sys.argv[1] if len(sys.argv) > 1 else "HEAD"
    out = Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/mtseq2seq_before")
    archive = subprocess.run(["git", "archive", "--format=tar", rev, "mtseq2seq"], cwd=ROOT,
                             check=True, capture_output=True).stdout
    target = out / "mtseq2seq_before"
    shutil.rmtree(target, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(out / "_extract", filter="data")
    (out / "_extract" / "mtseq2seq").rename(target)
    shutil.rmtree(out / "_extract")
    print(f"{rev} -> {target} (use --before {out})")


if __name__ == "__main__":
    main()
