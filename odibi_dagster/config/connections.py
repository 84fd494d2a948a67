"""Connection settings from config: ``${NAME}`` environment variables, SQLAlchemy URLs, redaction.

Secrets are read from the environment only when a source is read, and never end up in a message.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odibi_dagster.config.errors import ConfigError

if TYPE_CHECKING:  # SQLAlchemy is imported when a connection is made, not when config loads
    import sqlalchemy as sa

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Every value a ${NAME} substitution has read in this process: removed from the step's errors and
# log records (redact_secrets) wherever they appear, whatever code produced the message.
_READ_SECRETS: set[str] = set()
# Shorter values (a database name like `plant`, an environment like `qat`) are removed only from
# the messages of the connection that used them (``sql_engine``), not from every message.
MIN_GLOBAL_SECRET = 6


class MissingVariableError(KeyError):
    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


def env_variables(text: str) -> list[str]:
    """The NAMEs of every ``${NAME}`` in ``text``."""
    return _VARIABLE.findall(text)


def env_secrets(value: Any) -> list[str]:
    """The values that the ``${NAME}`` references in ``value`` (strings, recursively) read from the
    environment: they are secrets, removed from every message."""
    if isinstance(value, str):
        return [os.environ[name] for name in env_variables(value) if os.environ.get(name)]
    if isinstance(value, dict):
        return [secret for item in value.values() for secret in env_secrets(item)]
    if isinstance(value, list):
        return [secret for item in value for secret in env_secrets(item)]
    return []


def substitute_env(value: Any, where: str) -> Any:
    """Replace every ``${NAME}`` inside strings (recursively) with the environment variable NAME."""
    if isinstance(value, str):
        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise MissingVariableError(f"{where}: environment variable '{name}' is not set")
            if len(os.environ[name]) >= MIN_GLOBAL_SECRET:
                _READ_SECRETS.add(os.environ[name])
            return os.environ[name]
        return _VARIABLE.sub(replace, value)
    if isinstance(value, dict):
        return {key: substitute_env(item, where) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute_env(item, where) for item in value]
    return value


def make_sql_url(url: str, root: Path | None, where: str) -> sa.URL:
    """Parse a SQLAlchemy URL; a relative SQLite file path is relative to the project folder.
    ``where`` names the setting in the error when the URL cannot be parsed."""
    import sqlalchemy as sa

    if _ambiguous(url):  # parsed, the password's tail would become the host, and be shown as such
        raise ValueError(f"{where}: {UNPARSEABLE_URL}")
    try:
        parsed = sa.make_url(url)
    except Exception as exc:  # noqa: BLE001 - the parser's message quotes pieces of the URL (a password too)
        raise ValueError(f"{where}: {_unparseable(exc, url)}") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:" \
            and not Path(parsed.database).is_absolute() and root is not None:
        parsed = parsed.set(database=str(root / parsed.database))
    return parsed


UNPARSEABLE_URL = ("the connection URL cannot be parsed: URL-encode special characters in its user and "
                   "password (@ as %40, : as %3A, / as %2F)")


def _ambiguous(url: str) -> bool:
    """A user or password with an unencoded ``@``: two ``@`` before the query. SQLAlchemy's
    password runs to the first ``@`` (``/`` included), so ``etl:a/b@c@host`` would make ``c@host``
    the host, and the password's tail would be shown as one. A SQLite path has no password."""
    scheme, _, rest = url.partition("://")
    return not scheme.startswith("sqlite") and rest.partition("?")[0].count("@") > 1


def _unparseable(exc: Exception, url: str = "") -> str:
    """Why a URL cannot be parsed, without quoting it (SQLAlchemy's own message may hold a password)."""
    authority = url.partition("://")[2].partition("/")[0]
    if isinstance(exc, ValueError) and "int()" in str(exc) and authority.count("@") <= 1:
        return "the connection URL cannot be parsed: its port is not a number"
    return UNPARSEABLE_URL


def _unusable_driver(exc: Exception, url: str | sa.URL) -> str | None:
    """Why SQLAlchemy has no driver for a URL (its own messages say neither which nor what to do)."""
    import sqlalchemy as sa

    if isinstance(exc, sa.exc.NoSuchModuleError) and "sqlalchemy.plugins:" in str(exc):
        plugin = str(exc).rpartition("sqlalchemy.plugins:")[2]
        return f"SQLAlchemy knows no plugin '{plugin}' (the URL's plugin parameter)"
    if isinstance(exc, sa.exc.NoSuchModuleError):
        scheme = url.partition("://")[0] if isinstance(url, str) else url.drivername
        return (f"SQLAlchemy knows no dialect or driver '{scheme}' (check the URL's scheme, e.g. "
                f"postgresql+psycopg2://, or install the package that provides it)")
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return f"the URL's driver needs the Python package '{exc.name}', which is not installed here"
    return None


def check_sql_url(url: str, root: Path | None, where: str) -> str | None:
    """Why a SQL URL from config cannot be used (checked at load: it does not parse, or names a
    dialect SQLAlchemy does not know), or None; a URL naming a ``${NAME}`` that is not set yet is
    checked when it is used. A driver package that is not installed is reported when used."""
    if any(name not in os.environ for name in env_variables(url)):
        return None
    try:
        parsed = make_sql_url(_VARIABLE.sub(lambda match: os.environ[match.group(1)], url), root, where)
    except ValueError as exc:
        return str(exc).removeprefix(f"{where}: ")
    import sqlalchemy as sa

    try:
        parsed.get_dialect()  # imports no DBAPI package: one that is not installed fails when connecting
    except sa.exc.NoSuchModuleError as exc:
        return redact(_unusable_driver(exc, parsed) or "", *env_secrets(url))
    return None
# query parameters whose values are masked (odbc_connect holds a whole ODBC string with PWD=)
_SECRET_PARAMETER = re.compile(r"pass|pwd|secret|token|key|credential|sig|auth|odbc", re.IGNORECASE)


def redact(text: str, *secrets: str | None) -> str:
    """Remove secret values (passwords, tokens) from a message: as given, URL-encoded, and the
    pieces a URL parser cuts an un-encoded one into (``p@ss:word`` -> ``p``, ``ss``, ``word``)."""
    from urllib.parse import quote, quote_plus

    forms: set[str] = set()
    for secret in secrets:
        parts = _url_secret_parts(secret) if secret and "://" in secret else None
        if parts is not None:
            # a whole URL (read from ${NAME}): itself, and its password and secret query values;
            # not its scheme, host or database, which say where a connection failed
            forms |= {secret, *(form for part in parts if len(part) >= 3
                                for form in (part, quote(part, safe=""), quote_plus(part)))}
            continue
        if secret and len(secret) >= 3:  # shorter values would blank out ordinary words
            # as given, URL-encoded, and escaped as repr() and JSON show it
            forms |= {secret, quote(secret, safe=""), quote_plus(secret), repr(secret)[1:-1], json.dumps(secret)[1:-1],
                      json.dumps(secret, ensure_ascii=False)[1:-1]}
            pieces = [piece for piece in re.split(r"[@:/#?&=]", secret) if len(piece) >= 4]
            forms |= {form for piece in pieces for form in (piece, quote(piece, safe=""))}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    return text


_PAIR = re.compile(r"([A-Za-z_][\w.-]*)=([^;&/?#]+)")


@functools.lru_cache(maxsize=256)  # redact_secrets parses every read URL for each message it cleans
def _url_secret_parts(url: str) -> tuple[str, ...] | None:
    """A URL's password and the values of its secret-looking parameters, as SQLAlchemy parses it
    (the driver gets what SQLAlchemy parses); None when it does not parse, and then all its
    pieces are treated as secret."""
    from urllib.parse import unquote

    import sqlalchemy as sa

    if _ambiguous(url):
        return None
    try:
        parsed = sa.make_url(url)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy reads
        return None
    # key=value pairs anywhere, decoded: the query, path parameters (Spark Connect's
    # `sc://host/;token=...`) and those inside a value (an ODBC string's PWD=...)
    pairs = _PAIR.findall(unquote(url.partition("://")[2]))
    values = [value for key, value in pairs if _SECRET_PARAMETER.search(key)]
    values += [value for key, value in parsed.query.items() if _SECRET_PARAMETER.search(key)
               for value in ([value] if isinstance(value, str) else value)]
    return (*([parsed.password] if parsed.password else []), *values)


def remember_secret(value: str) -> None:
    """A secret read other than through ``${NAME}`` (``ODIBI_SPARK_REMOTE``): masked like those
    in every message of the process (``redact_secrets``)."""
    if len(value) >= MIN_GLOBAL_SECRET:
        _READ_SECRETS.add(value)


def redact_secrets(text: str) -> str:
    """``text`` without any value (or URL piece of one) that a ``${NAME}`` substitution has read."""
    return redact(text, *_READ_SECRETS) if _READ_SECRETS else text


def redacted_error(exc: BaseException) -> BaseException:
    """``exc`` itself when no message of its chain holds a secret read from ``${NAME}``; otherwise a
    ``RuntimeError`` with the redacted messages (raise it ``from None`` so the chain goes too)."""
    chain, seen = [], exc
    while seen is not None and len(chain) < 10:
        chain.append(f"{type(seen).__name__}: {seen}")
        seen = seen.__cause__ or (None if seen.__suppress_context__ else seen.__context__)
    text = "; caused by ".join(chain)
    clean = redact_secrets(text)
    return exc if clean == text else RuntimeError(clean)


def safe_url(url: sa.URL) -> str:
    """The URL as messages show it: no password, and no value of a secret-looking query parameter."""
    query = {key: "***" if _SECRET_PARAMETER.search(key) else value for key, value in url.query.items()}
    return url.set(query=query).render_as_string(hide_password=True)


def shown_url(url: str) -> str:
    """A URL from config as messages show it (``safe_url``), its ``${NAME}`` placeholders kept as
    written (they name a variable, not its value); a placeholder when it cannot be parsed."""
    import sqlalchemy as sa

    unparseable = "(a URL that cannot be parsed)"
    names = env_variables(url)
    if names and not _VARIABLE.sub("", url).strip():
        return url  # the whole URL is read from the environment: `${DB_URL}`
    marks = {f"odibivariable{index}x": f"${{{name}}}" for index, name in enumerate(dict.fromkeys(names))}
    text = url
    for mark, placeholder in marks.items():
        text = text.replace(placeholder, mark)
    if _ambiguous(text):
        return unparseable
    try:
        shown = safe_url(sa.make_url(text))
    except Exception:  # noqa: BLE001 - the parser's message would quote pieces of the URL
        return unparseable
    for mark, placeholder in marks.items():
        shown = shown.replace(mark, placeholder)
    return shown


@contextmanager
def sql_engine(url: str | sa.URL, *, where: str, error: Callable[[str], Exception],
               secrets: Sequence[str | None] = (), shown_as: str | None = None,
               **options: Any) -> Iterator[sa.Engine]:
    """A SQLAlchemy engine for one piece of work, disposed after it.

    Any error inside becomes ``error("<where> on <url>: <Type>: <message>")`` with the password and
    ``secrets`` removed; ``<url>`` is ``shown_as`` (the config's text, its ``${NAME}`` placeholders
    unread) when given, else the URL without its password.
    """
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(url, **options)
    except Exception as exc:  # noqa: BLE001 - a bad URL or option: no piece of the URL in the message
        reason = _unparseable(exc, url if isinstance(url, str) else "") if isinstance(exc, ValueError) \
            else _unusable_driver(exc, url) or f"{type(exc).__name__}"
        raise error(f"{where}: {redact(reason, *secrets)}") from None
    try:
        yield engine
    except ConfigError:
        raise  # a config problem found while reading (bad JSON in a table) names its own place
    except Exception as exc:  # noqa: BLE001 - driver errors vary; re-raise one clear, redacted error
        message = redact(f"{type(exc).__name__}: {getattr(exc, 'orig', None) or exc}", engine.url.password,
                         *(str(secret) for secret in secrets if secret),
                         *(str(v) for k, v in engine.url.query.items() if _SECRET_PARAMETER.search(k)))
        shown = shown_url(shown_as) if shown_as else safe_url(engine.url)
        raise error(f"{where} on {redact(shown, *secrets)}: {message}") from None
    finally:
        engine.dispose()


def add_missing_columns(engine: sa.Engine, table: sa.Table, names: Sequence[str]) -> list[str]:
    """``ALTER TABLE ... ADD COLUMN`` for each of ``names`` the stored ``table`` lacks (a table made
    by an earlier release); identifiers quoted by the dialect, types from ``table``. Returns those added."""
    import sqlalchemy as sa

    stored = {column["name"].lower() for column in sa.inspect(engine).get_columns(table.name, schema=table.schema)}
    quote = engine.dialect.identifier_preparer
    added = [name for name in names if name.lower() not in stored]
    with engine.begin() as conn:
        for name in added:
            column = table.c[name]
            conn.execute(sa.text(f"ALTER TABLE {quote.format_table(table)} ADD COLUMN {quote.format_column(column)} "
                                 f"{column.type.compile(dialect=engine.dialect)}"))
    return added
