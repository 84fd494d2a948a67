"""Partition windows and high-water marks on Arrow data (the pandas engine, and every Delta write):
keep a window's rows, refuse rows outside it, build the predicate that replaces exactly its rows,
keep the rows past a mark.

Time windows compare with timestamp columns (aware ones as instants, naive ones as wall time in the
partitions' time zone) and date columns; static partitions compare with the column as text.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from odibi_dagster.partitions.marks import HighWaterMark
from odibi_dagster.partitions.window import PartitionError, PartitionWindow


def _require_column(data: Any, column: str, where: str, role: str) -> pa.DataType:
    columns = data.column_names if isinstance(data, pa.Table) else [str(name) for name in data.columns]
    if column not in columns:
        raise PartitionError(f"{where}: {role} '{column}' is not a column of the data (columns: {columns})")
    return _frame_table(data, column).schema.field(column).type


def _require_text(dtype: pa.DataType, column: str, where: str) -> None:
    if not (pa.types.is_string(dtype) or pa.types.is_large_string(dtype)):
        raise PartitionError(f"{where}: partition_column '{column}' is {dtype}, but static partitions are text and "
                             f"need a text column (their values are compared as they are written)")


def _bounds(dtype: pa.DataType, window: PartitionWindow, column: str, where: str) -> tuple[pa.Scalar, pa.Scalar]:
    assert window.start is not None and window.end is not None
    if pa.types.is_timestamp(dtype):
        if dtype.tz is not None:
            return pa.scalar(window.start, dtype), pa.scalar(window.end, dtype)
        return (pa.scalar(window.start.replace(tzinfo=None), dtype), pa.scalar(window.end.replace(tzinfo=None), dtype))
    if pa.types.is_date(dtype) and not window.hourly:
        return pa.scalar(window.start.date(), dtype), pa.scalar(window.end.date(), dtype)
    wanted = "a timestamp" if window.hourly else "a date or timestamp"
    raise PartitionError(f"{where}: partition_column '{column}' is {dtype}, but time partitions need {wanted} column "
                         f"(a text column of dates: parse it, e.g. with a type in a source's source_options.schema)")


def window_expression(dtype: pa.DataType, window: PartitionWindow, column: str, where: str) -> pc.Expression:
    """``start <= column < end`` (or ``column in keys`` for static partitions) as an Arrow expression."""
    field = pc.field(column)
    if window.is_static:
        _require_text(dtype, column, where)
        return pc.is_in(field, value_set=pa.array(window.keys, pa.string()))
    low, high = _bounds(dtype, window, column, where)
    return (field >= low) & (field < high)


def _frame_table(data: Any, column: str) -> pa.Table:
    """The partition column of a pandas frame (or the Arrow table itself)."""
    if isinstance(data, pa.Table):
        return data
    return pa.Table.from_pandas(data[[column]], preserve_index=False)


def inside_mask(data: Any, column: str, window: PartitionWindow, where: str) -> pa.ChunkedArray:
    """True for each row of ``data`` (a pandas frame or an Arrow table) inside ``window``, False for
    rows outside it or with a null ``column``."""
    import pyarrow.dataset as ds

    dtype = _require_column(data, column, where, "partition_column")
    table = _frame_table(data, column)
    condition = window_expression(dtype, window, column, where)
    inside = ds.dataset(table.select([column])).to_table(columns={"inside": condition}).column("inside")
    return pc.fill_null(inside, False)


def count_per_partition(data: Any, column: str, window: PartitionWindow, where: str) -> dict[str, int]:
    """How many rows of ``data`` each partition of ``window`` holds."""
    return {part.key: int(pc.sum(inside_mask(data, column, part, where)).as_py() or 0) for part in window.each()}


def keep_window(data: Any, column: str, window: PartitionWindow, where: str) -> Any:
    """The rows of ``window`` (a source read whole); a null ``column`` belongs to no partition and is
    refused rather than left out unseen."""
    inside = inside_mask(data, column, window, where)
    _refuse_nulls(data, column, where)
    return _filter(data, inside)


def require_window(data: Any, column: str, window: PartitionWindow, where: str) -> None:
    """Refuse rows outside ``window`` (or with a null ``column``), naming one."""
    inside = inside_mask(data, column, window, where)
    outside = len(inside) - (pc.sum(inside).as_py() or 0)
    if outside:
        sample = _rows(data, pc.invert(inside), 1)[0]
        raise PartitionError(f"{where}: {outside} row(s) lie outside {window.describe()} (partition_column "
                             f"'{column}'), e.g. {sample}; nothing was written")


def _refuse_nulls(data: Any, column: str, where: str) -> None:
    nulls = pc.is_null(_frame_table(data, column).column(column), nan_is_null=True)
    if count := pc.sum(nulls).as_py():
        sample = _rows(data, nulls, 1)[0]
        raise PartitionError(f"{where}: {count} row(s) have no value in partition_column '{column}' and belong to "
                             f"no partition, e.g. {sample}; nothing was written")


def _filter(data: Any, mask: pa.ChunkedArray) -> Any:
    if isinstance(data, pa.Table):
        return data.filter(mask)
    return data[mask.to_numpy(zero_copy_only=False)].reset_index(drop=True)


def _rows(data: Any, mask: pa.ChunkedArray, count: int) -> list[dict[str, Any]]:
    if isinstance(data, pa.Table):
        return data.filter(mask).slice(0, count).to_pylist()
    return data[mask.to_numpy(zero_copy_only=False)].head(count).to_dict("records")


def delta_predicate(dtype: pa.DataType, window: PartitionWindow, column: str, quote: str = '"') -> str:
    """The SQL predicate of ``window``'s rows for a Delta overwrite (``deltalake`` with ``quote='"'``,
    Spark's ``replaceWhere`` with a backtick). Column names are checked identifiers; static values
    are checked text, quoted here all the same."""
    name = f"{quote}{column}{quote}"
    if window.is_static:
        _require_text(dtype, column, "predicate")
        values = ", ".join("'" + key.replace("'", "''") + "'" for key in window.keys)
        return f"{name} IN ({values})"
    low, high = _bounds(dtype, window, column, "predicate")
    return f"{name} >= '{_literal(low)}' AND {name} < '{_literal(high)}'"


def _literal(value: pa.Scalar) -> str:
    return value.as_py().isoformat()


# -- incremental ---------------------------------------------------------------------------------

def mark_scalar(dtype: pa.DataType, mark: HighWaterMark, column: str, where: str) -> pa.Scalar:
    """The stored mark as a value of the column's type, or an error when the two cannot be compared."""
    fits = {
        "timestamp": pa.types.is_timestamp(dtype) and (dtype.tz is not None) == (
            getattr(mark.value, "tzinfo", None) is not None),
        "date": pa.types.is_date(dtype),
        "integer": pa.types.is_integer(dtype) or pa.types.is_floating(dtype),
        "float": pa.types.is_floating(dtype) or pa.types.is_integer(dtype),
        "string": pa.types.is_string(dtype) or pa.types.is_large_string(dtype),
    }[mark.kind]
    if not fits:
        raise PartitionError(f"{where}: incremental column '{column}' is {dtype}, but the stored high-water mark is "
                             f"{mark}: they cannot be compared (did the column's type change? run once with "
                             f"full_refresh: true to start over)")
    if mark.kind in ("integer", "float") and pa.types.is_integer(dtype) and isinstance(mark.value, float):
        return pa.scalar(mark.value, pa.float64())
    if mark.kind in ("integer", "float") and pa.types.is_floating(dtype):
        return pa.scalar(float(mark.value), dtype)
    return pa.scalar(mark.value, dtype)


def _as_stored(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Timestamps as tables store them (microseconds): a nanosecond value compares with the mark
    as it was written, or it would count as new on every run."""
    if pa.types.is_timestamp(values.type) and values.type.unit == "ns":
        return pc.cast(values, pa.timestamp("us", values.type.tz), safe=False)
    return values


def keep_after(data: Any, column: str, mark: HighWaterMark, where: str) -> Any:
    """The rows whose ``column`` is above ``mark`` (nulls are not above it)."""
    _require_column(data, column, where, "incremental column")
    values = _as_stored(_frame_table(data, column).column(column))
    bound = mark_scalar(values.type, mark, column, where)
    return _filter(data, pc.fill_null(pc.greater(values, bound), False))


def latest_per_key(data: Any, keys: list[str], column: str) -> tuple[Any, int]:
    """One row per merge key: the one with the largest ``column`` (a key changed twice since the last
    run arrives twice; its last version is the one to merge). Returns the rows and how many older
    versions were left out."""
    frame = data.to_pandas() if isinstance(data, pa.Table) else data
    latest = frame.sort_values(column, kind="stable", na_position="first").drop_duplicates(keys, keep="last")
    latest = latest.sort_index()
    return (pa.Table.from_pandas(latest, preserve_index=False) if isinstance(data, pa.Table)
            else latest.reset_index(drop=True)), len(frame) - len(latest)


def max_value(data: Any, column: str, where: str) -> HighWaterMark | None:
    _require_column(data, column, where, "incremental column")
    values = _as_stored(_frame_table(data, column).column(column))
    try:
        return HighWaterMark.of(pc.max(values).as_py())
    except ValueError as exc:
        raise PartitionError(f"{where}: incremental column '{column}': {exc}") from None
