"""Shared fixtures: tiny recipes and corpora written into tmp_path."""
from __future__ import annotations

import contextlib
import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    """A 3-slot parallel corpus (en, de, parse) of 40 lines per split."""
    return write_tiny_corpus(tmp_path / "data")


SENTENCES = ["the cat sees a dog", "a dog runs", "the small cat sleeps", "a bird sings loudly"]


def write_tiny_corpus(folder: Path) -> Path:
    """en sentences, de = the words reversed, parse = a flat tree; 40 lines per split."""
    words = SENTENCES
    for split in ("train", "valid", "test"):
        lines = [words[i % len(words)] for i in range(40)]
        write(folder / f"{split}.en", "\n".join(lines) + "\n")
        write(folder / f"{split}.de", "\n".join(" ".join(reversed(line.split())) for line in lines) + "\n")
        write(folder / f"{split}.parse",
              "\n".join("(S " + " ".join("XX" for _ in line.split()) + " )S" for line in lines) + "\n")
    return folder


def tiny_recipe(data_dir: Path, **changes) -> dict:
    recipe = {
        "data_dir": str(data_dir),
        "vocabs": {"en": {"type": "words"}, "de": {"type": "words"}, "parse": {"type": "words"}},
        "modules": {"type": "transformer",
                    "transformer": {"dim": 16, "layers": 1, "heads": 2, "ff": 32, "dropout": 0.0}},
        "encoders": {"en": {}},
        "decoders": {"de": {}, "parse": {}},
        "tasks": {"en>de": {"kind": "translation", "encoder": "en", "decoder": "de"},
                  "en>parse": {"kind": "parsing", "encoder": "en", "decoder": "parse"}},
        "train": {"max_steps": 4, "batch_tokens": 200, "warmup": 2, "log_every": 2},
        "valid": {"every": 2},
    }
    recipe.update(changes)
    return recipe


def without_key_biases(name: str, value):
    """``value`` less the biases of attention keys: softmax ignores a shift of all scores, so
    their gradient is zero but for rounding, which Adam (dividing by its root mean square)
    turns into whole steps; they differ between any two orders of summation, not only here."""
    import torch

    if name.endswith("qkv.bias"):  # (3 D,) = query, key, value
        third = value.numel() // 3
        return torch.cat([value[:third], value[2 * third:]])
    if name.endswith("kv.bias"):  # (2 D,) = key, value
        return value[value.numel() // 2:]
    return value


def conv_plugin(type_name: str, dim: int = 16) -> str:
    """A user's plugin file: an encoder type of embedding plus one width-3 convolution."""
    return f"""
import torch
from torch import nn
from mtseq2seq import Encoder, EncoderOutput, register_encoder

@register_encoder("{type_name}")
class ConvEncoder(Encoder):
    def __init__(self, vocab_size: int, pad_id: int, dim: int = {dim}) -> None:
        super().__init__()
        self.output_size = dim
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=pad_id)
        self.conv = nn.Conv1d(dim, dim, 3, padding=1)

    def forward(self, src, src_mask):
        x = self.embed(src)  # (B, S, D)
        x = x + torch.relu(self.conv(x.transpose(1, 2))).transpose(1, 2)
        return EncoderOutput(x * src_mask.unsqueeze(-1), src_mask)
"""


def write_recipe(path: Path, recipe: dict) -> Path:
    path.write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def one_thread():
    """Tiny tensors gain nothing from intra-op threads, and threads stall badly on a busy machine
    (a module opts in with ``pytestmark = pytest.mark.usefixtures("one_thread")``)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True, scope="session")
def _fast_path_cache_of_the_session(tmp_path_factory: pytest.TempPathFactory):
    """`train` measures its fast paths into a cache of this session's, not the user's."""
    import os

    before = os.environ.get("MTSEQ2SEQ_CACHE_DIR")
    os.environ["MTSEQ2SEQ_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if before is None:
        del os.environ["MTSEQ2SEQ_CACHE_DIR"]
    else:
        os.environ["MTSEQ2SEQ_CACHE_DIR"] = before


@pytest.fixture(autouse=True)
def _built_in_fast_paths():
    """A test that trains leaves the paths it measured behind: restore the built-in ones."""
    yield
    from mtseq2seq.fast_paths import restore_defaults

    restore_defaults()


@pytest.fixture(autouse=True, scope="session")
def _nothing_written_into_the_working_tree():
    """Tests write only under tmp paths: no `runs/` or `data/` appears in the working tree."""
    root = Path(__file__).resolve().parent.parent
    before = {name: (root / name).exists() for name in ("runs", "data")}
    yield
    made = [name for name, existed in before.items() if not existed and (root / name).exists()]
    assert not made, f"the tests wrote {made} into the working tree {root}"


def task_split(recipe, task: str, role: str, vocabs: dict, max_len: int | None):
    """(data, stats) of one task's split, read as training reads it (through its built task)."""
    from mtseq2seq.build.tasks import build_tasks
    from mtseq2seq.data.loading import load_split

    built = build_tasks(recipe, vocabs)[task]
    *src_paths, tgt_path = built.files[role]
    return load_split(built.where(role), tuple(src_paths), tgt_path, built.source_specs(),
                      built.vocabs[built.decoder], max_len)


DATA_SCRIPTS = Path(__file__).resolve().parent.parent / "data_scripts"


def run_data_script(name: str, *args) -> subprocess.CompletedProcess[str]:
    """Run ``data_scripts/<name>`` in a subprocess from the project root."""
    command = [sys.executable, str(DATA_SCRIPTS / name), *map(str, args)]
    return subprocess.run(command, cwd=DATA_SCRIPTS.parent, capture_output=True, text=True,
                          timeout=60)


@contextlib.contextmanager
def loaded_data_script(name: str):
    """``data_scripts/<name>.py`` imported in this process (saves a subprocess), with the sibling
    modules it imports (``common``, ``ud``) forgotten afterwards."""
    sys.path.insert(0, str(DATA_SCRIPTS))
    spec = importlib.util.spec_from_file_location(f"data_scripts_{name}", DATA_SCRIPTS / f"{name}.py")
    try:
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # a dataclass in it looks its module up there
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(DATA_SCRIPTS))
        for sibling in (spec.name, "common", "ud"):
            sys.modules.pop(sibling, None)
