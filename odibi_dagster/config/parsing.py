"""Turn raw rows (dicts from YAML, JSON or SQL) into model objects, collecting clear issues.

Pydantic does the field checks; this module translates its errors into ``ConfigIssue`` objects
that name the file or table, the row and the field, and adds "did you mean" for unknown keys.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from odibi_dagster.config.checks import CheckConfig, QualityGate
from odibi_dagster.config.errors import ConfigIssue, did_you_mean
from odibi_dagster.config.model import (
    LEGACY_COLUMNS,
    InputSpec,
    LayerConfig,
    LogSinkConfig,
    OutputSpec,
    RetryConfig,
    ScheduleConfig,
)

RowModel = TypeVar("RowModel", bound=BaseModel)

_NESTED_MODELS = (InputSpec, OutputSpec, LayerConfig, RetryConfig, ScheduleConfig, LogSinkConfig, CheckConfig,
                  QualityGate)
_UNION_MEMBERS = {"str", "constrained-str", "InputSpec", "dict[str,str]", "list[str]", "LogSinkConfig"}


def parse_row(
    model: type[RowModel],
    data: Any,
    *,
    where: str,
    row_id: str | None,
    line: int | None = None,
) -> tuple[RowModel | None, list[ConfigIssue]]:
    """Validate one row; returns the model (or None) and the issues found in it."""
    if not isinstance(data, dict):
        return None, [ConfigIssue(where, f"expected a mapping of fields, got {type(data).__name__}", row_id, None, line)]
    data = {key: value for key, value in data.items() if key not in LEGACY_COLUMNS}
    try:
        obj = model.model_validate(data)
    except ValidationError as exc:
        return None, _issues_from(exc, model, data, where=where, row_id=row_id, line=line)
    obj.located(where, line)  # type: ignore[attr-defined]
    return obj, []


def parse_rows(
    model: type[RowModel],
    rows: Iterable[Any],
    *,
    where: str,
    id_field: str,
    lines: list[int | None] | None = None,
) -> tuple[list[RowModel], list[ConfigIssue]]:
    """Validate a list of rows; every row is checked, so every error is reported at once."""
    parsed: list[RowModel] = []
    issues: list[ConfigIssue] = []
    for index, data in enumerate(rows):
        row_id = row_label(data, id_field, index)
        line = lines[index] if lines and index < len(lines) else None
        obj, row_issues = parse_row(model, data, where=where, row_id=row_id, line=line)
        issues += row_issues
        if obj is not None:
            parsed.append(obj)
    return parsed, issues


def row_label(data: Any, id_field: str, index: int) -> str:
    """The row's id for messages, or its position when the id itself is missing."""
    if isinstance(data, dict) and data.get(id_field) not in (None, ""):
        return str(data[id_field])
    return f"#{index + 1}"


def _known_fields(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields) | LEGACY_COLUMNS



def _issues_from(
    exc: ValidationError,
    model: type[BaseModel],
    data: dict[str, Any],
    *,
    where: str,
    row_id: str | None,
    line: int | None,
) -> list[ConfigIssue]:
    errors = []
    for error in exc.errors(include_url=False):
        loc = tuple(part for part in error["loc"] if str(part) not in _UNION_MEMBERS and "[" not in str(part))
        errors.append((loc, error))
    # one sink or a list of them: the member the value is not reports only "not a list" / "not a mapping"
    shape_errors = {"list_type", "model_type", "model_attributes_type", "dict_type"}
    informative = {loc[:1] for loc, error in errors if error["type"] not in shape_errors}
    errors = [(loc, error) for loc, error in errors
              if not (error["type"] in shape_errors and loc[:1] in informative and loc[:1] == ("log_sink",))]

    # A union (table name or mapping) reports one error per member; keep the informative ones.
    deep = {loc[:2] for loc, _ in errors if len(loc) > 2}
    issues: list[ConfigIssue] = []
    seen: set[tuple[str, str]] = set()
    for loc, error in errors:
        if len(loc) == 2 and loc[:2] in deep and error["type"] in {"string_type", "model_type", "dict_type"}:
            continue
        field = ".".join(str(part) for part in loc) or None
        message = _place(loc, data) + _message(loc, error, model)
        if (field or "", message) in seen:
            continue
        seen.add((field or "", message))
        issues.append(ConfigIssue(where, message, row_id, field, line))
    return issues


def _place(loc: tuple, data: dict[str, Any]) -> str:
    """``output 'orders', check #2 (unique): `` for an error inside an output's or a source's checks."""
    if "checks" not in loc and "quality_gate" not in loc:
        return ""
    parts: list[str] = []
    node: Any = data
    for index, part in enumerate(loc):
        node = _child(node, part)
        following = loc[index + 1] if index + 1 < len(loc) else None
        if part == "outputs" and isinstance(following, int):
            table = _child(_child(node, following), "table")
            parts.append(f"output '{table}'" if isinstance(table, str) else f"output #{following + 1}")
        elif part == "checks" and isinstance(following, int):
            check = _child(node, following)
            named = _child(check, "name") or _child(check, "type")
            parts.append(f"check #{following + 1}" + (f" ({named})" if isinstance(named, str) else ""))
    return f"{', '.join(parts)}: " if parts else ""


def _child(node: Any, part: Any) -> Any:
    if isinstance(node, str) and node.strip().startswith(("[", "{")):  # JSON text of a SQL table's cell
        try:
            node = json.loads(node)
        except ValueError:
            return None
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and part < len(node):
        return node[part]
    return None


def _message(loc: tuple, error: dict[str, Any], model: type[BaseModel]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        choices = _known_fields(model) if len(loc) == 1 else set().union(*(_known_fields(m) for m in _NESTED_MODELS))
        return f"unknown key '{key}'{did_you_mean(key, choices)}"
    if kind == "missing":
        return "missing required field"
    if kind in {"string_type", "model_type", "dict_type"} and len(loc) == 2 and isinstance(loc[1], int):
        if loc[0] == "outputs":
            return f"expected a mapping such as {{table: silver.orders}}, got {error['input']!r}"
        return f"expected a table name or a mapping, got {error['input']!r}"
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message
