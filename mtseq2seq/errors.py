"""The one error family users see: every user mistake raises a subclass of `UserError`.

Each error carries a list of problems so that a recipe with five mistakes reports all five at once.
"""
from __future__ import annotations

import difflib
import reprlib
from typing import Any, Iterable, Sequence


class UserError(Exception):
    """A mistake in the user's input (recipe, data, arguments, checkpoint), never a bug of ours."""

    def __init__(self, problems: str | Sequence[str], header: str = "") -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.header = header
        super().__init__(self.render())

    def render(self) -> str:
        if len(self.problems) == 1 and not self.header:
            return self.problems[0]
        head = self.header or f"{len(self.problems)} problems"
        return head + ":\n" + "\n".join(f"  - {p}" for p in self.problems)


class ConfigError(UserError):
    """A problem in a recipe YAML or a --set override; each problem names its YAML path."""


class DataError(UserError):
    """A problem in a data file: names the file and, where it helps, the line."""


class TrainingError(UserError):
    """Training cannot go on (e.g. the loss stays non-finite); the last good checkpoint is kept."""


class CheckpointError(UserError):
    """A checkpoint that cannot be read or does not fit the recipe."""


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlong = 2, 40, 40, 40
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 4


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr`` cut to a readable size: a huge or self-referencing YAML value stays one short line."""
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def close_match(word: str, choices: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest choice, or an empty string."""
    if not isinstance(word, (str, int, float)):
        return ""  # a list or mapping where a name was expected: no name is close to it
    matches = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"; did you mean '{matches[0]}'?" if matches else ""


def unknown(what: str, name: Any, choices: Iterable[str], owner: str = "") -> str:
    """The one wording of an unknown name: ``unknown encoder type 'tranformer' (known: rnn,
    transformer; did you mean 'transformer'?)``, or with ``owner`` ``unknown option 'dimm' for
    encoder type 'rnn' (known: ...)``; a value that is not a string is shown short."""
    shown = f"'{name}'" if isinstance(name, str) else short_repr(name)
    return f"unknown {what} {shown}{' ' + owner if owner else ''}{choices_hint(name, choices)}"


def choices_hint(word: str, choices: Iterable[str]) -> str:
    """Return ``" (known: a, b, c; did you mean 'a'?)"`` for an error message."""
    choices = sorted(str(c) for c in choices)
    return f" (known: {', '.join(choices) or 'none'}{close_match(word, choices)})"
