"""Every shipped recipe loads and checks cleanly (types, options, slots, sizes), with both families."""
from __future__ import annotations

from pathlib import Path

import pytest

from mtseq2seq.recipe.loader import load_recipe

ROOT = Path(__file__).resolve().parent.parent / "recipes"
RECIPES = sorted(p for p in ROOT.rglob("*.yaml")
                 if "topologies" not in p.parts and p.name != "common.yaml")


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: str(p.relative_to(ROOT)))
@pytest.mark.parametrize("family", ["transformer", "rnn"])
def test_recipe_is_valid(path: Path, family: str) -> None:
    recipe = load_recipe(path, [f"modules.type={family}"], check_files=False)
    assert recipe.tasks and all(m.type == family for m in recipe.encoders.values())
    used = {t.encoder for t in recipe.tasks.values()} | {t.decoder for t in recipe.tasks.values()}
    assert used <= set(recipe.vocabs)


def test_recipe_folders_are_covered() -> None:
    names = {str(p.relative_to(ROOT)) for p in RECIPES}
    assert {"toy/one_to_many.yaml", "toy/many_to_one.yaml", "toy/many_to_many.yaml",
            "multi30k/en_de.yaml", "multi30k/one_to_many.yaml"} <= names


def test_readme_shows_the_quickstart_recipe_files_as_they_are() -> None:
    """README's recipe blocks labelled with a path (first line '# recipes/...') are whole files."""
    import re

    readme = (ROOT.parent / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n# (recipes/\S+\.yaml)\n(.*?)```", readme, re.S)
    assert {name for name, _ in blocks} >= {"recipes/toy/one_to_many.yaml",
                                            "recipes/toy/common.yaml"}
    for name, text in blocks:
        assert (ROOT.parent / name).read_text(encoding="utf-8") == text, name
