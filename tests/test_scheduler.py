"""Task schedulers: ratios respected, determinism, exact continuation from state_dict."""
from __future__ import annotations

from collections import Counter

import pytest

from mtseq2seq.errors import ConfigError
from mtseq2seq.scheduler import build_scheduler

TASKS = ["a", "b", "c"]


def draw(scheduler, n: int) -> list[str]:
    return [t for _ in range(n) for t in scheduler.next_tasks()]


def test_round_robin_follows_ratios_in_every_window() -> None:
    scheduler = build_scheduler("round_robin", {}, TASKS, [1.0, 0.5, 0.5], [10, 10, 10], seed=1)
    picks = draw(scheduler, 400)
    assert Counter(picks) == {"a": 200, "b": 100, "c": 100}
    for start in range(0, 400, 4):  # smooth: every window of 4 updates is a, b, a, c in some order
        assert Counter(picks[start:start + 4]) == {"a": 2, "b": 1, "c": 1}


def test_sampling_schedulers_follow_their_weights() -> None:
    sizes = [9000, 900, 100]
    prop = Counter(draw(build_scheduler("proportional", {}, TASKS, [1, 1, 1], sizes, 3), 20000))
    assert abs(prop["a"] / 20000 - 0.9) < 0.01 and abs(prop["c"] / 20000 - 0.01) < 0.005
    temp = Counter(draw(build_scheduler("temperature", {"temperature": 100.0}, TASKS, [1, 1, 1],
                                        sizes, 3), 20000))
    assert all(abs(temp[t] / 20000 - 1 / 3) < 0.05 for t in TASKS)  # high temperature ~ uniform
    assert temp != prop


@pytest.mark.parametrize("kind", ["round_robin", "proportional", "temperature", "every_task"])
def test_state_dict_continues_exactly(kind: str) -> None:
    make = lambda: build_scheduler(kind, {}, TASKS, [1.0, 0.3, 0.7], [50, 20, 10], seed=7)  # noqa
    whole = make()
    expected = draw(whole, 60)
    first = make()
    head = draw(first, 25)
    resumed = make()
    resumed.load_state_dict(first.state_dict())
    assert head + draw(resumed, 35) == expected
    assert draw(make(), 60) == expected  # deterministic from the seed


def test_every_task_and_bad_options() -> None:
    assert build_scheduler("every_task", {}, TASKS, [1, 1, 1], [1, 1, 1], 0).next_tasks() == TASKS
    with pytest.raises(ConfigError, match="schedule.temp: unknown option"):
        build_scheduler("temperature", {"temp": 2}, TASKS, [1, 1, 1], [1, 1, 1], 0)
