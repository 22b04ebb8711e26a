"""Task embeddings (`tasks.<t>.embedding`, `task_embeddings.py`) and target tags
(`tasks.<t>.tgt_tag`): per-task outputs, gradients and training of the vectors, every module
type's input layer, the reserved tag before every source (noise leaves it alone), recipes with
neither left exactly as they were, the recipe checks, and two tasks that one shared encoder and
decoder can only tell apart by their vector or tag, learned end to end."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mtseq2seq import checkpoint
from mtseq2seq.__main__ import main
from mtseq2seq.build.prepare import prepare
from mtseq2seq.build.trainer import build_trainer
from mtseq2seq.errors import ConfigError, UserError
from mtseq2seq.freezing import frozen_parameters
from mtseq2seq.modules import DECODERS, ENCODERS
from mtseq2seq.recipe.loader import load_recipe
from mtseq2seq.specials import EOS
from mtseq2seq.task_embeddings import TaskEmbeddings, input_layer, input_width
from tests.conftest import write_recipe
from tests.test_cli_decode import run_translate
from tests.test_faults import fails
from tests.test_modules import build, memory_of, padded_batch

pytestmark = pytest.mark.usefixtures("one_thread")
TAGS = {"copy": "<2copy>", "rev": "<2rev>"}


def shared_recipe(data: Path, **task_keys) -> dict:
    """Two tasks on one encoder and one decoder slot: `copy` writes the English sentence back,
    `rev` its words reversed (the tiny corpus's `de`). ``task_keys``: name -> extra keys."""
    tasks = {"copy": {"kind": "autoencoder", "encoder": "en", "decoder": "out",
                      "files": {"decoder": "en"}},
             "rev": {"kind": "autoencoder", "encoder": "en", "decoder": "out",
                     "files": {"decoder": "de"}}}
    for name, keys in task_keys.items():
        tasks[name].update(keys)
    return {
        "data_dir": str(data), "seed": 3,
        "vocabs": {"en": {"type": "words"}, "out": {"type": "words"}},
        "modules": {"type": "transformer",
                    "transformer": {"dim": 16, "layers": 1, "heads": 2, "ff": 32, "dropout": 0.0}},
        "encoders": {"en": {}}, "decoders": {"out": {}}, "tasks": tasks,
        "train": {"max_steps": 4, "batch_tokens": 200, "warmup": 2, "log_every": 2, "threads": 1},
        "valid": {"every": 2, "decode": False},
    }


def both(**keys) -> dict:
    return {"copy": dict(keys), "rev": dict(keys)}


def trainer_of(raw: dict, tmp_path: Path, name: str = "run"):
    recipe = load_recipe(write_recipe(tmp_path / f"{name}.yaml", raw))
    return build_trainer(recipe, tmp_path / name, prepare(recipe, tmp_path / name))


def vectors(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()
            if k.startswith("task_embeddings.")}


@pytest.mark.parametrize("side", ["encoder", "decoder", "both"])
def test_a_task_embedding_changes_outputs_per_task_and_trains(side: str, tiny_corpus: Path,
                                                              tmp_path: Path) -> None:
    trainer = trainer_of(shared_recipe(tiny_corpus, **both(embedding=side)), tmp_path)
    model, tasks = trainer.model.eval(), trainer.tasks
    sides = ("encoder", "decoder") if side == "both" else (side,)
    slots = {"encoder": "en", "decoder": "out"}
    assert set(vectors(model)) == {f"task_embeddings.{t}.{s}.{slots[s]}" for t in tasks
                                   for s in sides}
    batch = next(trainer.data.train["copy"])
    with torch.no_grad():
        plain = tasks["copy"].kind.forward(model, tasks["copy"], batch)  # (B, T, V)
        outputs = {}
        for name in tasks:
            with model.task_inputs(name):
                outputs[name] = tasks[name].kind.forward(model, tasks[name], batch)
        assert torch.equal(tasks["copy"].kind.forward(model, tasks["copy"], batch), plain)
    assert not torch.allclose(outputs["copy"], outputs["rev"])  # the same input, per task
    assert not torch.allclose(outputs["copy"], plain)  # the hooks are gone after the block
    model.train()
    trainer._forward_backward("copy")
    grads = {k: p.grad for k, p in model.named_parameters() if k.startswith("task_embeddings.")}
    assert all(g is not None and g.abs().sum() > 0 for k, g in grads.items() if ".copy." in k)
    assert all(g is None for k, g in grads.items() if ".rev." in k)  # not in rev's graph
    assert len(frozen_parameters(model, ["task_embeddings.*.*.*"], "train.freeze")) == \
        len(grads) == 2 * len(sides)  # `freeze:` globs reach them


def test_the_vectors_are_optimised_and_saved(tiny_corpus: Path, tmp_path: Path) -> None:
    raw = shared_recipe(tiny_corpus, **both(embedding="both"))
    start = vectors(trainer_of(raw, tmp_path, "fresh").model)
    path = write_recipe(tmp_path / "r.yaml", raw)
    assert main(["train", str(path), "--run-dir", str(tmp_path / "run")]) == 0
    saved = checkpoint.load(tmp_path / "run" / "checkpoint_last.pt")["model"]
    assert set(start) <= set(saved)
    assert all(not torch.equal(saved[k], start[k]) for k in start)  # each one trained


def test_a_recipe_without_embeddings_or_tags_is_unchanged(tiny_corpus: Path,
                                                          tmp_path: Path) -> None:
    plain = trainer_of(shared_recipe(tiny_corpus), tmp_path, "plain")
    assert not list(plain.model.task_embeddings.parameters())
    assert not any(k.startswith("task_embeddings") for k in plain.model.state_dict())
    assert all(not spec.prefix for t in plain.tasks.values() for spec in t.source_specs())
    embedded = trainer_of(shared_recipe(tiny_corpus, **both(embedding="both")), tmp_path, "emb")
    for key, tensor in plain.model.state_dict().items():  # the vectors are drawn after these
        assert torch.equal(tensor, embedded.model.state_dict()[key]), key
    tagged = trainer_of(shared_recipe(tiny_corpus, copy={"tgt_tag": TAGS["copy"]}), tmp_path, "tag")
    assert tagged.tasks["copy"].vocabs["out"].payload() == plain.tasks["copy"].vocabs["out"].payload()
    words = tagged.tasks["copy"].vocabs["en"].words
    assert words == [*words[:4], TAGS["copy"], *plain.tasks["copy"].vocabs["en"].words[4:]]


def test_a_tag_is_the_first_source_token_of_its_task(tiny_corpus: Path, tmp_path: Path) -> None:
    noise = {"drop": 0.5, "shuffle": 3, "mask": 0.3}
    raw = shared_recipe(tiny_corpus, copy={"tgt_tag": TAGS["copy"], "noise": noise},
                        rev={"tgt_tag": TAGS["rev"]})
    trainer = trainer_of(raw, tmp_path)
    vocab = trainer.tasks["copy"].vocabs["en"]
    ids = {name: vocab.symbol_id(tag) for name, tag in TAGS.items()}
    assert sorted(ids.values()) == [5, 6] and vocab.mask_id == 4  # <mask> keeps id 4
    for name in ("copy", "rev"):
        for _ in range(3):  # noised (copy) or clean (rev): the tag stays in front, once
            batch = next(trainer.data.train[name])
            assert batch.src[:, 0].eq(ids[name]).all()
            assert batch.src[:, 1:].ne(ids[name]).all()
            assert batch.src_mask.sum(dim=1).ge(3).all()  # tag, a token, EOS
        data = trainer.data.valid[name]  # validation too, clean
        valid = trainer.tasks[name].kind.make_batch(data, torch.arange(4))
        line = (tiny_corpus / "valid.en").read_text().splitlines()[int(valid.index[0])]
        expected = [ids[name], *vocab.encode([line])[0], EOS]
        assert valid.src[0, :len(expected)].tolist() == expected


def test_every_module_type_has_an_input_layer_the_vector_reaches() -> None:
    for name in ENCODERS.names():
        encoder = build(ENCODERS, name).eval()
        layer = input_layer(encoder)
        assert layer is not None and input_width(layer) is not None, name
        vectors = TaskEmbeddings.build({"t": [("encoder", "x")]}, {"encoder": {"x": encoder}})
        with torch.no_grad():
            plain = memory_of(encoder, [4, 2]).states
            with vectors.applied("t", {"encoder": {"x": encoder}}):
                shifted = memory_of(encoder, [4, 2]).states
        assert not torch.allclose(plain, shifted), name
    for name in DECODERS.names():  # search's steps see the vector as the forward does
        decoder = build(DECODERS, name, seed=2).eval()
        modules = {"decoder": {"y": decoder}}
        vectors = TaskEmbeddings.build({"t": [("decoder", "y")]}, modules)
        memory = memory_of(build(ENCODERS, "transformer"), [4, 2])
        tgt_in = padded_batch([3, 3], seed=4)
        with torch.no_grad(), vectors.applied("t", modules):
            full = decoder(tgt_in, memory)  # (B, T, V)
            state = decoder.init_state(memory)
            for t in range(tgt_in.size(1)):
                logits, state = decoder.step(tgt_in[:, t], memory, state)
                assert torch.allclose(logits, full[:, t], atol=1e-5), (name, t)
        with torch.no_grad():
            assert not torch.allclose(decoder(tgt_in, memory), full), name


@pytest.mark.parametrize("name", ENCODERS.names())
def test_the_vector_joins_bfloat16_inputs(name: str) -> None:
    encoder = build(ENCODERS, name).eval()
    modules = {"encoder": {"x": encoder}}
    vectors = TaskEmbeddings.build({"t": [("encoder", "x")]}, modules)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16), \
            vectors.applied("t", modules):
        states = memory_of(encoder, [4, 2]).states
    assert torch.isfinite(states.float()).all()


def test_a_module_without_an_input_layer_is_a_clear_error() -> None:
    head = torch.nn.Linear(4, 4)
    with pytest.raises(UserError, match=r"tasks\.t\.embedding: decoder 'y' \(Linear\) has no "
                                        "input layer"):
        TaskEmbeddings.build({"t": [("decoder", "y")]}, {"decoder": {"y": head}})


def recipe_problems(raw: dict, tmp_path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_recipe(write_recipe(tmp_path / "bad.yaml", raw), check_files=False)
    return str(caught.value)


def test_bad_embedding_and_tag_settings_are_clear_errors(tiny_corpus: Path, tmp_path: Path,
                                                         capsys) -> None:
    raw = shared_recipe(tiny_corpus, copy={"embedding": "sideways"}, rev={"embedding": "decodr"})
    path = write_recipe(tmp_path / "r.yaml", raw)
    fails(["train", str(path)], capsys, "tasks.copy.embedding: got 'sideways', expected one of: "
          "encoder, decoder, both (or null)", "tasks.rev.embedding: got 'decodr'",
          "did you mean 'decoder'?")
    raw = shared_recipe(tiny_corpus, copy={"tgt_tag": "<s>"}, rev={"tgt_tag": "to de"})
    raw["vocabs"]["label"] = {"type": "labels"}
    raw["encoders"]["img"] = {"type": "features", "input_dim": 4, "dim": 16}
    raw["decoders"]["label"] = {"type": "classifier", "dim": 16}
    raw["tasks"].update({
        "cls": {"kind": "classification", "encoder": "en", "decoder": "label",
                "embedding": "decoder", "tgt_tag": "<2x>"},
        "cap": {"kind": "captioning", "encoder": "img", "decoder": "out", "tgt_tag": "<2x>"},
        "en.out": {"kind": "translation", "encoder": "en", "decoder": "out",
                   "embedding": "encoder"}})
    message = recipe_problems(raw, tmp_path)
    for text in ["tasks.copy.tgt_tag: '<s>' is a reserved symbol",
                 "tasks.rev.tgt_tag: got 'to de', expected one token without spaces",
                 "tasks.cls.embedding: got 'decoder', but decoder slot 'label' holds a head",
                 "use 'encoder' (valid: encoder, decoder, both)",
                 "tasks.cls.tgt_tag: a classification task takes no target tag",
                 "tasks.cap.tgt_tag: the tag goes before the text of the first encoder slot, "
                 "but slot 'img' reads features",
                 "tasks.en.out.embedding: the task's name 'en.out' contains a '.'"]:
        assert text in message, f"{text!r} not in:\n{message}"


def test_a_tag_missing_from_an_existing_vocabulary_is_a_clear_error(tiny_corpus: Path,
                                                                     tmp_path: Path,
                                                                     capsys) -> None:
    run = tmp_path / "run"
    plain = write_recipe(tmp_path / "plain.yaml", shared_recipe(tiny_corpus))
    assert main(["prepare", str(plain), "--run-dir", str(run)]) == 0
    tagged = write_recipe(tmp_path / "tagged.yaml",
                          shared_recipe(tiny_corpus, rev={"tgt_tag": TAGS["rev"]}))
    fails(["prepare", str(tagged), "--run-dir", str(run)], capsys,
          "has no <2rev> symbol, which tasks.rev.tgt_tag needs")


def exact_match(run: Path) -> dict[str, float]:
    scores = json.loads((run / "checkpoint_best.test.scores.json").read_text())["scores"]
    return {s["task"]: s["others"]["exact_match"] for s in scores}


@pytest.mark.parametrize("signal", ["encoder", "decoder", "both", "tgt_tag", "none"])
def test_one_shared_decoder_learns_both_tasks_from_their_vector_or_tag(
        signal: str, tiny_corpus: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    """The same sentences in, copied or reversed out: only the task's vector (or tag) says
    which, so without one the model can get at most one of the two right for each input."""
    keys = {name: {"tgt_tag": tag} for name, tag in TAGS.items()} if signal == "tgt_tag" else \
        {} if signal == "none" else both(embedding=signal)
    raw = shared_recipe(tiny_corpus, **keys)
    raw["modules"]["transformer"]["dim"] = 32
    raw["train"].update(max_steps=200, lr=5e-3, warmup=20, label_smoothing=0.0)
    raw["valid"].update(every=200)
    path = write_recipe(tmp_path / "r.yaml", raw)
    assert main(["train", str(path), "--run-dir", str(tmp_path / "run")]) == 0
    scores = exact_match(tmp_path / "run")
    if signal == "none":
        assert scores["copy"] + scores["rev"] <= 100.0 + 1e-6, scores
        return
    assert scores == {"copy": 100.0, "rev": 100.0}, scores
    best = str(tmp_path / "run" / "checkpoint_best.pt")
    line = "the cat sees a dog\n"
    for task, expected in (("copy", line), ("rev", "dog a sees cat the\n")):  # `translate --task`
        code, out, _ = run_translate(["--checkpoint", best, "--task", task], line, capsys,
                                     monkeypatch)
        assert (code, out) == (0, expected)
    code, _, err = run_translate(["--checkpoint", best, "--encoder", "en", "--decoder", "out"],
                                 line, capsys, monkeypatch)
    assert code == 0 and "trained with a target tag or task embeddings" in err
