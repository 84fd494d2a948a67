"""Checks on a pandas frame: one boolean mask per row-level check, ``expression`` through DuckDB.

An expression is SQL text evaluated by DuckDB over the frame (never Python ``eval`` or
``DataFrame.query``), on a connection that may not touch files or the network.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from odibi_dagster.config.checks import CheckConfig, QualityGate
from odibi_dagster.quality.measure import (
    SAMPLE_ROWS,
    Evaluated,
    Measured,
    QualityError,
    judge,
    require_columns,
    require_comparable,
)


def evaluate(frame: pd.DataFrame, checks: Sequence[CheckConfig], gate: QualityGate | None, *, where: str,
             run_id: str, now: datetime) -> Evaluated:
    """Evaluate ``checks`` on the rows about to be written; split off drop and quarantine rows."""
    require_columns(checks, [str(c) for c in frame.columns], where)
    row_checks = [check for check in checks if check.is_row_level]
    columns = _Columns(frame)
    masks = {check.check_name: _failing(frame, check, where, columns) for check in row_checks}
    any_failed = np.logical_or.reduce(list(masks.values())) if masks else np.zeros(len(frame), dtype=bool)
    measured = Measured(
        total_rows=len(frame),
        failed={name: int(mask.sum()) for name, mask in masks.items()},
        passing_all=int(len(frame) - any_failed.sum()),
        samples={name: _sample(frame, mask) for name, mask in masks.items() if mask.any()},
        newest={check.check_name: _newest(frame[check.column], check, where)
                for check in checks if check.type == "freshness"},
        column_types={str(column): logical_type(frame[column]) for column in frame.columns}
        if any(check.type == "schema" for check in checks) else {},
    )
    results, blocked = judge(checks, gate, measured, now, where)
    quarantined = _any(masks, [c for c in row_checks if c.on_fail == "quarantine"], len(frame))
    removed = quarantined | _any(masks, [c for c in row_checks if c.on_fail == "drop"], len(frame))
    quarantine = None
    if quarantined.any():
        quarantine = frame[quarantined].copy()
        failed = [(check.check_name, masks[check.check_name][quarantined]) for check in row_checks]
        quarantine["_failed_checks"] = [",".join(name for name, mask in failed if mask[row])
                                        for row in range(len(quarantine))]  # config order
        quarantine["_quarantined_at"] = pd.Timestamp(now).tz_convert("UTC").as_unit("us")
        quarantine["_run_id"] = run_id
    return Evaluated(results, frame[~removed] if removed.any() else frame, quarantine,
                     rows_dropped=int(removed.sum() - quarantined.sum()), rows_quarantined=int(quarantined.sum()),
                     blocked=blocked)


def _any(masks: dict[str, np.ndarray], checks: Sequence[CheckConfig], rows: int) -> np.ndarray:
    chosen = [masks[check.check_name] for check in checks]
    return np.logical_or.reduce(chosen) if chosen else np.zeros(rows, dtype=bool)


class _Columns:
    """What several checks of one column share, computed once per evaluation."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame
        self._missing: dict[str, np.ndarray] = {}
        self._distinct: dict[str, tuple[np.ndarray, Any]] = {}

    def missing(self, column: str) -> np.ndarray:
        if column not in self._missing:
            self._missing[column] = self.frame[column].isna().to_numpy()
        return self._missing[column]

    def distinct(self, column: str) -> tuple[np.ndarray, Any]:
        """``pd.factorize``: a code per row (-1 for null) and the distinct values."""
        if column not in self._distinct:
            self._distinct[column] = pd.factorize(self.frame[column])
        return self._distinct[column]


def _failing(frame: pd.DataFrame, check: CheckConfig, where: str, columns: _Columns) -> np.ndarray:
    """True for each row failing ``check`` (a null passes every check but ``not_null``)."""
    if check.type == "not_null":
        return np.logical_or.reduce([columns.missing(column) for column in check.columns or []])
    if check.type == "unique":
        if len(check.columns or []) == 1:  # a Series hashes much faster than a one-column frame
            key = frame[check.columns[0]]
            return (key.notna() & key.duplicated(keep=False)).to_numpy()
        keys = frame[check.columns]
        return (keys.notna().all(axis=1) & keys.duplicated(keep=False)).to_numpy()
    if check.type == "expression":
        return _expression_failing(frame, check, where)
    values = frame[check.column]
    present = ~columns.missing(check.column)
    if not present.any():
        return present  # nothing but nulls: every row passes, whatever type the column was read as
    if check.type == "accepted_values":  # judged once per distinct value
        require_comparable(check, logical_type(values), where)
        codes, uniques = columns.distinct(check.column)
        return present & ~pd.Index(uniques).isin(check.values)[codes]
    if check.type == "range":
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if not numeric and logical_type(values) != "decimal":
            raise QualityError(f"{where}: check '{check.check_name}' compares numbers, but column '{check.column}' "
                               f"holds {values.dtype}")
        outside = np.zeros(len(values), dtype=bool)
        if check.min is not None:
            outside |= (values < check.min).to_numpy(dtype=bool, na_value=False)
        if check.max is not None:
            outside |= (values > check.max).to_numpy(dtype=bool, na_value=False)
        return present & outside
    # regex: the whole value must match
    if logical_type(values) != "string":
        raise QualityError(f"{where}: check '{check.check_name}' matches text, but column '{check.column}' holds "
                           f"{values.dtype}")
    # each distinct value matched once; ASCII classes (\d, \w, \s) as in Java's regex, which Spark uses
    codes, uniques = columns.distinct(check.column)
    pattern = re.compile(check.pattern or "", flags=re.ASCII)
    matched = np.fromiter((pattern.fullmatch(str(value)) is not None for value in uniques), dtype=bool,
                          count=len(uniques))
    return present & ~matched[codes]


def _expression_failing(frame: pd.DataFrame, check: CheckConfig, where: str) -> np.ndarray:
    import duckdb

    connection = duckdb.connect(config={"enable_external_access": False, "lock_configuration": True})
    try:
        relation = connection.from_df(frame)
        result = relation.select(duckdb.SQLExpression(check.expr or "").alias("ok"))
        if str(result.types[0]) != "BOOLEAN":
            raise QualityError(f"{where}: expression check '{check.check_name}' ({check.expr}) gives "
                               f"{result.types[0]}, not true/false")
        ok = result.fetchnumpy()["ok"]
        if len(ok) != len(frame):  # refused at load; a second guard, as the mask is applied by position
            raise QualityError(f"{where}: expression check '{check.check_name}' ({check.expr}) gave {len(ok)} "
                               f"results for {len(frame)} rows")
    except duckdb.Error as exc:
        raise QualityError(f"{where}: expression check '{check.check_name}' ({check.expr}) cannot be evaluated: "
                           f"{str(exc).splitlines()[0]}") from None
    finally:
        connection.close()
    ok = np.ma.asarray(ok)
    return ~np.ma.filled(ok, True).astype(bool)  # a null result passes


def _sample(frame: pd.DataFrame, mask: np.ndarray) -> list[dict[str, Any]]:
    return frame[mask].head(SAMPLE_ROWS).astype(object).where(lambda f: f.notna(), None).to_dict("records")


def _newest(values: pd.Series, check: CheckConfig, where: str) -> Any:
    kind = logical_type(values)
    if kind not in ("timestamp", "date"):
        raise QualityError(f"{where}: check '{check.check_name}' needs a date or timestamp column; "
                           f"'{check.column}' holds {values.dtype}")
    newest = values.max()
    return None if pd.isna(newest) else newest


def logical_type(values: pd.Series) -> str:
    """The logical type of a column (the ``schema`` check's names)."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "double"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "timestamp"
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return "string"
    if isinstance(dtype, pd.ArrowDtype):
        import pyarrow as pa

        arrow = dtype.pyarrow_dtype
        return "date" if pa.types.is_date(arrow) else "decimal" if pa.types.is_decimal(arrow) else str(arrow)
    inferred = pd.api.types.infer_dtype(values, skipna=True)
    return {"string": "string", "empty": "string", "date": "date", "decimal": "decimal", "boolean": "boolean",
            "integer": "integer", "floating": "double", "mixed-integer-float": "double", "datetime": "timestamp",
            "datetime64": "timestamp"}.get(inferred, inferred)
