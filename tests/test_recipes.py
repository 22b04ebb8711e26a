"""Every shipped recipe loads and checks cleanly (types, options, slots, sizes), with both families."""
from __future__ import annotations

from pathlib import Path

import pytest

from mtseq2seq.recipe.data_files import input_kind
from mtseq2seq.recipe.loader import load_recipe
from mtseq2seq.recipe.yaml_files import load_raw

ROOT = Path(__file__).resolve().parent.parent / "recipes"
RECIPES = sorted(p for p in ROOT.rglob("*.yaml")
                 if "topologies" not in p.parts and p.name != "common.yaml")


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: str(p.relative_to(ROOT)))
@pytest.mark.parametrize("family", ["transformer", "rnn"])
def test_recipe_is_valid(path: Path, family: str) -> None:
    raw = load_raw(path)
    size = raw.get("modules", {}).get(family, {}).get("dim")  # non-text encoders follow the family's size
    other = [f"encoders.{slot}.dim={size}" for slot, cfg in raw.get("encoders", {}).items()
             if (cfg or {}).get("type") in ("features", "facts") and size]
    recipe = load_recipe(path, [f"modules.type={family}", *other], check_files=False)
    text = {slot for slot in recipe.encoders if input_kind(recipe, slot) == "tokens"}
    assert recipe.tasks and all(recipe.encoders[slot].type == family for slot in text)
    features = {slot for slot in recipe.encoders if input_kind(recipe, slot) == "features"}
    used = {slot for t in recipe.tasks.values() for slot in t.slots}
    assert used - features <= set(recipe.vocabs) and not features & set(recipe.vocabs)


def test_recipe_folders_are_covered() -> None:
    names = {str(p.relative_to(ROOT)) for p in RECIPES}
    assert {"toy/one_to_many.yaml", "toy/many_to_one.yaml", "toy/many_to_many.yaml",
            "multi30k/en_de.yaml", "multi30k/one_to_many.yaml", "toy/dialogue.yaml",
            "toy/many_to_one_captioning.yaml", "multi30k/many_to_one_captioning.yaml",
            "cmu_dog/facts.yaml", "cmu_dog/nofacts.yaml", "cmu_dog/multi_task.yaml",
            "toy/task_embeddings.yaml"} <= names


def test_readme_shows_the_quickstart_recipe_files_as_they_are() -> None:
    """README's recipe blocks labelled with a path (first line '# recipes/...') are whole files."""
    import re

    readme = (ROOT.parent / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n# (recipes/\S+\.yaml)\n(.*?)```", readme, re.S)
    assert {name for name, _ in blocks} >= {"recipes/toy/one_to_many.yaml",
                                            "recipes/toy/common.yaml"}
    for name, text in blocks:
        assert (ROOT.parent / name).read_text(encoding="utf-8") == text, name
