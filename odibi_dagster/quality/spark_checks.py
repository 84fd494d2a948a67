"""Checks on a Spark frame: each row-level check a boolean column, all counted in one aggregation.

The frame with its check columns is persisted (executor memory and disk, never the driver), so
the counts, the written rows and the quarantined rows come from one evaluation of the
transformation's plan. Drop and quarantine are filters; only the samples (5 rows per failing
check) and the one aggregated row reach the driver.
"""

from __future__ import annotations

import functools
import operator
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pyspark.sql import Column, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

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

_FLOATS = (T.FloatType, T.DoubleType)


def evaluate(frame: Any, checks: Sequence[CheckConfig], gate: QualityGate | None, *, where: str, run_id: str,
             now: datetime) -> Evaluated:
    """Evaluate ``checks`` on the rows about to be written; split off drop and quarantine rows."""
    require_columns(checks, frame.columns, where)
    types = {field.name: field.dataType for field in frame.schema.fields}
    row_checks = [check for check in checks if check.is_row_level]
    tag = uuid.uuid4().hex[:8]  # the flag columns' names never meet the data's
    flags = {check.check_name: f"_odibi_check_{index}_{tag}" for index, check in enumerate(row_checks)}
    columns = list(frame.columns)
    annotated = frame.select(*[F.col(_quoted(c)) for c in columns],
                             *[_failing(check, types, where).alias(flags[check.check_name]) for check in row_checks])
    quarantine_flags = [flags[c.check_name] for c in row_checks if c.on_fail == "quarantine"]
    drop_flags = [flags[c.check_name] for c in row_checks if c.on_fail == "drop"]
    quarantined, removed = _any(quarantine_flags), _any(quarantine_flags + drop_flags)
    fresh = [check for check in checks if check.type == "freshness"]
    if row_checks:
        annotated = annotated.persist()
    aggregated = annotated.agg(
        F.count(F.lit(1)).alias("total"),
        F.sum((~_any(list(flags.values()))).cast("long")).alias("passing"),
        F.sum(quarantined.cast("long")).alias("quarantined"), F.sum(removed.cast("long")).alias("removed"),
        *[F.sum(F.col(flag).cast("long")).alias(flag) for flag in flags.values()],
        *[_newest(check, types, where).alias(f"_odibi_newest_{i}") for i, check in enumerate(fresh)],
    ).collect()[0]
    measured = Measured(
        total_rows=aggregated["total"],
        failed={name: aggregated[flag] or 0 for name, flag in flags.items()},
        passing_all=aggregated["passing"] or 0,
        newest={check.check_name: _as_time(aggregated[f"_odibi_newest_{i}"], types[check.column])
                for i, check in enumerate(fresh)},
        column_types={name: logical_type(kind) for name, kind in types.items()}
        if any(check.type == "schema" for check in checks) else {},
    )
    for name, flag in flags.items():
        if measured.failed[name]:
            rows = annotated.filter(F.col(flag)).select(*[F.col(_quoted(c)) for c in columns]).limit(SAMPLE_ROWS)
            measured.samples[name] = [row.asDict() for row in rows.collect()]
    results, blocked = judge(checks, gate, measured, now, where)
    rows_quarantined, rows_removed = aggregated["quarantined"] or 0, aggregated["removed"] or 0
    kept = [F.col(_quoted(c)) for c in columns]
    written = (annotated.filter(~removed) if rows_removed else annotated).select(*kept) if row_checks else frame
    quarantine = None
    if rows_quarantined:
        failed_names = F.concat_ws(",", *[F.when(F.col(flags[c.check_name]), F.lit(c.check_name))
                                         for c in row_checks])
        quarantine = annotated.filter(quarantined).select(
            *kept, failed_names.alias("_failed_checks"),
            F.lit(now).cast("timestamp").alias("_quarantined_at"), F.lit(run_id).alias("_run_id"))
    return Evaluated(results, written, quarantine, rows_dropped=rows_removed - rows_quarantined,
                     rows_quarantined=rows_quarantined, blocked=blocked,
                     release=annotated.unpersist if row_checks else (lambda: None))


def _quoted(column: str) -> str:
    return f"`{column.replace('`', '``')}`"


def _any(flags: list[str]) -> Column:
    """True where any of the flag columns is."""
    return functools.reduce(operator.or_, [F.col(flag) for flag in flags]) if flags else F.lit(False)


def _present(column: str, types: dict[str, Any]) -> Column:
    """Not null (and, as pandas reads it, not NaN)."""
    value = F.col(_quoted(column))
    if isinstance(types[column], _FLOATS):
        return value.isNotNull() & ~F.isnan(value)
    return value.isNotNull()


def _failing(check: CheckConfig, types: dict[str, Any], where: str) -> Column:
    """True for a row failing ``check`` (a null passes every check but ``not_null``); never null."""
    if check.type == "not_null":
        return functools.reduce(operator.or_, [~_present(c, types) for c in check.columns or []])
    if check.type == "unique":
        keys = [F.col(_quoted(c)) for c in check.columns or []]
        present = functools.reduce(operator.and_, [_present(c, types) for c in check.columns or []])
        repeated = F.count(F.lit(1)).over(Window.partitionBy(*keys)) > 1
        return present & repeated
    if check.type == "expression":
        try:
            passed = F.expr(check.expr or "")
        except Exception as exc:  # noqa: BLE001 - Spark's parse errors differ between classic and Connect
            raise QualityError(f"{where}: expression check '{check.check_name}' ({check.expr}) does not parse on "
                               f"Spark: {str(exc).splitlines()[0]}") from None
        return F.coalesce(~passed, F.lit(False))
    value, present = F.col(_quoted(check.column or "")), _present(check.column or "", types)
    kind = types[check.column]
    if check.type == "accepted_values":
        require_comparable(check, logical_type(kind), where)
        return present & ~F.coalesce(value.isin(list(check.values or [])), F.lit(False))
    if check.type == "range":
        if not isinstance(kind, T.NumericType):
            raise QualityError(f"{where}: check '{check.check_name}' compares numbers, but column '{check.column}' "
                               f"holds {kind.simpleString()}")
        outside = F.lit(False)
        if check.min is not None:
            outside = outside | (value < F.lit(check.min))
        if check.max is not None:
            outside = outside | (value > F.lit(check.max))
        return present & F.coalesce(outside, F.lit(False))
    if not isinstance(kind, T.StringType):  # regex
        raise QualityError(f"{where}: check '{check.check_name}' matches text, but column '{check.column}' holds "
                           f"{kind.simpleString()}")
    # Java's `$` also matches before a final line break; `\z` is the very end, as Python's fullmatch
    return present & ~value.rlike(f"^(?:{check.pattern})\\z")


def _newest(check: CheckConfig, types: dict[str, Any], where: str) -> Column:
    kind, value = types[check.column], F.col(_quoted(check.column or ""))
    if isinstance(kind, T.TimestampType):
        return F.max(F.unix_micros(value))  # the instant, whatever the session's time zone
    if isinstance(kind, (T.TimestampNTZType, T.DateType)):
        return F.max(value)
    raise QualityError(f"{where}: check '{check.check_name}' needs a date or timestamp column; '{check.column}' "
                       f"holds {kind.simpleString()}")


def _as_time(value: Any, kind: Any) -> Any:
    if value is not None and isinstance(kind, T.TimestampType):
        from datetime import timezone

        return datetime.fromtimestamp(value / 1_000_000, tz=timezone.utc)
    return value


def logical_type(kind: Any) -> str:
    """The logical type of a Spark column (the ``schema`` check's names)."""
    for types, name in (((T.StringType, T.VarcharType, T.CharType), "string"),
                        ((T.ByteType, T.ShortType, T.IntegerType, T.LongType), "integer"),
                        (_FLOATS, "double"), ((T.BooleanType,), "boolean"), ((T.DateType,), "date"),
                        ((T.TimestampType, T.TimestampNTZType), "timestamp"), ((T.DecimalType,), "decimal")):
        if isinstance(kind, types):
            return name
    return kind.simpleString()
