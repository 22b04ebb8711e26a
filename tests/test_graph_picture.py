"""`mtseq2seq graph --format dot` and `--png`: Graphviz source that parses, listing every module
with its parameter count and every task as an edge with its share of the parameters."""
from __future__ import annotations

from pathlib import Path

import pytest

from mtseq2seq.__main__ import main
from mtseq2seq.build.sizes import parameter_counts
from mtseq2seq.recipe.loader import load_recipe
from tests.conftest import tiny_recipe, write_recipe


def test_dot_parses_and_names_every_module_and_task(tiny_corpus: Path, tmp_path: Path,
                                                    capsys) -> None:
    pydot = pytest.importorskip("pydot")  # a test dependency (setup.cfg: test)
    path = write_recipe(tmp_path / "r.yaml", tiny_recipe(tiny_corpus))
    assert main(["graph", str(path), "--format", "dot"]) == 0
    (graph,) = pydot.graph_from_dot_data(capsys.readouterr().out)
    counts = parameter_counts(load_recipe(str(path), check_files=False), tmp_path / "none")
    labels = {n.get_name().strip('"'): n.get_label().strip('"') for n in graph.get_nodes()
              if n.get_name() not in ("node", "edge", "graph")}
    assert set(labels) == {"encoder:en", "decoder:de", "decoder:parse"}
    for (side, slot), count in counts.items():
        assert f"{count:,} parameters" in labels[f"{side}:{slot}"]
    edges = {(e.get_source().strip('"'), e.get_destination().strip('"')): e.get_label()
             for e in graph.get_edges()}
    total = sum(counts.values())
    share = (counts[("encoder", "en")] + counts[("decoder", "de")]) / total
    assert edges[("encoder:en", "decoder:de")] == f'"en>de ({share:.0%})"'
    assert ("encoder:en", "decoder:parse") in edges


def test_png_is_drawn_and_text_gives_the_shares(tiny_corpus: Path, tmp_path: Path,
                                                capsys) -> None:
    pytest.importorskip("matplotlib")
    path = write_recipe(tmp_path / "r.yaml", tiny_recipe(tiny_corpus))
    picture = tmp_path / "graph.png"
    assert main(["graph", str(path), "--png", str(picture)]) == 0
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size > 2000
    assert "share of the parameters each task touches: en>de" in capsys.readouterr().out
