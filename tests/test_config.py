"""Recipe loading: includes, --set overrides, module defaults, and all problems reported at once."""
from __future__ import annotations

from pathlib import Path

import pytest

from mtseq2seq.errors import ConfigError
from mtseq2seq.recipe.loader import load_recipe
from tests.conftest import tiny_recipe, write, write_recipe


def test_valid_recipe_loads_with_defaults(tiny_corpus: Path, tmp_path: Path) -> None:
    recipe = load_recipe(write_recipe(tmp_path / "r.yaml", tiny_recipe(tiny_corpus)))
    assert recipe.name == "r"
    assert recipe.encoders["en"].type == "transformer"
    assert recipe.encoders["en"].options == {"dim": 16, "layers": 1, "heads": 2, "ff": 32,
                                             "dropout": 0.0}
    assert recipe.train.lr == 5e-4 and recipe.tasks["en>de"].ratio == 1.0


def test_five_mistakes_reported_at_once(tiny_corpus: Path, tmp_path: Path) -> None:
    raw = tiny_recipe(tiny_corpus)
    raw["encoders"]["en"] = {"type": "tranformer"}  # 1 unknown type
    raw["decoders"]["de"] = {"type": "transformer", "dim": 16, "heads": 2, "dropuot": 0.1}  # 2 option
    raw["tasks"]["en>fr"] = {"kind": "translation", "encoder": "en", "decoder": "fr"}  # 3 no slot
    raw["decoders"]["cs"] = {"type": "transformer", "dim": 16, "heads": 2}
    raw["tasks"]["en>cs"] = {"kind": "translation", "encoder": "en", "decoder": "cs",
                             "train": "nosuchsplit"}  # 4 no vocab for cs, 5 missing data file
    raw["train"]["optimizer"] = "adamm"  # 6 bad choice
    with pytest.raises(ConfigError) as info:
        load_recipe(write_recipe(tmp_path / "r.yaml", raw))
    text = str(info.value)
    problems = info.value.problems
    assert "encoders.en.type: unknown encoder type 'tranformer'" in text
    assert "did you mean 'transformer'?" in text
    assert "decoders.de.dropuot: unknown option 'dropuot'" in text and "did you mean 'dropout'" in text
    assert "tasks.en>fr.decoder: no decoder for slot 'fr'" in text
    assert "tasks.en>cs.decoder: slot 'cs' has no vocabulary" in text
    assert "tasks.en>cs.train: source file" in text and "nosuchsplit.en" in text
    assert "train.optimizer: got 'adamm', expected one of: adam, adamw; did you mean 'adam'?" in text
    assert len(problems) >= 6


def test_size_mismatch_names_both_slots(tiny_corpus: Path, tmp_path: Path) -> None:
    raw = tiny_recipe(tiny_corpus)
    raw["decoders"]["parse"] = {"dim": 32}
    with pytest.raises(ConfigError) as info:
        load_recipe(write_recipe(tmp_path / "r.yaml", raw))
    assert info.value.problems == [
        "tasks.en>parse: size mismatch: encoder 'en' outputs 16 but decoder 'parse' expects "
        "memory of 32 (set the same dim on both)"]


def test_include_and_overrides(tiny_corpus: Path, tmp_path: Path) -> None:
    raw = tiny_recipe(tiny_corpus)
    topology = {k: raw.pop(k) for k in ("encoders", "decoders", "tasks")}
    (tmp_path / "topologies").mkdir()
    (tmp_path / "sub").mkdir()
    write_recipe(tmp_path / "topologies" / "t.yaml", topology)
    raw["include"] = ["topologies/t.yaml"]  # found in a folder above the recipe's
    path = write_recipe(tmp_path / "sub" / "r.yaml", raw)
    recipe = load_recipe(path, ["train.max_steps=7", "train.lr=1e-3", "tasks.en>de.ratio=0.5",
                                "modules.transformer.layers=2"])
    assert recipe.train.max_steps == 7 and recipe.train.lr == 1e-3
    assert recipe.tasks["en>de"].ratio == 0.5 and set(recipe.tasks) == {"en>de", "en>parse"}
    assert recipe.decoders["de"].options["layers"] == 2


def test_bad_override_and_yaml_syntax(tiny_corpus: Path, tmp_path: Path) -> None:
    path = write_recipe(tmp_path / "r.yaml", tiny_recipe(tiny_corpus))
    with pytest.raises(ConfigError, match="expected KEY.PATH=VALUE"):
        load_recipe(path, ["train.max_steps"])
    with pytest.raises(ConfigError, match=r"train.max_steps: got 'many', expected an integer"):
        load_recipe(path, ["train.max_steps=many"])
    bad = write(tmp_path / "bad.yaml", "tasks: {a: [\n")
    with pytest.raises(ConfigError, match=r"bad.yaml line \d+: invalid YAML"):
        load_recipe(bad)


def test_module_family_switch_by_override(tiny_corpus: Path, tmp_path: Path) -> None:
    raw = tiny_recipe(tiny_corpus)
    raw["modules"]["rnn"] = {"dim": 16, "embed_dim": 8, "layers": 1}
    recipe = load_recipe(write_recipe(tmp_path / "r.yaml", raw), ["modules.type=rnn"])
    assert recipe.encoders["en"].type == "rnn"
    assert recipe.decoders["de"].options == {"dim": 16, "embed_dim": 8, "layers": 1}


def test_unknown_keys_everywhere(tiny_corpus: Path, tmp_path: Path) -> None:
    raw = tiny_recipe(tiny_corpus, trian={"max_steps": 3})
    raw["vocabs"]["en"]["sise"] = 3
    raw["schedule"] = {"type": "temperature", "temprature": 2}
    with pytest.raises(ConfigError) as info:
        load_recipe(write_recipe(tmp_path / "r.yaml", raw))
    text = str(info.value)
    assert "trian: unknown top-level key" in text and "did you mean 'train'" in text
    assert "vocabs.en.sise: unknown key" in text and "did you mean 'size'" in text
    assert "schedule.temprature: unknown option" in text and "did you mean 'temperature'" in text
