"""Errors a user can cause, with where they come from.

A :class:`ScenarioError` carries one or more :class:`Problem` s, each naming the file, the line
(where known), the dotted field path and what was expected. The command line prints them one per
line on stderr and exits with status 2; programming errors are not caught and stay loud.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file."""

    file: str
    path: str
    message: str
    line: int | None = None

    def __post_init__(self) -> None:
        # text that cannot be written as UTF-8 (a lone surrogate from a file or a file name) is
        # shown escaped, so that printing or writing a problem never fails
        for name in ("file", "path", "message"):
            object.__setattr__(self, name, printable(getattr(self, name)))

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.message}"


def printable(text: str) -> str:
    """``text`` with any character UTF-8 cannot encode (a lone surrogate) written as ``\\udXXX``."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


class ScenarioError(ValueError):
    """Bad user input (scenario, sweep file or command-line value)."""

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = [Problem(file="", path="", message=problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p).lstrip(": ") for p in self.problems))


def did_you_mean(name: str, known: list[str], known_words: str = "known", cutoff: float = 0.6) -> str:
    """``; did you mean 'car'?``, or ``; known: a, b`` when nothing is close (``""`` if none known)."""
    guess = difflib.get_close_matches(name, known, n=1, cutoff=cutoff)
    if guess:
        return f"; did you mean {guess[0]!r}?"
    return f"; {known_words}: {', '.join(known)}" if known else ""
