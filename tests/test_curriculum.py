"""Training strategies: loss weights (fixed and learned) and curricula (start_at / stop_at, ratio
schedules) through every scheduler, the trainer, resume and the recipe checks."""
from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mtseq2seq import TaskScheduler, checkpoint, register_scheduler
from mtseq2seq.__main__ import main
from mtseq2seq.build.prepare import prepare
from mtseq2seq.build.trainer import build_trainer
from mtseq2seq.curriculum import Curriculum, TaskCurriculum, parse_ratio
from mtseq2seq.loss_weights import LossWeighting
from mtseq2seq.recipe.loader import load_recipe
from mtseq2seq.scheduler import build_scheduler
from mtseq2seq.trainer import Trainer
from tests.conftest import tiny_recipe, write_recipe

pytestmark = pytest.mark.usefixtures("one_thread")
SCHEDULERS = ["round_robin", "proportional", "temperature", "every_task"]
TASKS = ["a", "b", "c"]


def draws(scheduler: TaskScheduler, start: int, stop: int) -> list[tuple[int, str]]:
    """(update, task) of every task drawn for updates start..stop-1."""
    return [(step, t) for step in range(start, stop) for t in scheduler.draw(step)]


def curriculum(*tasks: tuple) -> Curriculum:
    return Curriculum([TaskCurriculum.of(*t) for t in tasks])


# ---- the arithmetic -----------------------------------------------------------------------
def test_ratio_schedule_is_piecewise_linear_inside_its_window() -> None:
    task = TaskCurriculum.of([[100, 1.0], [300, 0.0], [400, 2.0]], 50, 500)
    assert [task.ratio_at(s) for s in (49, 50, 100, 200, 300, 350, 400, 499, 500)] == \
        [0.0, 1.0, 1.0, 0.5, 0.0, 1.0, 2.0, 2.0, 0.0]
    assert TaskCurriculum.of(0.5).ratio_at(10**9) == 0.5


@settings(max_examples=200, deadline=None, derandomize=True)
@given(value=st.recursive(st.none() | st.booleans() | st.integers() | st.floats()
                          | st.text(max_size=5), lambda inner: st.lists(inner, max_size=4),
                          max_leaves=12))
def test_any_ratio_value_is_a_ratio_or_problems_with_its_path(value) -> None:
    ratio, problems = parse_ratio(value, "tasks.t.ratio")
    assert all(p.startswith("tasks.t.ratio") for p in problems)
    if not problems:
        task = TaskCurriculum.of(ratio)
        assert all(math.isfinite(task.ratio_at(s)) and task.ratio_at(s) >= 0
                   for s in (0, 1, 10**6) + tuple(task.edges()))


# ---- schedulers ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", SCHEDULERS)
def test_start_at_and_stop_at_in_every_scheduler(kind: str) -> None:
    plan = curriculum((1.0, 0, None), (1.0, 50, None), (1.0, 0, 80))
    scheduler = build_scheduler(kind, {}, TASKS, plan, [10, 10, 10], seed=3)
    drawn = draws(scheduler, 0, 200)
    assert min(s for s, t in drawn if t == "b") >= 50  # never before its start
    assert max(s for s, t in drawn if t == "c") < 80
    assert {t for s, t in drawn if 50 <= s < 80} == set(TASKS)
    if kind == "every_task":
        assert [t for s, t in drawn if s == 60] == TASKS and [t for s, t in drawn if s == 90] == ["a", "b"]


def test_round_robin_follows_a_ratio_schedule_window_by_window() -> None:
    plan = curriculum((1.0,), ([[0, 3.0], [200, 3.0], [400, 1.0], [600, 0.0]],))
    picks = draws(build_scheduler("round_robin", {}, ["a", "b"], plan, [1, 1], 1), 0, 1000)
    counts = [Counter(t for s, t in picks if lo <= s < lo + 200) for lo in range(0, 1000, 200)]
    assert abs(counts[0]["b"] - 150) <= 1  # ratio 3 : 1
    assert abs(counts[1]["b"] - sum(r / (1 + r) for r in
                                    [3 - 2 * i / 200 for i in range(200)])) <= 2  # 3 -> 1
    assert 0 < counts[2]["b"] < 100 and counts[3] == counts[4] == {"a": 200}  # 1 -> 0, then 0


@pytest.mark.parametrize("kind", ["proportional", "temperature"])
def test_sampling_schedulers_follow_a_ratio_schedule(kind: str) -> None:
    options = {"temperature": 1.0} if kind == "temperature" else {}
    plan = curriculum((1.0,), ([[0, 4.0], [2000, 4.0], [2001, 0.25]],))
    picks = draws(build_scheduler(kind, options, ["a", "b"], plan, [10, 10], 5), 0, 6000)
    early = Counter(t for s, t in picks if s < 2000)
    late = Counter(t for s, t in picks if s >= 2001)
    assert abs(early["b"] / 2000 - 0.8) < 0.04 and abs(late["b"] / 3999 - 0.2) < 0.03


@pytest.mark.parametrize("kind", SCHEDULERS)
def test_scheduler_with_a_curriculum_continues_exactly(kind: str) -> None:
    plan = curriculum((1.0, 0, 70), ([[0, 0.1], [60, 2.0]], 10, None), (0.7, 30, None))
    make = lambda: build_scheduler(kind, {}, TASKS, plan, [50, 20, 10], seed=7)  # noqa: E731
    whole = draws(make(), 0, 100)
    first = make()
    head = draws(first, 0, 45)
    resumed = make()
    resumed.load_state_dict(json.loads(json.dumps(first.state_dict())))  # plain data, as saved
    assert head + draws(resumed, 45, 100) == whole


@register_scheduler("test_always_first")
class AlwaysFirst(TaskScheduler):
    """A plugin scheduler that ignores the ratios: its draws are kept to the allowed tasks."""

    def next_tasks(self) -> list[str]:
        return [self.tasks[0]] if self.rng.random() < 0.5 else list(self.tasks)


def test_a_plugin_scheduler_is_kept_to_the_curriculum_and_skip() -> None:
    scheduler = build_scheduler("test_always_first", {}, TASKS,
                                curriculum((1.0, 10, None), (1.0,), (1.0,)), [1, 1, 1], 1)
    assert all(t != "a" for _, t in draws(scheduler, 0, 10))
    assert {t for _, t in draws(scheduler, 10, 40)} == set(TASKS)
    assert scheduler.draw(5, skip=["b", "c"]) == []  # every allowed task stopped: nothing to train


# ---- the trainer --------------------------------------------------------------------------
def make_trainer(raw: dict, tmp_path: Path, name: str) -> Trainer:
    recipe = load_recipe(write_recipe(tmp_path / f"{name}.yaml", raw), run_dir=str(tmp_path / name))
    (tmp_path / name).mkdir(exist_ok=True)
    return build_trainer(recipe, tmp_path / name, prepare(recipe, tmp_path / name))


def grads_of_one_update(tiny_corpus: Path, tmp_path: Path, name: str, weights: dict,
                        tasks: list[str] | None = None) -> dict[str, torch.Tensor]:
    raw = tiny_recipe(tiny_corpus, schedule={"type": "every_task"})
    raw["train"].update(clip_norm=0)
    for task, weight in weights.items():
        raw["tasks"][task]["loss_weight"] = weight
    trainer = make_trainer(raw, tmp_path, name)
    trainer.train_step(tasks or trainer.next_tasks())
    return {n: p.grad.clone() for n, p in trainer.model.named_parameters() if p.grad is not None}


def test_loss_weights_scale_gradients_exactly_and_every_task_sums_them(tiny_corpus: Path,
                                                                       tmp_path: Path) -> None:
    de = grads_of_one_update(tiny_corpus, tmp_path, "de", {}, ["en>de"])
    de2 = grads_of_one_update(tiny_corpus, tmp_path, "de2", {"en>de": 2.0}, ["en>de"])
    assert de.keys() == de2.keys() and all(torch.equal(de2[n], 2 * g) for n, g in de.items())
    parse = grads_of_one_update(tiny_corpus, tmp_path, "parse", {}, ["en>parse"])
    both = grads_of_one_update(tiny_corpus, tmp_path, "both", {"en>de": 2.0, "en>parse": 0.5})
    for n, g in both.items():  # every_task: one update over both tasks, the weighted sum
        expected = 2 * de.get(n, torch.zeros_like(g)) + 0.5 * parse.get(n, torch.zeros_like(g))
        assert torch.allclose(g, expected, rtol=1e-5, atol=1e-7), n


def test_trainer_trains_tasks_only_inside_their_windows(tiny_corpus: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    raw = tiny_recipe(tiny_corpus, valid={"every": 100, "decode": False})
    raw["train"]["max_steps"] = 14
    raw["tasks"]["en>parse"]["start_at"] = 6
    raw["tasks"]["en>de"]["stop_at"] = 10
    trainer = make_trainer(raw, tmp_path, "run")
    seen, real = [], trainer.train_step
    monkeypatch.setattr(trainer, "train_step", lambda tasks: seen.append((trainer.step, *tasks))
                        or real(tasks))
    trainer.train()
    assert seen == [(s, "en>de") for s in range(6)] + [(s, t) for s, t in zip(
        range(6, 10), ["en>de", "en>parse"] * 2)] + [(s, "en>parse") for s in range(10, 14)]


def test_uncertainty_weights_train_log_and_resume_exactly(tiny_corpus: Path,
                                                          tmp_path: Path) -> None:
    raw = tiny_recipe(tiny_corpus)
    raw["modules"]["transformer"]["dropout"] = 0.2  # draws from the RNG: resume must match
    raw["train"].update(lr=3e-3, warmup=4, loss_weighting="uncertainty")
    raw["valid"].update(every=5, decode=False)
    raw["tasks"]["en>de"].update(ratio=[[0, 1.0], [12, 0.2]], stop_at=18)
    raw["tasks"]["en>parse"].update(start_at=3, loss_weight=2.0)
    path = write_recipe(tmp_path / "r.yaml", raw)
    runs = {"whole": [20], "split": [9, 20]}
    for run, steps in runs.items():
        for i, max_steps in enumerate(steps):
            assert main(["train", str(path), "--run-dir", str(tmp_path / run),
                         "--set", f"train.max_steps={max_steps}"] + ["--resume"] * i) == 0
    whole, split = (checkpoint.load(tmp_path / run / "checkpoint_last.pt") for run in runs)
    assert whole["step"] == split["step"] == 20
    for name, tensor in whole["model"].items():
        assert torch.equal(tensor, split["model"][name]), name
    assert whole["scheduler"] == split["scheduler"] and whole["iterators"] == split["iterators"]
    log_vars = whole["loss_weighting"]
    assert log_vars.keys() == split["loss_weighting"].keys() == {"log_vars.0", "log_vars.1"}
    assert all(torch.equal(v, split["loss_weighting"][k]) and float(v) != 0.0
               for k, v in log_vars.items())  # trained, saved and restored
    assert len(whole["optimizer"]["param_groups"]) == 2  # the model's, then the weights'
    assert whole["optimizer"]["param_groups"][1]["weight_decay"] == 0.0
    records = [json.loads(line) for line in (tmp_path / "whole" / "metrics.jsonl").open()]
    valid = [r for r in records if r["split"] == "valid" and r["step"] == 20]
    assert {r["task"] for r in valid} == {"en>de", "en>parse"}
    parse = next(r for r in valid if r["task"] == "en>parse")
    s = float(log_vars["log_vars.1"])
    assert parse["log_variance"] == pytest.approx(s)
    assert parse["loss_weight"] == pytest.approx(2.0 * math.exp(-s))


def test_uncertainty_weighting_formula() -> None:
    weighting = LossWeighting(["a", "b"], [1.0, 3.0], learned=True)
    with torch.no_grad():
        weighting.log_vars[1].fill_(0.5)
    loss = torch.tensor(2.0, requires_grad=True)
    out = weighting.weigh("b", loss)
    out.backward()
    assert float(out.detach()) == pytest.approx(3.0 * (2.0 * math.exp(-0.5) + 0.5))
    assert float(weighting.log_vars[1].grad) == pytest.approx(3.0 * (1 - 2.0 * math.exp(-0.5)))
    assert weighting.log_vars[0].grad is None  # a task not in the update: its weight stays put


# ---- recipe checks ------------------------------------------------------------------------
def cli_error(tiny_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
              tasks: dict, **train) -> str:
    raw = tiny_recipe(tiny_corpus)
    raw["train"].update(train)
    for task, changes in tasks.items():
        raw["tasks"][task].update(changes)
    path = write_recipe(tmp_path / "bad.yaml", raw)
    capsys.readouterr()
    assert main(["train", str(path), "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "mtseq2seq train: error: " in err
    return err


def test_bad_curricula_and_loss_weights_are_reported_together(tiny_corpus: Path, tmp_path: Path,
                                                              capsys) -> None:
    err = cli_error(tiny_corpus, tmp_path, capsys, {
        "en>de": {"ratio": [[500, 1.0], [100, 0.5], [900, -0.5]], "loss_weight": 0},
        "en>parse": {"start_at": 40, "stop_at": 40, "loss_weight": -1}}, lr="fast")
    for text in ["tasks.en>de.ratio[1]: step 100 is not after step 500",
                 "tasks.en>de.ratio[2]: ratio -0.5 is not a number of at least 0",
                 "tasks.en>de.loss_weight: got 0, expected a number above 0",
                 "tasks.en>parse.loss_weight: got -1, expected a number above 0",
                 "tasks.en>parse.stop_at: 40 is not after start_at 40",
                 "train.lr: got 'fast'"]:  # collected with the other recipe problems
        assert text in err, f"{text!r} not in:\n{err}"
    assert "6 problem(s)" in err


@pytest.mark.parametrize("tasks, expected", [
    ({"en>de": {"ratio": [[0, 1.0], [10, 0.0]], "start_at": 20}},
     "tasks.en>de: can never be scheduled: its ratio is 0 at every update from 20 on"),
    ({"en>de": {"ratio": 0}}, "tasks.en>de.ratio: got 0, expected a positive number"),
    ({"en>de": {"ratio": [[0, 1], [3]]}}, "tasks.en>de.ratio[1]: got [3], expected a pair"),
    ({"en>de": {"ratio": []}}, "tasks.en>de.ratio: an empty schedule"),
    ({"en>de": {"start_at": 2}, "en>parse": {"start_at": 2}},
     "tasks: no task can be scheduled at update 0 (train.max_steps 4): en>de starts at 2; "
     "en>parse starts at 2"),
    ({"en>de": {"stop_at": 3}, "en>parse": {"ratio": [[0, 1.0], [2, 0.0]]}},
     "tasks: no task can be scheduled at update 3 (train.max_steps 4): en>de stopped at 3; "
     "en>parse has ratio 0 there"),
])
def test_each_bad_curriculum_is_a_clear_error(tasks: dict, expected: str, tiny_corpus: Path,
                                              tmp_path: Path, capsys) -> None:
    assert expected in cli_error(tiny_corpus, tmp_path, capsys, tasks)


def test_graph_shows_the_curriculum(tiny_corpus: Path, tmp_path: Path, capsys) -> None:
    raw = tiny_recipe(tiny_corpus)
    raw["tasks"]["en>de"].update(ratio=[[0, "1e0"], [5000, 0.1]], start_at=0, stop_at=9000)
    recipe = load_recipe(write_recipe(tmp_path / "r.yaml", raw))
    assert recipe.tasks["en>de"].ratio == [[0, 1.0], [5000, 0.1]]  # numbers converted
    capsys.readouterr()
    assert main(["graph", str(tmp_path / "r.yaml")]) == 0
    out = capsys.readouterr().out
    assert "updates 0..8999, ratio [[0, 1], [5000, 0.1]]" in out and "ratio 1\n" in out
