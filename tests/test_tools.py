"""The developer checks in tools/: the package keeps its shape, and the checker can fail."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKER = ROOT / "tools" / "check_shape.py"


def run_checker(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECKER), *map(str, paths)], text=True,
                          capture_output=True)


def test_the_package_keeps_its_shape() -> None:
    done = run_checker()
    assert done.returncode == 0, done.stdout


def test_the_checker_fails_on_a_long_file_and_a_long_function(tmp_path: Path) -> None:
    long_file = tmp_path / "long.py"
    long_file.write_text("x = 1\n" * 301)
    body = "".join(f"    y{i} = {i}\n" for i in range(60))
    long_function = tmp_path / "func.py"
    long_function.write_text(f"def too_long():\n{body}")  # 61 lines
    fine = tmp_path / "fine.py"
    fine.write_text("x = 1\n" * 300)
    done = run_checker(long_file, long_function, fine)
    assert done.returncode == 1
    assert f"{long_file}: 301 lines (limit 300)" in done.stdout
    assert f"{long_function}:1 too_long: 61 lines (limit 60)" in done.stdout
    assert str(fine) not in done.stdout and "2 problem(s) in 3 file(s)" in done.stdout


def test_the_package_has_no_import_circle() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "import_cycles.py")], text=True,
                          capture_output=True)
    assert done.returncode == 0, done.stdout


def test_the_circle_finder_finds_a_circle() -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        from import_cycles import cycles
    finally:
        sys.path.remove(str(ROOT / "tools"))
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
