"""Data-quality config: the ``checks:`` and ``quality_gate:`` of a source or an output.

Each check is one row of a list, validated on its own here (type, fields of that type, a regex
that compiles, an expression that parses); the rules across checks of one asset (unique names)
are ``check_names``. What a check means at run time lives in ``odibi_dagster.quality``.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from odibi_dagster.config.errors import did_you_mean

ROW_CHECKS = ("not_null", "unique", "accepted_values", "range", "regex", "expression")
TABLE_CHECKS = ("row_count", "freshness", "schema")
CHECK_TYPES = ROW_CHECKS + TABLE_CHECKS
LOGICAL_TYPES = ("string", "integer", "double", "boolean", "date", "timestamp", "decimal")
OnFail = Literal["warn", "fail", "drop", "quarantine"]

# the fields each type takes besides type, name and on_fail; the first group is required
_FIELDS: dict[str, tuple[set[str], set[str]]] = {
    "not_null": ({"columns"}, set()),
    "unique": ({"columns"}, set()),
    "accepted_values": ({"column", "values"}, set()),
    "range": ({"column"}, {"min", "max"}),
    "regex": ({"column", "pattern"}, set()),
    "expression": ({"expr", "name"}, set()),
    "row_count": (set(), {"min", "max"}),
    "freshness": ({"column", "max_age"}, set()),
    "schema": ({"columns"}, {"strict"}),
}
CHECK_NAME = re.compile(r"^[A-Za-z0-9_]+$")  # Dagster's rule for asset check names
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """``"36h"`` -> 36 hours; units ``s``, ``m``, ``h``, ``d``."""
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"max_age '{text}' is not a duration: a number and a unit s, m, h or d (e.g. '30m', "
                         f"'36h', '7d')")
    try:
        return timedelta(seconds=float(match.group(1)) * _SECONDS[match.group(2)])
    except OverflowError:
        raise ValueError(f"max_age '{text}' is longer than a time span can be") from None


def check_expression(text: str) -> None:
    """Refuse an ``expression`` that is not one SQL boolean expression over one row's columns.

    DuckDB parses it (the engine that evaluates it on pandas): a subquery, a clause (``FROM``,
    ``WHERE``, ...), an aggregate or a window function is refused, so an expression can never read
    another table or a file, nor look at other rows, on either engine.
    """
    import duckdb

    try:
        duckdb.SQLExpression(text)
        plan = duckdb.execute("SELECT json_serialize_sql(?)", [f"SELECT {text}"]).fetchone()[0]
    except duckdb.Error as exc:
        raise ValueError(f"expression '{text}' does not parse: {str(exc).splitlines()[0]}") from None
    tree = json.loads(plan)
    if tree.get("error"):
        raise ValueError(f"expression '{text}' does not parse: {tree.get('error_message')}")
    node = tree["statements"][0]["node"]
    clauses = (node.get("from_table", {}).get("type") != "EMPTY" or node.get("where_clause") or node.get("having")
               or node.get("qualify") or node.get("group_expressions") or node.get("modifiers")
               or node.get("cte_map", {}).get("map") or len(node.get("select_list", [])) != 1)
    if node.get("type") != "SELECT_NODE" or clauses:
        raise ValueError(f"expression '{text}' must be one expression over the row's columns, without a clause "
                         f"(FROM, WHERE, ...)")
    for part in _parts(node["select_list"][0]):
        if part.get("class") == "SUBQUERY":
            raise ValueError(f"expression '{text}' must be one expression over the row's columns, without a "
                             f"subquery")
        if part.get("class") == "WINDOW" or (part.get("class") == "FUNCTION"
                                              and part.get("function_name", "").lower() in _aggregates()):
            raise ValueError(f"expression '{text}' uses '{part.get('function_name')}', which looks at other rows: "
                             f"a check's expression sees one row at a time")


def _parts(tree: Any) -> Iterator[dict[str, Any]]:
    """Every node of a parsed expression."""
    if isinstance(tree, dict):
        yield tree
        for value in tree.values():
            yield from _parts(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _parts(value)


@functools.cache
def _aggregates() -> frozenset[str]:
    import duckdb

    rows = duckdb.execute("SELECT DISTINCT function_name FROM duckdb_functions() WHERE function_type = 'aggregate'")
    return frozenset(name.lower() for (name,) in rows.fetchall())


class CheckConfig(BaseModel):
    """One data-quality check: a Dagster asset check on the asset."""

    model_config = ConfigDict(extra="forbid")  # no stripping: a pattern's or a column's spaces count

    type: str = Field(description=f"One of {', '.join(CHECK_TYPES)}. Row-level: {', '.join(ROW_CHECKS)}; "
                                  f"table-level: {', '.join(TABLE_CHECKS)}.", examples=["not_null"])
    name: str | None = Field(
        default=None, examples=["amount_covers_discount"],
        description="The check's name (required for `expression`); default: the type, then `__<column>` for "
                    "each column named, e.g. `not_null__order_id__customer_id`.")
    column: str | None = Field(default=None, description="`accepted_values`, `range`, `regex`, `freshness`: the "
                                                        "column checked.")
    columns: list[str] | dict[str, str] | None = Field(
        default=None, examples=[["order_id", "customer_id"]],
        description="`not_null`, `unique`: the columns (a list); `schema`: column -> logical type (string, integer, "
                    "double, boolean, date, timestamp, decimal).")
    values: list[Any] | None = Field(default=None, description="`accepted_values`: the values allowed.")
    min: int | float | None = Field(default=None, description="`range`: the lowest value allowed (inclusive); "
                                                             "`row_count`: the fewest rows.")
    max: int | float | None = Field(default=None, description="`range`: the highest value allowed (inclusive); "
                                                             "`row_count`: the most rows.")
    pattern: str | None = Field(default=None, description="`regex`: the whole value must match (the common "
                                                          "subset of Python and Java regex syntax).")
    expr: str | None = Field(default=None, examples=["amount >= discount"],
                             description="`expression`: a SQL boolean expression over the row's columns (Spark SQL "
                                         "on Spark, DuckDB on pandas); a null result passes.")
    max_age: str | None = Field(default=None, examples=["36h"], description="`freshness`: how old the newest value "
                                                                           "of `column` may be: `30m`, `36h`, `7d`.")
    strict: bool = Field(default=False, description="`schema`: also refuse columns it does not list.")
    on_fail: OnFail = Field(
        default="fail",
        description="`warn`: write every row, the check fails as WARN; `fail`: write nothing, the check fails as "
                    "ERROR and blocks downstream; `drop`: leave failing rows out; `quarantine`: leave them out and "
                    "append them to the quarantine table. Table-level checks: `warn` or `fail` only.")

    @field_validator("type", "on_fail", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in CHECK_TYPES:
            raise ValueError(f"unknown check type '{value}'{did_you_mean(value, CHECK_TYPES)}; choose one of "
                             f"{', '.join(CHECK_TYPES)}")
        return value

    @field_validator("min", "max", mode="before")
    @classmethod
    def _a_number(cls, value: Any) -> Any:
        if isinstance(value, bool) or (isinstance(value, float) and math.isnan(value)):
            raise ValueError(f"{value!r} is not a number to compare with")
        return value

    @field_validator("values")
    @classmethod
    def _one_kind_of_value(cls, value: list[Any] | None) -> list[Any] | None:
        kinds = {type(item).__name__ for item in value or [] if item is not None}
        if "bool" in kinds and kinds - {"bool"}:
            raise ValueError(f"values {value} mix true/false with other values: YAML reads unquoted yes, no, on and "
                             f"off as true/false; quote them ('NO')")
        if any(isinstance(item, float) and math.isnan(item) for item in value or []):
            raise ValueError("values may not hold NaN (a missing value passes the check anyway)")
        return value

    @field_validator("name")
    @classmethod
    def _name_chars(cls, value: str | None) -> str | None:
        if value is not None and not CHECK_NAME.match(value):
            raise ValueError(f"check name '{value}' may hold only letters, digits and _")
        return value

    @model_validator(mode="after")
    def _fields_of_type(self) -> CheckConfig:
        required, optional = _FIELDS[self.type]
        given = {name for name in ("column", "columns", "values", "min", "max", "pattern", "expr", "max_age")
                 if getattr(self, name) is not None} | ({"strict"} if self.strict else set())
        if self.type == "expression" and self.name is not None:
            given.add("name")
        kind = f"{'an' if self.type in ('accepted_values', 'expression') else 'a'} '{self.type}' check"
        for wrong, right in (("column", "columns"), ("columns", "column")):
            if wrong in given and right in required:
                example = "columns: [id]" if right == "columns" else "column: id"
                raise ValueError(f"{kind} takes '{right}' ({example}), not '{wrong}'")
        missing = sorted(required - given)
        if missing:
            raise ValueError(f"{kind} needs {', '.join(repr(m) for m in missing)}")
        extra = sorted(given - required - optional)
        if extra:
            raise ValueError(f"{kind} does not take {', '.join(repr(e) for e in extra)}")
        if optional == {"min", "max"} and self.min is None and self.max is None:
            raise ValueError(f"{kind} needs 'min', 'max' or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        if self.type in TABLE_CHECKS and self.on_fail not in ("warn", "fail"):
            raise ValueError(f"on_fail '{self.on_fail}' needs failing rows, and '{self.type}' checks the "
                             f"whole table: use warn or fail")
        self._check_values()
        return self

    def _check_values(self) -> None:
        if self.type in ("not_null", "unique") and not isinstance(self.columns, list):
            raise ValueError("'columns' is a list of column names")
        if self.type in ("not_null", "unique") and not self.columns:
            raise ValueError("'columns' names no column")
        if self.type == "schema":
            if not isinstance(self.columns, dict) or not self.columns:
                raise ValueError("'columns' maps each column to its type, e.g. {order_id: integer}")
            for column, kind in self.columns.items():
                if str(kind).lower() not in LOGICAL_TYPES:
                    raise ValueError(f"type '{kind}' of column '{column}' is not one of "
                                     f"{', '.join(LOGICAL_TYPES)}{did_you_mean(str(kind).lower(), LOGICAL_TYPES)}")
        if self.type == "accepted_values" and not self.values:
            raise ValueError("'values' lists no value")
        if self.type == "row_count" and any(v is not None and (v < 0 or v != int(v)) for v in (self.min, self.max)):
            raise ValueError("'min' and 'max' count rows: whole numbers from 0")
        if self.type == "regex":
            try:
                re.compile(self.pattern or "")
            except re.error as exc:
                raise ValueError(f"pattern '{self.pattern}' does not compile: {exc}") from None
            if re.search(r"\(\?(P[<=>]|<[A-Za-z])", self.pattern or ""):
                raise ValueError(f"pattern '{self.pattern}' names a group, which Python and Java (Spark) write "
                                 f"differently: use a plain group (...)")
        if self.type == "expression":
            check_expression(self.expr or "")
        if self.type == "freshness":
            parse_duration(self.max_age or "")

    @property
    def check_name(self) -> str:
        """``name``, else ``<type>__<column>...`` (``row_count`` and ``schema``: the type alone)."""
        if self.name:
            return self.name
        if self.type in ("row_count", "schema"):
            return self.type
        named = [self.column] if self.column else list(self.columns or [])
        return re.sub(r"[^A-Za-z0-9_]", "_", "__".join([self.type, *named]))

    @property
    def is_row_level(self) -> bool:
        return self.type in ROW_CHECKS

    @property
    def checked_columns(self) -> list[str]:
        """The columns the data must have for this check to run (an expression's are its own)."""
        if self.column:
            return [self.column]
        return list(self.columns or []) if self.type in ("not_null", "unique") else []

    @property
    def severity(self) -> str:
        """How a failure of this check is reported: ERROR only for ``on_fail: fail``."""
        return "ERROR" if self.on_fail == "fail" else "WARN"


class QualityGate(BaseModel):
    """The share of rows that must pass every row-level check, or nothing is written."""

    model_config = ConfigDict(extra="forbid")

    min_pass_rate: float = Field(ge=0, le=1, examples=[0.95], description="0..1: below it the step fails like "
                                                                         "`on_fail: fail` (nothing written).")


def check_names(checks: list[CheckConfig]) -> list[CheckConfig]:
    """Refuse two checks with one name on an asset (each is one Dagster asset check)."""
    seen: set[str] = set()
    for check in checks:
        if check.check_name in seen:
            raise ValueError(f"two checks are named '{check.check_name}': give one of them another 'name'")
        seen.add(check.check_name)
    return checks
