"""Task names as users type them: `en-de` and `en:de` name the task `en>de`.

A shell reads an unquoted `--task en>de` as a redirection of stdout into a file `de`, so every place
a user names a task (`translate --task`, `evaluate --tasks`, `valid.select`, `valid.weights`,
`--set tasks.NAME...`) also accepts '-' or ':' where the task's name has '>'. A name that is itself
a task wins; slot names may contain '-' (`en-US>de`), so an alias that fits several tasks is refused
with the candidates listed.
"""
from __future__ import annotations

from typing import Iterable

from .errors import UserError, close_match

ALIASES = "-:"  # what a user may type in place of a task name's '>'


def _fits(name: str, task: str) -> bool:
    """True if ``name`` is ``task`` with some of its '>' written as '-' or ':'."""
    return len(name) == len(task) and all(
        typed == wanted or (wanted == ">" and typed in ALIASES)
        for typed, wanted in zip(name, task))


def task_candidates(name: str, known: Iterable[str]) -> list[str]:
    """The known tasks ``name`` can mean: itself if known, else every task it is an alias of."""
    known = [str(task) for task in known]
    if name in known:
        return [name]
    return [task for task in known if _fits(name, task)]


def canonical_task(name: str, known: Iterable[str]) -> str | None:
    """The known task that ``name`` names (``en-de``, ``en:de`` -> ``en>de``), or None.

    Raises:
        UserError: the alias fits several tasks (e.g. ``en-US-de`` with tasks ``en-US>de`` and
            ``en>US-de``); the message lists them.
    """
    found = task_candidates(name, known)
    if len(found) > 1:
        raise UserError(f"task '{name}' is ambiguous: it can mean {', '.join(found)}; "
                        "quote the name with its '>', e.g. '" + found[0] + "'")
    return found[0] if found else None


def tasks_hint(name: str, known: Iterable[str]) -> str:
    """``" (tasks: en>de, en>parse; did you mean 'x'?); en>de can also be written en-de"``."""
    known = [str(task) for task in known]
    example = next((task for task in known if ">" in task), None)
    alias = (f"; {example} can also be written {example.replace('>', '-')}"
             if example is not None else "")
    return f" (tasks: {', '.join(known) or 'none'}{close_match(name, known)}){alias}"


def resolve_task(name: str, known: Iterable[str], where: str, place: str) -> str:
    """The known task ``name`` names, else a UserError ``"{where}: no task 'x' in {place} ..."``."""
    known = list(known)
    try:
        task = canonical_task(name, known)
    except UserError as err:
        raise UserError(f"{where}: {err}") from None
    if task is None:
        raise UserError(f"{where}: no task '{name}' in {place}{tasks_hint(name, known)}")
    return task


def override_path(parts: list[str], raw: dict) -> tuple[list[str], list[str]]:
    """``--set`` key parts with ``tasks.en-de`` turned into ``tasks.en>de`` when the recipe has that
    task (a name that fits no task stays, to add a task); also the problems (an ambiguous alias)."""
    tasks = raw.get("tasks")
    if parts[0] != "tasks" or len(parts) < 2 or not isinstance(tasks, dict):
        return parts, []
    try:
        task = canonical_task(parts[1].strip(), tasks)
    except UserError as err:
        return parts, err.problems
    return ([parts[0], task, *parts[2:]] if task is not None else parts), []
