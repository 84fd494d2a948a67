"""Configuration errors that say where the problem is: file or table, row, field."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a project's configuration.

    ``where`` is the file path or table name, ``row`` the ``transformation_id`` / ``source_id``
    (or ``None`` for the manifest), ``field`` the offending field.
    """

    where: str
    message: str
    row: str | None = None
    field: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        place = self.where + (f":{self.line}" if self.line else "")
        parts = [place]
        if self.row is not None:
            parts.append(f"row '{self.row}'")
        if self.field is not None:
            parts.append(f"field '{self.field}'")
        return f"{', '.join(parts)}: {self.message}"


class ConfigError(ValueError):
    """Raised when a project cannot be loaded; lists every issue found, not just the first."""

    def __init__(self, issues: Iterable[ConfigIssue], project: str | None = None):
        self.issues = list(issues)
        self.project = project
        head = f"project '{project}'" if project else "project"
        lines = [f"{head} has {len(self.issues)} configuration error(s):"]
        lines += [f"  - {issue}" for issue in self.issues]
        super().__init__("\n".join(lines))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'function'?)`` for a near miss, else an empty string."""
    match = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""
