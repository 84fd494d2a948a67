"""How an asset presents itself in the Dagster UI: markdown description, kinds, code references and
the column schema declared in config.

Everything here is built from config alone (no data is read), so it costs nothing at load time.
Secrets stay out: a source's ``connection_config`` is never shown.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import re
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import dagster as dg

from odibi_dagster.config.checks import CheckConfig
from odibi_dagster.config.model import OutputSpec, Source, Transformation
from odibi_dagster.functions.registry import resolve_function

CODE_REFERENCES = "dagster/code_references"
COLUMN_SCHEMA = "dagster/column_schema"
_MAX_VALUE = 200  # longer constants are cut in the description; the config holds the whole value
_SECRET_KEY = re.compile(r"pass(word|wd)?|secret|token|credential|api_?key", re.IGNORECASE)


def _cell(text: object) -> str:
    """A value for a markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(text: object) -> str:
    value = _cell(text)
    if len(value) > _MAX_VALUE:
        value = value[:_MAX_VALUE] + "…"
    return f"`{value.replace('`', chr(39))}`"


def _table(rows: Iterable[tuple[str, str]]) -> str:
    return "\n".join(["| | |", "|---|---|", *(f"| **{_cell(name)}** | {value} |" for name, value in rows)])


def _output_cell(output: OutputSpec) -> str:
    details = [output.mode]
    if output.merge_keys:
        details.append("keys " + ", ".join(output.merge_keys))
    if output.partition_by:
        details.append("partitioned by " + ", ".join(output.partition_by))
    if output.format:
        details.append(output.format)
    return f"{_code(output.table)} ({_cell('; '.join(details))})"


def transformation_description(row: Transformation, output: OutputSpec, labels: dict[str, str]) -> str:
    """The config's description, then a table of what runs: id, layer, function, inputs, constants, labels."""
    rows: list[tuple[str, str]] = [
        ("Transformation", _code(row.transformation_id)),
        ("Layer", _cell(row.layer)),
        ("Function", _code(f"{row.module}.{row.function}")),
        ("Inputs", ", ".join(_code(key) for key in row.input_keys) or "none"),
        ("Constants", ", ".join(f"{_code(name)} = {_code(json.dumps(value, default=str))}"
                                for name, value in row.constants.items()) or "none"),
        *((label.capitalize(), _cell(value)) for label, value in labels.items()),
        ("Output", _output_cell(output)),
    ]
    if row.io == "self_managed":
        rows.append(("IO", "self-managed: the function writes its own tables"))
    intro = output.description or row.description or f"Transformation `{row.transformation_id}` ({row.layer})."
    return f"{intro}\n\n{_table(rows)}"


def source_description(source: Source) -> str:
    """The config's description, then where the bronze data comes from (never its connection settings)."""
    rows: list[tuple[str, str]] = [
        ("Source", _code(source.source_id)),
        ("Format", _cell(f"{source.file_format} ({source.source_type})")),
        ("Path or query", _code(source.source_path_or_query)),
        ("Write mode", _cell(source.write_mode)),
    ]
    if source.source_options:
        rows.append(("Options", _code(json.dumps(_without_secrets(source.source_options), default=str))))
    intro = source.description or f"Bronze source `{source.source_id}`."
    return f"{intro}\n\n{_table(rows)}"


# Engine reader options whose values say how to parse, never who may read: shown as they are.
_HARMLESS_OPTIONS = frozenset({
    "mode", "inferSchema", "dateFormat", "timestampFormat", "quote", "escape", "comment", "multiLine", "fetchsize",
    "numPartitions", "samplingRatio", "compression", "dtype", "sep", "quotechar", "decimal", "thousands",
    "skiprows", "nrows", "usecols", "lines", "orient", "chunksize", "engine", "on_bad_lines",
})


def _without_secrets(options: dict[str, Any]) -> dict[str, Any]:
    """Reader options as the UI shows them: the portable ones (header, delimiter, ...) with their
    values; of the ``pandas:`` and ``spark:`` ones, the keys, and the value only where the option is
    known to be harmless (a literal ``Authorization`` or ``sas`` value is a credential)."""
    def shown(key: str, value: Any) -> Any:
        return value if key in _HARMLESS_OPTIONS and not _SECRET_KEY.search(key) else "***"

    return {key: {name: shown(str(name), item) for name, item in value.items()}
            if key in ("pandas", "spark") and isinstance(value, dict) else value for key, value in options.items()}


def source_kinds(source: Source, engine: str, storage_format: str) -> set[str]:
    """Engine, storage format and the format the source is read from (Dagster shows up to three)."""
    return {engine, storage_format, source.file_format}


def declared_column_schema(output: OutputSpec) -> dict[str, dg.TableSchema]:
    """``dagster/column_schema`` from the output's ``columns``; materializations carry the real one."""
    if not output.columns:
        return {}
    return {COLUMN_SCHEMA: dg.TableSchema(columns=[
        dg.TableColumn(name=name, type=spec.type or "?", description=spec.description or None)
        for name, spec in output.columns.items()
    ])}


_Reference = tuple[str, int | None, str]  # file, line, label


@functools.cache  # many rows share a function and every row of a file shares it: stat each once
def _function_reference(fn: Callable[..., Any], label: str) -> _Reference | None:
    code = getattr(inspect.unwrap(fn), "__code__", None)
    if code is None or not Path(code.co_filename).is_file():
        return None
    return code.co_filename, code.co_firstlineno, label


@functools.cache
def _config_reference(where: str) -> _Reference | None:
    path = Path(where)  # a file for folder projects; a table name for SQL ones, which has no link
    return (str(path), None, path.name) if path.is_absolute() and path.is_file() else None


def _references(references: list[_Reference | None]) -> dict[str, Any]:
    found = [reference for reference in references if reference is not None]
    if not found:
        return {}
    with warnings.catch_warnings():  # code references are beta in Dagster 1.13; users need no warning
        warnings.simplefilter("ignore")
        return {CODE_REFERENCES: dg.CodeReferencesMetadataValue(code_references=[
            dg.LocalFileCodeReference(file_path=path, line_number=line, label=label) for path, line, label in found])}


def transformation_code_references(row: Transformation, root: Path | None) -> dict[str, Any]:
    """Links from the asset page to the function's source (each engine's variant) and the config file."""
    engines_of: dict[Callable[..., Any], list[str]] = {}
    for engine in [row.engine_override] if row.engine_override else ["pandas", "spark"]:
        # a function may exist for one engine only; validation has reported what cannot be imported
        with contextlib.suppress(ImportError, LookupError):
            engines_of.setdefault(resolve_function(row.module, row.function, engine, root), []).append(engine)
    # short labels: the UI shows "Open <label> in editor" in a narrow column
    references = [_function_reference(fn, row.function if len(engines_of) == 1 else f"{row.function} ({engines[0]})")
                  for fn, engines in engines_of.items()]
    return _references([*references, _config_reference(row.where)])


def source_code_references(source: Source) -> dict[str, Any]:
    return _references([_config_reference(source.where)])


def check_description(check: CheckConfig) -> str:
    """A check's one-line description on the asset's Checks tab."""
    what = {
        "not_null": lambda: f"{', '.join(check.columns or [])} never null",
        "unique": lambda: f"{', '.join(check.columns or [])} unique (nulls ignored)",
        "accepted_values": lambda: f"{check.column} in {check.values}",
        "range": lambda: f"{check.column} within [{_bound(check.min)}, {_bound(check.max)}]",
        "regex": lambda: f"{check.column} matches {check.pattern}",
        "expression": lambda: str(check.expr),
        "row_count": lambda: f"row count within [{_bound(check.min)}, {_bound(check.max)}]",
        "freshness": lambda: f"newest {check.column} at most {check.max_age} old",
        "schema": lambda: ", ".join(f"{c}: {t}" for c, t in dict(check.columns or {}).items())
                          + (" (no other columns)" if check.strict else ""),
    }[check.type]()
    return f"{what}; on failure: {check.on_fail}"


def _bound(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"
