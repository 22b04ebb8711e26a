"""The project's shape rule (DESIGN.md section 6): package files under 300 lines, functions under 60.

    python tools/check_shape.py [PATH ...]      # default: mtseq2seq/

Prints each file or function over its limit and exits 1 if there is one; CI runs it (`.ci/run`,
and `tests/test_tools.py` runs it on the package and on a file made too long on purpose).
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

MAX_FILE_LINES = 300
MAX_FUNCTION_LINES = 60


def python_files(paths: list[Path]) -> list[Path]:
    found = []
    for path in paths:
        found += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return found


def problems(path: Path) -> list[str]:
    """'<file>: N lines (limit 300)' and '<file>:<line> <function>: N lines (limit 60)'."""
    text = path.read_text(encoding="utf-8")
    found = []
    lines = text.count("\n")
    if lines > MAX_FILE_LINES:
        found.append(f"{path}: {lines} lines (limit {MAX_FILE_LINES}); split it along a seam")
    for node in ast.walk(ast.parse(text, filename=str(path))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{path}:{node.lineno} {node.name}: {length} lines "
                             f"(limit {MAX_FUNCTION_LINES})")
    return found


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parent.parent
    paths = [Path(a) for a in argv] or [root / "mtseq2seq"]
    found = [p for path in python_files(paths) for p in problems(path)]
    for line in found:
        print(line)
    print(f"shape: {len(found)} problem(s) in {len(python_files(paths))} file(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
