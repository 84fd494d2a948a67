"""Partition windows and high-water marks on Spark frames: the twin of ``arrow_windows`` (same
rules, same messages), as Spark column expressions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa
from pyspark.sql import functions as F
from pyspark.sql import types as T

from odibi_dagster.engines import arrow_windows
from odibi_dagster.partitions.marks import HighWaterMark
from odibi_dagster.partitions.window import PartitionError, PartitionWindow


def arrow_type(frame: Any, column: str, where: str, role: str) -> pa.DataType:
    """The Arrow type the rules of ``arrow_windows`` judge a Spark column by."""
    if column not in frame.columns:
        raise PartitionError(f"{where}: {role} '{column}' is not a column of the data (columns: {frame.columns})")
    dtype = frame.schema[column].dataType
    if isinstance(dtype, T.TimestampNTZType):
        return pa.timestamp("us")
    if isinstance(dtype, T.TimestampType):  # an instant, shown in the session's time zone
        return pa.timestamp("us", "UTC")
    simple = {T.DateType: pa.date32(), T.StringType: pa.string(), T.LongType: pa.int64(), T.IntegerType: pa.int32(),
              T.ShortType: pa.int16(), T.ByteType: pa.int8(), T.DoubleType: pa.float64(), T.FloatType: pa.float32(),
              T.BooleanType: pa.bool_()}
    return next((arrow for kind, arrow in simple.items() if isinstance(dtype, kind)), pa.binary())


def window_condition(frame: Any, column: str, window: PartitionWindow, where: str) -> Any:
    dtype = arrow_type(frame, column, where, "partition_column")
    if window.is_static:
        arrow_windows._require_text(dtype, column, where)
        return F.col(column).isin(list(window.keys))
    low, high = arrow_windows._bounds(dtype, window, column, where)
    return (F.col(column) >= F.lit(low.as_py())) & (F.col(column) < F.lit(high.as_py()))


def count_per_partition(frame: Any, column: str, window: PartitionWindow, where: str) -> dict[str, int]:
    """How many rows of ``frame`` each partition of ``window`` holds (one pass over the data)."""
    parts = window.each()
    counts = frame.agg(*[F.count(F.when(window_condition(frame, column, part, where), True)).alias(f"p{number}")
                         for number, part in enumerate(parts)]).first()
    return {part.key: int(counts[number]) for number, part in enumerate(parts)}


def keep_window(frame: Any, column: str, window: PartitionWindow, where: str) -> Any:
    condition = window_condition(frame, column, window, where)
    nulls = frame.where(F.col(column).isNull())
    if sample := nulls.limit(1).collect():
        raise PartitionError(f"{where}: {nulls.count()} row(s) have no value in partition_column '{column}' and "
                             f"belong to no partition, e.g. {sample[0].asDict()}; nothing was written")
    return frame.where(condition)


def require_window(frame: Any, column: str, window: PartitionWindow, where: str) -> None:
    condition = window_condition(frame, column, window, where)
    outside = frame.where(~F.coalesce(condition, F.lit(False)))
    if sample := outside.limit(1).collect():
        raise PartitionError(f"{where}: {outside.count()} row(s) lie outside {window.describe()} (partition_column "
                             f"'{column}'), e.g. {sample[0].asDict()}; nothing was written")


def replace_where(frame: Any, column: str, window: PartitionWindow) -> str:
    """Spark's ``replaceWhere`` predicate for ``window``'s rows."""
    dtype = arrow_type(frame, column, "replaceWhere", "partition_column")
    return arrow_windows.delta_predicate(dtype, window, column, quote="`")


def keep_after(frame: Any, column: str, mark: HighWaterMark, where: str) -> Any:
    dtype = arrow_type(frame, column, where, "incremental column")
    bound = arrow_windows.mark_scalar(dtype, mark, column, where).as_py()
    return frame.where(F.col(column) > F.lit(bound))


def latest_per_key(frame: Any, keys: list[str], column: str) -> tuple[Any, int]:
    """As ``arrow_windows.latest_per_key``: the newest row of each merge key, and how many were left out."""
    from pyspark.sql import Window

    order = Window.partitionBy(*keys).orderBy(F.col(column).desc_nulls_last())
    ranked = frame.withColumn("__odibi_rank", F.row_number().over(order)).persist()
    latest = ranked.where(F.col("__odibi_rank") == 1).drop("__odibi_rank")
    older = ranked.where(F.col("__odibi_rank") > 1).count()
    return latest, older


def max_value(frame: Any, column: str, where: str) -> HighWaterMark | None:
    dtype = arrow_type(frame, column, where, "incremental column")
    value = frame.agg(F.max(F.col(column))).first()[0]
    if isinstance(value, datetime) and value.tzinfo is None and pa.types.is_timestamp(dtype) and dtype.tz:
        value = value.astimezone()  # Spark hands an instant to Python as naive local time
    try:
        return HighWaterMark.of(value)
    except ValueError as exc:
        raise PartitionError(f"{where}: incremental column '{column}': {exc}") from None
