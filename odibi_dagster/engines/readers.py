"""Bronze readers on pandas: csv, json (records or lines), parquet, delta and sql sources.

Portable ``source_options`` (header, delimiter, encoding, null_values, schema, multiline) mean
the same on both engines; ``pandas:`` options go to the pandas reader as they are.
"""

from __future__ import annotations

import glob
import io
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from odibi_dagster.config.connections import (
    env_secrets,
    make_sql_url,
    redact_secrets,
    sql_engine,
    substitute_env,
)
from odibi_dagster.config.model import Source
from odibi_dagster.config.partitions import placeholders_in
from odibi_dagster.config.validation import outside_source_roots, resolve_source_path
from odibi_dagster.engines.arrow_tables import read_delta

# Portable schema type names (config/model.py SCHEMA_TYPES) -> pandas dtypes, nullable where possible.
PANDAS_TYPES = {
    "string": "object", "str": "object",
    "int": "Int64", "integer": "Int64", "long": "Int64", "bigint": "Int64",
    "double": "float64", "float": "float64",
    "boolean": "boolean", "bool": "boolean",
    "date": "date", "timestamp": "timestamp",
}


class SourceReadError(RuntimeError):
    """A bronze source could not be read; the message names the source and the path or URL."""


def read_source(source: Source, root: Path | None, params: Mapping[str, Any] | None = None,
                since: tuple[str, Any] | None = None) -> pd.DataFrame:
    """``params``: a SQL query's bound partition parameters; ``since``: (column, high-water mark),
    filtered in the database for a SQL source (the caller filters files after reading)."""
    if source.file_format == "sql":
        return _apply_schema(_read_sql(source, root, params, since), source)
    reader = _READERS.get(source.file_format)
    if reader is None:
        raise SourceReadError(f"source '{source.source_id}': file_format '{source.file_format}' cannot be read "
                              f"on pandas (supported: {', '.join(sorted([*_READERS, 'sql']))})")
    frame = reader(source, root)
    return _apply_schema(frame, source)


def source_files(source: Source, root: Path | None) -> list[str]:
    """The files a file source reads: a glob relative to the project folder, or an fsspec URL."""
    pattern = str(resolve_source_path(source.source_path_or_query, root))
    if "://" in source.source_path_or_query:  # fsspec URL: pandas opens it itself
        return [source.source_path_or_query]
    matches = sorted(glob.glob(pattern))
    if not matches:
        raise SourceReadError(f"source '{source.source_id}': no file found at '{pattern}'")
    for match in matches:
        if source.file_format in ("csv", "json") and Path(match).is_dir():
            raise SourceReadError(f"source '{source.source_id}': '{match}' is a folder, not a {source.file_format} "
                                  f"file (match files, e.g. '{Path(source.source_path_or_query) / '*'}')")
        require_inside(source, Path(match), root)
    return matches


def require_inside(source: Source, path: Path, root: Path | None) -> None:
    """Checked again as read: a file, or any file of a folder (a parquet dataset, a Delta table),
    may be a link out of the project folder and the operator's source roots."""
    for item in (path, *(sorted(path.rglob("*")) if path.is_dir() else ())):
        if problem := outside_source_roots(str(item), root):
            raise SourceReadError(f"source '{source.source_id}': {problem}")


def delta_source_path(source: Source, root: Path | None) -> Path:
    """The folder of a ``delta`` source, checked to hold a Delta table inside the allowed roots."""
    path = resolve_source_path(source.source_path_or_query, root)
    if not (path / "_delta_log").is_dir():
        raise SourceReadError(f"source '{source.source_id}': no Delta table at '{path}'")
    require_inside(source, path, root)
    return path


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _options(source: Source) -> tuple[dict[str, Any], dict[str, Any]]:
    options = dict(source.source_options)
    return options, dict(options.get("pandas") or {})


def _read_csv(source: Source, root: Path | None) -> pd.DataFrame:
    options, extra = _options(source)
    header = options.get("header", True)
    schema = options.get("schema") or {}
    # dates and timestamps are read as text and parsed by _apply_schema
    dtypes = {col: PANDAS_TYPES[str(t).lower()] for col, t in schema.items()}
    dtypes = {col: "object" if t in ("date", "timestamp") else t for col, t in dtypes.items()}
    kwargs: dict[str, Any] = {
        "sep": options.get("delimiter", ","),
        "header": 0 if header else None,
        "encoding": options.get("encoding", "utf-8"),
        # Like Spark: only the listed strings are null (default: the empty string).
        "na_values": list(options.get("null_values") or [""]),
        "keep_default_na": False,
        # never a data column as the index: a row with more fields than the header is an error
        # (or, as the first data row, a ParserWarning turned into one below), not a silent shift
        "index_col": False,
    }
    if dtypes:
        kwargs["dtype"] = dtypes
    kwargs.update(extra)
    if "sep" not in extra and len(str(kwargs["sep"])) > 1:
        raise SourceReadError(f"source '{source.source_id}': delimiter {kwargs['sep']!r} has several characters, "
                              f"which pandas reads as a regular expression and without quoting (values would "
                              f"change); use one character, or read the source on Spark")
    if kwargs.get("engine") == "pyarrow":  # it never takes a data column as the index, and refuses the option
        kwargs.pop("index_col")
    frames, paths = [], source_files(source, root)
    for path in paths:
        frame = _read_csv_file(source, path, kwargs)
        if not header:
            frame.columns = [f"_c{i}" for i in range(len(frame.columns))]  # Spark's names
        if frames and set(frame.columns) != set(frames[0].columns):
            # concatenated, the rows of each would get nulls for the other's columns (Spark refuses too)
            more = sorted(set(frame.columns) - set(frames[0].columns))
            fewer = sorted(set(frames[0].columns) - set(frame.columns))
            raise SourceReadError(f"source '{source.source_id}': file '{path}' has other columns than '{paths[0]}' "
                                  f"(more: {more}, fewer: {fewer}); the files of one source need the same columns, "
                                  f"in any order; nothing was read")
        frames.append(frame)
    return _concat(frames)


def _read_csv_file(source: Source, path: str, kwargs: dict[str, Any]) -> pd.DataFrame:
    where = f"source '{source.source_id}': file '{path}'"
    # pandas unpacks a compressed file by its extension, as Spark does; the bytes on disk are not text
    if "://" not in path and not path.lower().endswith((".gz", ".bz2", ".zip", ".xz", ".zst", ".tar")):
        with open(path, "rb") as handle:
            start = handle.read(8192)
        if not start.strip():
            raise SourceReadError(f"{where} is empty (not even a header line)")
        wide = str(kwargs["encoding"]).lower().replace("-", "").startswith(("utf16", "utf32"))
        if b"\x00" in start and not wide:
            raise SourceReadError(f"{where} is not text (it holds NUL bytes): is it really a CSV file? (for UTF-16 "
                                  f"or UTF-32 text, set source_options.encoding)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(path, **kwargs)
    except pd.errors.ParserWarning as warning:
        if "Length of header" not in str(warning):
            raise SourceReadError(f"{where}: {warning}; nothing was read") from None
        raise SourceReadError(f"{where}: the first data row has more fields than the header; nothing was "
                              f"read") from None
    except pd.errors.ParserError as exc:
        detail = str(exc).removeprefix("Error tokenizing data. C error: ").strip()
        raise SourceReadError(f"{where} cannot be parsed: {detail} (each row needs the header's number of "
                              f"fields; nothing was read)") from None
    except UnicodeDecodeError as exc:
        raise SourceReadError(f"{where} is not valid {kwargs['encoding']} ({_undecodable(path, kwargs['encoding'])}: "
                              f"{exc.reason}); set source_options.encoding to the file's encoding, e.g. "
                              f"latin-1") from None
    except (ValueError, TypeError) as exc:
        if not kwargs.get("dtype"):
            raise
        raise SourceReadError(f"{where}: {_misfit(path, kwargs) or str(exc).splitlines()[0]} (source_options.schema); "
                              f"nothing was read") from None
    except pd.errors.EmptyDataError:
        raise SourceReadError(f"{where} has no columns") from None
    header = kwargs.get("header")  # a row number (0 unless `pandas: {header: N}`), or None: no header
    if isinstance(header, int) and "names" not in kwargs:
        if _renamed_by_pandas(frame.columns):
            refuse_renamed_header(where, _raw_header(path, kwargs) or [_unmangled(name) for name in frame.columns])
        refuse_renamed_header(where, [str(name) for name in frame.columns])  # an engine that renames nothing
    return frame


def _undecodable(path: str, encoding: str) -> str:
    """Where the file first stops decoding: pandas reads in chunks, so its error's byte offset is
    the chunk's, not the file's."""
    import codecs

    decoder = codecs.getincrementaldecoder(encoding)()
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                decoder.decode(line)
            except UnicodeDecodeError as exc:
                return f"line {number}, byte {exc.start + 1} of the line"
    return "at the end of the file"


def _misfit(path: str, kwargs: dict[str, Any]) -> str | None:
    """Which value of which column does not fit its ``source_options.schema`` type (pandas' own
    error names neither), found by reading the typed columns as text and converting each."""
    typed = kwargs["dtype"]
    try:
        text = pd.read_csv(path, **{**kwargs, "dtype": {column: "object" for column in typed}})
    except Exception:  # noqa: BLE001 - the file fails otherwise too: pandas' own message then
        return None
    def fits(values: pd.Series, dtype: str) -> bool:  # parsed as the reader parses them (not astype's rules)
        try:
            pd.read_csv(io.StringIO(values.to_csv(index=False, header=False)), header=None, dtype={0: dtype},
                        na_values=kwargs["na_values"], keep_default_na=False)
            return True
        except (ValueError, TypeError, OverflowError):
            return False

    for column, dtype in typed.items():
        if column not in text.columns or dtype == "object" or fits(text[column], dtype):
            continue
        values = text[column]
        low, high = 0, len(values)  # the first value that fails: halve the range that still fails
        while high - low > 1:
            middle = (low + high) // 2
            if fits(values.iloc[low:middle], dtype):
                low = middle
            else:
                high = middle
        line = low + (2 if kwargs.get("header") == 0 else 1)
        return (f"column '{column}' cannot be read as {dtype}: {values.iloc[low]!r} in data row {low + 1} (line "
                f"{line} unless a quoted field spans lines)")
    return None


def refuse_renamed_header(where: str, names: Sequence[str | None], ignore_case: bool = False,
                          null_value: str | None = None) -> None:
    """Refuse a header both engines would rename: a blank (or null) name (pandas ``Unnamed: 1``,
    Spark ``_c1``) or a repeated one (pandas ``id.1``; Spark ``id0``, ``id2``, also for names
    differing only in case: ``ignore_case``), a silent change of the file's columns. ``null_value``:
    the text Spark reads as null, in the header too."""
    if blank := [number for number, name in enumerate(names, start=1) if name is None or name == ""]:
        what = f"blank or '{null_value}' (which Spark reads as null, here too: source_options.null_values)" \
            if null_value else "blank"
        raise SourceReadError(f"{where}: field {blank[0]} of the header is {what} (the reader would invent a name "
                              f"for it); name the column in the file, or read it without a header "
                              f"(source_options.header: false names the columns _c0, _c1, ...); nothing was read")
    folded = [str(name).lower() if ignore_case else str(name) for name in names]
    if repeated := sorted({str(name) for name, key in zip(names, folded) if folded.count(key) > 1}):
        how = " (names differing only in case are the same name to Spark)" if ignore_case else ""
        raise SourceReadError(f"{where}: the header names {repeated} more than once{how} (the reader would rename "
                              f"the repeats, e.g. pandas '{repeated[0]}.1', Spark '{repeated[0]}0'); nothing was read")


_PANDAS_BLANK = re.compile(r"Unnamed: \d+")
_PANDAS_REPEAT = re.compile(r"(.*)\.\d+", re.DOTALL)


def _renamed_by_pandas(columns: Sequence[Any]) -> bool:
    """Whether pandas may have renamed a header name: ``Unnamed: 3``, or ``id.1`` beside ``id``."""
    names = {str(name) for name in columns}
    return any(_PANDAS_BLANK.fullmatch(name) or ((match := _PANDAS_REPEAT.fullmatch(name)) and match[1] in names)
               for name in names)


def _unmangled(name: Any) -> str:
    """The header name pandas read, from the name it gave (for when the header cannot be read again)."""
    text = str(name)
    if _PANDAS_BLANK.fullmatch(text):
        return ""
    match = _PANDAS_REPEAT.fullmatch(text)
    return match[1] if match else text


def _raw_header(path: str, kwargs: dict[str, Any]) -> list[str] | None:
    """The header's names as the file has them, read by pandas with the same options (so blank
    lines, comments, skipped rows, a BOM and the separator count as in the real read); None if
    they cannot be read so. Read only when pandas' names look renamed (a file may name a column
    ``id.1`` itself)."""
    options = {key: value for key, value in kwargs.items() if key not in (
        "dtype", "usecols", "converters", "parse_dates", "date_format", "index_col", "na_values", "keep_default_na",
        "skipfooter", "chunksize", "iterator")}
    try:
        row = int(kwargs["header"])
        # the lines above the header need not have its number of fields (a title line): skip them
        skip = {"skiprows": row} if row and "skiprows" not in options else {}
        row = 0 if skip else row
        first = pd.read_csv(path, **{**options, **skip, "header": None, "nrows": row + 1, "dtype": str,
                                     "na_filter": False})
    except Exception:  # noqa: BLE001 - the names pandas gave are judged instead
        return None
    return [str(value) for value in first.iloc[row]] if len(first) > row else None


def _read_json(source: Source, root: Path | None) -> pd.DataFrame:
    options, extra = _options(source)
    frames = []
    for path in source_files(source, root):
        multiline = json_is_multiline(options, path)
        kwargs = {"lines": not multiline, "convert_dates": False, "encoding": options.get("encoding", "utf-8")}
        kwargs.update(extra)
        frames.append(pd.read_json(path, **kwargs))
    return _concat(frames)


def json_is_multiline(options: dict[str, Any], path: str) -> bool:
    """The ``multiline`` option, else sniffed: a file starting with ``[`` holds records, else JSON lines."""
    if options.get("multiline") is not None:
        return bool(options["multiline"])
    if "://" in path:
        return False
    with open(path, encoding=options.get("encoding", "utf-8")) as handle:
        return handle.read(4096).lstrip().startswith("[")


def _read_parquet(source: Source, root: Path | None) -> pd.DataFrame:
    _, extra = _options(source)
    return _concat([pd.read_parquet(path, **extra) for path in source_files(source, root)])


def _read_delta(source: Source, root: Path | None) -> pd.DataFrame:
    return read_delta(delta_source_path(source, root)).to_pandas()


def _read_sql(source: Source, root: Path | None, params: Mapping[str, Any] | None = None,
              since: tuple[str, Any] | None = None) -> pd.DataFrame:
    where = f"source '{source.source_id}' connection_config"
    config = substitute_env(source.connection_config, where)
    raw_url = config.get("url") or config.get("connection_string")
    if not raw_url:
        raise SourceReadError(f"source '{source.source_id}': connection_config needs 'url' (a SQLAlchemy URL)")
    url = make_sql_url(raw_url, root, f"{where}.url")
    _require_readable(url, root, f"source '{source.source_id}'")
    template = source.connection_config.get("url") or source.connection_config.get("connection_string")
    # the URL as read is a secret when a ${NAME} went into it; a URL written out in config is not
    secrets = [*([raw_url] if raw_url != template else []), *env_secrets(source.connection_config),
               *(str(v) for k, v in config.items() if "pass" in k.lower() or "token" in k)]
    text = source.source_path_or_query.strip()
    with sql_engine(url, where=f"source '{source.source_id}': cannot read '{text}'", error=SourceReadError,
                    secrets=secrets, shown_as=str(template) if env_secrets(template) else None,
                    **dict(config.get("engine_options") or {})) as engine, engine.connect() as conn:
        schema, _, table = text.rpartition(".")
        if not text.lower().startswith(("select", "with")):
            if since is None:
                return pd.read_sql_table(table, conn, schema=schema or None)
            return _read_table_since(source, conn, table, schema or None, since)
        query, bound = sql_query(text, engine.dialect.identifier_preparer, params, since)
        return pd.read_sql_query(sa.text(query), conn, params=bound)


def sql_query(text: str, quote: Any, params: Mapping[str, Any] | None,
              since: tuple[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """A source's query with the partition parameters it names bound, and, for an incremental
    source, only the rows past the mark: ``WHERE <column> > :odibi_high_water_mark``. The column is
    quoted by the dialect; every value is a bound parameter."""
    bound = {name: (params or {})[name] for name in placeholders_in(text) if params and name in params}
    if since is None:
        return text, bound
    column, mark = since
    # the query on lines of its own: a trailing -- comment ends with its line
    query = (f"SELECT * FROM (\n{text.rstrip().rstrip(';')}\n) odibi_rows WHERE {quote.quote(column)} > "
             f":odibi_high_water_mark")
    return query, {**bound, "odibi_high_water_mark": mark}


def _read_table_since(source: Source, conn: sa.Connection, table: str, schema: str | None,
                      since: tuple[str, Any]) -> pd.DataFrame:
    """An incremental read of a whole table: its rows past the mark, with the column types a full
    read (``read_sql_table``) gives, so the first and the later runs store the same types."""
    column, mark = since
    reflected = sa.Table(table, sa.MetaData(), schema=schema, autoload_with=conn)
    if column not in reflected.c:
        raise SourceReadError(f"source '{source.source_id}': incremental column '{column}' is not a column of "
                              f"table '{table}' (columns: {list(reflected.c.keys())})")
    dates = [c.name for c in reflected.c if isinstance(c.type, (sa.Date, sa.DateTime))]
    query = sa.select(reflected).where(reflected.c[column] > sa.bindparam("odibi_high_water_mark", mark))
    return pd.read_sql_query(query, conn, parse_dates=dates)


def _require_readable(url: sa.URL, root: Path | None, where: str) -> None:
    """A SQLite file named through ``${NAME}`` is checked against the source roots once it is known."""
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        problem = outside_source_roots(url.database, root)
        if problem:
            raise SourceReadError(f"{where}: the SQLite database {redact_secrets(problem)}")


def _apply_schema(frame: pd.DataFrame, source: Source) -> pd.DataFrame:
    schema = source.source_options.get("schema") or {}
    for column, type_name in schema.items():
        if column not in frame.columns:
            raise SourceReadError(f"source '{source.source_id}': schema names column '{column}', which the data "
                                  f"does not have (columns: {list(frame.columns)})")
        target = PANDAS_TYPES[str(type_name).lower()]
        try:
            if target == "date":
                frame[column] = pd.to_datetime(frame[column]).dt.normalize()
            elif target == "timestamp":
                frame[column] = pd.to_datetime(frame[column])
            elif str(frame[column].dtype) != target:
                frame[column] = frame[column].astype(target)
        except (ValueError, TypeError) as exc:  # a value of another form, mixed time zones, ...
            raise SourceReadError(f"source '{source.source_id}': column '{column}' cannot be read as {type_name} "
                                  f"(source_options.schema): {str(exc).splitlines()[0].removesuffix(' You might want to try:')}; nothing "
                                  f"was read") from None
    return frame


_READERS: dict[str, Callable[[Source, Path | None], pd.DataFrame]] = {
    "csv": _read_csv, "json": _read_json, "parquet": _read_parquet, "delta": _read_delta,
}


def read_query(sql: str, connection: str | None, root: Path | None, where: str) -> pd.DataFrame:
    """A ``{type: query, sql, connection}`` input on pandas: the query runs on that SQLAlchemy URL."""
    if not connection:
        raise SourceReadError(f"{where}: a query input on pandas needs 'connection' (a SQLAlchemy URL)")
    raw_url = substitute_env(connection, where)
    url = make_sql_url(raw_url, root, f"{where} connection")
    _require_readable(url, root, where)
    with sql_engine(url, where=f"{where}: query failed", error=SourceReadError,
                    secrets=[*([raw_url] if raw_url != connection else []), *env_secrets(connection)],
                    shown_as=connection if env_secrets(connection) else None) as engine, \
            engine.connect() as conn:
        return pd.read_sql_query(sa.text(sql), conn)
