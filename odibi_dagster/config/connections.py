"""Connection settings from config: ``${NAME}`` environment variables, SQLAlchemy URLs, redaction.

Secrets are read from the environment only when a source is read, and never end up in a message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # SQLAlchemy is imported when a connection is made, not when config loads
    import sqlalchemy as sa

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class MissingVariableError(KeyError):
    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


def env_variables(text: str) -> list[str]:
    """The NAMEs of every ``${NAME}`` in ``text``."""
    return _VARIABLE.findall(text)


def substitute_env(value: Any, where: str) -> Any:
    """Replace every ``${NAME}`` inside strings (recursively) with the environment variable NAME."""
    if isinstance(value, str):
        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise MissingVariableError(f"{where}: environment variable '{name}' is not set")
            return os.environ[name]
        return _VARIABLE.sub(replace, value)
    if isinstance(value, dict):
        return {key: substitute_env(item, where) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute_env(item, where) for item in value]
    return value


def make_sql_url(url: str, root: Path | None) -> sa.URL:
    """Parse a SQLAlchemy URL; a relative SQLite file path is relative to the project folder."""
    import sqlalchemy as sa

    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:" \
            and not Path(parsed.database).is_absolute() and root is not None:
        parsed = parsed.set(database=str(root / parsed.database))
    return parsed


def redact(text: str, *secrets: str | None) -> str:
    """Remove secret values (passwords, tokens) from a message."""
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, "***")
    return text


def safe_url(url: sa.URL) -> str:
    return url.render_as_string(hide_password=True)


@contextmanager
def sql_engine(url: str | sa.URL, *, where: str, error: Callable[[str], Exception],
               secrets: Sequence[str | None] = (), **options: Any) -> Iterator[sa.Engine]:
    """A SQLAlchemy engine for one piece of work, disposed after it.

    Any error inside becomes ``error("<where> on <url without password>: <Type>: <message>")`` with
    the password and ``secrets`` removed from the message.
    """
    import sqlalchemy as sa

    engine = sa.create_engine(url, **options)
    try:
        yield engine
    except Exception as exc:  # noqa: BLE001 - driver errors vary; re-raise one clear, redacted error
        message = redact(f"{type(exc).__name__}: {getattr(exc, 'orig', None) or exc}", engine.url.password,
                         *(str(secret) for secret in secrets if secret))
        raise error(f"{where} on {safe_url(engine.url)}: {message}") from None
    finally:
        engine.dispose()
