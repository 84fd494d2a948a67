"""The Arrow table layer both engines share: parquet files (pyarrow) and Delta tables (deltalake).

pandas frames reach it through ``to_arrow``; Spark frames through Arrow when the session has no
native Delta.

Writes never leave a half-written table: parquet goes to a hidden temporary file that replaces
the old one in one ``os.replace``; Delta commits are atomic by design. A failed write (a schema
mismatch, a lossy cast, duplicate or null merge keys) raises before anything is replaced. Writers
of one table take turns through its lock (``TableLocation.locked``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pa_fs
import pyarrow.parquet as pq
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import DeltaError, SchemaMismatchError

from odibi_dagster.engines.arrow_windows import delta_predicate, window_expression
from odibi_dagster.engines.base import WriteResult, WriteSpec
from odibi_dagster.engines.storage import (
    PARQUET_FILE,
    PARQUET_TMP_PREFIX,
    StoredFormat,
    TableLocation,
    planned_format,
)
from odibi_dagster.partitions.window import PartitionWindow

TableRows = tuple[str, PartitionWindow]  # (partition column, window): a partition's rows of a table


class TableWriteError(RuntimeError):
    """A write was refused; the stored table is unchanged."""


def to_arrow(frame: pd.DataFrame, table: str | None = None) -> pa.Table:
    """A pandas frame as Arrow, timestamps in microseconds (what Spark and Delta store); ``table``
    names the table it is written to in a refusal.

    An index that holds data (named levels, a MultiIndex, or labels that are not row positions,
    as a ``groupby`` leaves them) becomes columns; a positional integer index is dropped. A column
    Arrow cannot type (values of mixed types) and timestamps finer than a microsecond are refused
    (``TableWriteError``), never converted with a loss."""
    where = f"table '{table}'" if table else "the data"
    try:
        data = pa.Table.from_pandas(_index_as_columns(frame), preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise TableWriteError(f"{where} cannot be stored: {exc} (a column holding values of several types? give it "
                              f"one, e.g. astype('string')); nothing was written") from None
    if not any(pa.types.is_timestamp(f.type) and f.type.unit == "ns" for f in data.schema):
        return data
    columns = [_to_microseconds(data.column(f.name), f.name, where) if pa.types.is_timestamp(f.type)
               else data.column(f.name) for f in data.schema]
    schema = pa.schema([f.with_type(pa.timestamp("us", f.type.tz)) if pa.types.is_timestamp(f.type) else f
                        for f in data.schema], metadata=data.schema.metadata)
    return pa.Table.from_arrays(columns, schema=schema)


def _to_microseconds(column: pa.ChunkedArray, name: str, where: str) -> pa.ChunkedArray:
    """A timestamp column in microseconds; nanoseconds would be cut off (two instants could become
    one), so they are refused."""
    try:
        return column.cast(pa.timestamp("us", column.type.tz))  # a safe cast: it refuses to drop digits
    except pa.ArrowInvalid:
        nanos = pc.cast(column, pa.int64())
        finer = pc.not_equal(pc.subtract(nanos, pc.multiply(pc.divide(nanos, 1000), 1000)), 0)
        sample = column.filter(pc.fill_null(finer, False))[0]
        raise TableWriteError(f"{where} refused: column '{name}' holds timestamps finer than a microsecond (e.g. "
                              f"{sample}), which Spark and Delta cannot store; round them first (in a function: "
                              f"frame['{name}'].dt.floor('us'); a source's column can be read as a string: "
                              f"source_options.schema); nothing was written") from None


def _index_as_columns(frame: pd.DataFrame) -> pd.DataFrame:
    index = frame.index
    positional = not isinstance(index, pd.MultiIndex) and index.name is None and (
        isinstance(index, pd.RangeIndex) or pd.api.types.is_integer_dtype(index.dtype))
    if positional:
        return frame
    names = [name if name is not None else ("index" if index.nlevels == 1 else f"level_{n}")
             for n, name in enumerate(index.names)]
    clash = sorted(set(names) & set(map(str, frame.columns)))
    if clash:
        raise TableWriteError(f"the frame's index {names} holds data but {clash} is also a column: reset or "
                              f"rename the index before returning the frame (nothing was written)")
    return frame.reset_index()


def read_delta(path: Path) -> pa.Table:
    """A local Delta table as Arrow (never read a Delta folder as plain parquet: old versions count)."""
    # An explicit filesystem avoids deltalake aborting the interpreter at exit.
    filesystem = pa_fs.SubTreeFileSystem(str(path), pa_fs.LocalFileSystem())
    return DeltaTable(str(path)).to_pyarrow_table(filesystem=filesystem)


def read_arrow(location: TableLocation, rows: TableRows | None = None) -> pa.Table:
    """The stored table; ``rows``: only those of one partition window (read with a filter)."""
    stored = location.stored_format()
    if stored is None:
        raise FileNotFoundError(f"table '{location.table}' has not been written yet (no data at {location.path})")
    if rows is None:
        return read_delta(location.path) if stored == "delta" else pq.read_table(location.parquet_file)
    dataset = _dataset(location, stored)
    return dataset.to_table(filter=_window_condition(location, dataset, *rows))


def rows_per_partition(location: TableLocation, column: str, window: PartitionWindow) -> dict[str, int]:
    """How many rows the stored table holds in each partition of ``window`` (only the partition
    column is read)."""
    stored = location.stored_format()
    if stored is None:
        raise FileNotFoundError(f"table '{location.table}' has not been written yet (no data at {location.path})")
    dataset = _dataset(location, stored)
    return {part.key: dataset.count_rows(filter=_window_condition(location, dataset, column, part))
            for part in window.each()}


def _dataset(location: TableLocation, stored: StoredFormat) -> Any:
    if stored == "delta":
        filesystem = pa_fs.SubTreeFileSystem(str(location.path), pa_fs.LocalFileSystem())
        return DeltaTable(str(location.path)).to_pyarrow_dataset(filesystem=filesystem)
    import pyarrow.dataset as ds

    return ds.dataset(location.parquet_file)


def _window_condition(location: TableLocation, dataset: Any, column: str, window: PartitionWindow) -> pc.Expression:
    dtype = dataset.schema.field(column).type if column in dataset.schema.names else pa.null()
    return window_expression(dtype, window, column, f"table '{location.table}'")


def column_max(location: TableLocation, column: str) -> object:
    """The largest value of ``column`` in the stored table (one column read); None when the table
    or the column is absent or the column holds no value."""
    stored = location.stored_format()
    if stored is None:
        return None
    if stored == "delta":
        filesystem = pa_fs.SubTreeFileSystem(str(location.path), pa_fs.LocalFileSystem())
        dataset = DeltaTable(str(location.path)).to_pyarrow_dataset(filesystem=filesystem)
    else:
        import pyarrow.dataset as ds

        dataset = ds.dataset(location.parquet_file)
    if column not in dataset.schema.names:
        return None
    return pc.max(dataset.to_table(columns=[column]).column(column)).as_py()


def read_frame(location: TableLocation, rows: TableRows | None = None) -> pd.DataFrame:
    return read_arrow(location, rows).to_pandas()


def write_frame(
    location: TableLocation,
    frame: pd.DataFrame,
    *,
    mode: str = "overwrite",
    format: StoredFormat | None = None,
    merge_keys: Sequence[str] = (),
    partition_by: Sequence[str] = (),
    schema_evolution: bool = False,
    null_keys: str = "error",
    track_columns: Sequence[str] = (),
    effective_column: str | None = None,
    scd2_deletes: str = "ignore",
) -> WriteResult:
    """Write a pandas frame to ``location`` (see ``write_arrow``)."""
    spec = WriteSpec(mode, format, tuple(merge_keys), tuple(partition_by), schema_evolution, null_keys,
                     track_columns=tuple(track_columns), effective_column=effective_column,
                     scd2_deletes=scd2_deletes)
    return write_arrow(location, to_arrow(frame, location.table), spec, engine="pandas")


def target_format(location: TableLocation, spec: WriteSpec, engine: str) -> tuple[StoredFormat | None, StoredFormat]:
    """(what is stored now, what this write produces): an append or merge into an existing table
    keeps that table's format; a new or overwritten table gets ``planned_format``."""
    stored = location.stored_format()
    if spec.mode in ("append", "merge") and stored is not None:
        return stored, "delta" if spec.mode == "merge" else stored
    if spec.mode == "scd2":
        return stored, "delta"
    return stored, planned_format(engine, spec.mode, spec.format, spec.partition_by, bool(spec.partition_column))


def write_arrow(location: TableLocation, data: pa.Table, spec: WriteSpec, engine: str) -> WriteResult:
    """Write an Arrow table as parquet or Delta (through ``deltalake``), atomically, holding the
    table's write lock (concurrent appends from several processes all land)."""
    with location.locked():
        remove_stale_files(location)
        was, target = target_format(location, spec, engine)
        refuse_scd2_into_parquet(location, spec, was)
        stored = parquet_to_delta(location) if needs_delta(spec) and was == "parquet" else was
        if spec.mode == "scd2":
            from odibi_dagster.engines.scd2 import write_scd2

            result = write_scd2(location, data, spec, exists=stored == "delta")
        elif target == "delta":
            result = _write_delta(location, data, spec, exists=stored == "delta")
        else:
            result = _write_parquet(location, data, spec)
        if was is not None and was != target:
            remove_format(location, was)
        return result


# -- parquet -------------------------------------------------------------------------------------

def _write_parquet(location: TableLocation, data: pa.Table, spec: WriteSpec) -> WriteResult:
    final = location.parquet_file
    tmp = location.path / f"{PARQUET_TMP_PREFIX}{uuid.uuid4().hex}.tmp"
    existing = pq.ParquetFile(final) if spec.mode == "append" and final.is_file() else None
    try:
        if existing is None:
            pq.write_table(data, tmp)
            row_count, schema = data.num_rows, data.schema
        else:
            data = fit_to_stored(location, existing.schema_arrow, data, spec)
            schema = data.schema
            with pq.ParquetWriter(tmp, schema) as writer:
                for batch in existing.iter_batches():
                    writer.write_table(_conform(pa.Table.from_batches([batch]), schema))
                writer.write_table(data)
            row_count = existing.metadata.num_rows + data.num_rows
        os.replace(tmp, final)
    finally:
        if existing is not None:
            existing.close()
        tmp.unlink(missing_ok=True)
    return WriteResult("parquet", schema, row_count, data.num_rows)


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Stored rows in the (possibly evolved) schema: the same types, new columns as nulls."""
    columns = [
        table.column(name).cast(schema.field(name).type) if name in table.column_names
        else pa.nulls(table.num_rows, schema.field(name).type)
        for name in schema.names
    ]
    return pa.Table.from_arrays(columns, schema=schema)


# -- new rows into a stored table (append and merge, both formats) ------------------------------

def fit_to_stored(location: TableLocation, stored: pa.Schema, data: pa.Table, spec: WriteSpec,
                  by_type: bool = False) -> pa.Table:
    """The new rows in the stored table's column order and types, for an append or a merge.

    A value that would change in the cast is refused (3.7 into an int64 column, 2**53 + 1 into a
    double), naming the column, both types and a sample; 3.0 is stored as 3. Columns the table lacks
    need ``schema_evolution``; columns the data lacks are nulls on an evolving append and refused
    otherwise (a merge would overwrite them). ``by_type``: judge casts by type alone (where the data
    is not at hand, as before a native Spark write): only widening casts pass.
    """
    stored = stored.remove_metadata()
    added = [field for field in data.schema if field.name not in stored.names]
    missing = [name for name in stored.names if name not in data.column_names]
    if missing and spec.mode == "merge":
        raise TableWriteError(
            f"merge into '{location.table}' refused: the new data lacks the stored columns {missing}, which a merge "
            f"would overwrite with nulls; the stored table is unchanged")
    if (added or missing) and not spec.schema_evolution:
        allow = " and ".join(what for what, found in (("to add the new columns", added), (
            "to store nulls in the new rows for the stored columns the data lacks", missing)) if found)
        raise TableWriteError(
            f"{spec.mode} into '{location.table}' refused: {describe_schema_difference(stored, data.schema)}; the "
            f"stored table is unchanged (set schema_evolution: true on the output {allow}; a source's table keeps "
            f"the columns it was first written with)")
    # a column stored while all its values were null has no type yet: the new data's type is taken
    fields = [data.schema.field(field.name) if pa.types.is_null(field.type) and field.name in data.column_names
              else field for field in stored]
    columns = [_lossless_cast(location, spec.mode, field, data.column(field.name), by_type)
               if field.name in data.column_names else pa.nulls(data.num_rows, field.type) for field in fields]
    columns += [data.column(field.name) for field in added]
    schema = pa.schema([field.with_nullable(True) for field in [*fields, *added]])
    return pa.Table.from_arrays(columns, schema=schema)


def _family(dtype: pa.DataType) -> tuple | None:
    """Types whose values may move between each other when no value changes."""
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype):
        return ("number",)
    if pa.types.is_timestamp(dtype):
        return ("timestamp", dtype.tz is None)
    for name, test in (("text", lambda t: pa.types.is_string(t) or pa.types.is_large_string(t)
                        or pa.types.is_string_view(t)),
                       ("bytes", lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t)),
                       ("date", pa.types.is_date), ("decimal", pa.types.is_decimal), ("bool", pa.types.is_boolean)):
        if test(dtype):
            return (name,)
    return None


def _widens(source: pa.DataType, target: pa.DataType) -> bool:
    """Every value of ``source`` fits ``target`` unchanged, whatever the data."""
    if pa.types.is_integer(source) and pa.types.is_integer(target):
        if pa.types.is_signed_integer(source) == pa.types.is_signed_integer(target):
            return target.bit_width >= source.bit_width
        return pa.types.is_signed_integer(target) and target.bit_width > source.bit_width
    if pa.types.is_integer(source) and pa.types.is_floating(target):
        return source.bit_width < {16: 11, 32: 24, 64: 53}[target.bit_width]  # fits the mantissa
    if pa.types.is_floating(source) and pa.types.is_floating(target):
        return target.bit_width >= source.bit_width
    if pa.types.is_timestamp(source) and pa.types.is_timestamp(target):
        units = ["s", "ms", "us", "ns"]
        return units.index(target.unit) >= units.index(source.unit)
    return _family(source) in (("text",), ("bytes",), ("bool",))


def _lossless_cast(location: TableLocation, mode: str, field: pa.Field, column: pa.ChunkedArray,
                   by_type: bool) -> pa.ChunkedArray:
    if column.type == field.type:
        return column
    if pa.types.is_null(column.type):
        return pc.cast(column, field.type)
    where = f"{mode} into '{location.table}' refused: column '{field.name}'"
    if _family(column.type) is None or _family(column.type) != _family(field.type) or (
            by_type and not _widens(column.type, field.type)):
        raise TableWriteError(f"{where} is {column.type} in the new data but {field.type} in the stored table "
                              f"(a cast could change values); the stored table is unchanged")
    cast = pc.cast(column, field.type, safe=False)
    back = pc.cast(cast, column.type, safe=False)
    changed = pc.or_(pc.fill_null(pc.not_equal(back, column), False),
                     pc.not_equal(pc.is_null(back), pc.is_null(column)))
    if pa.types.is_floating(column.type) and pa.types.is_floating(field.type):
        changed = pc.and_not(changed, pc.and_(pc.is_nan(column), pc.is_nan(back)))
    if count := pc.sum(changed).as_py():
        sample = column.filter(changed)[0].as_py()
        raise TableWriteError(f"{where} holds {column.type} values that the stored {field.type} column cannot hold "
                              f"unchanged ({count} rows, e.g. {sample!r}); the stored table is unchanged")
    try:  # a round trip can wrap around unnoticed (-1 -> 255 -> -1): a safe cast refuses overflow too
        pc.cast(column, field.type, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise TableWriteError(f"{where} holds {column.type} values that the stored {field.type} column cannot hold "
                              f"unchanged ({str(exc).splitlines()[0]}); the stored table is unchanged") from None
    return cast


def describe_schema_difference(stored: pa.Schema, new: pa.Schema) -> str:
    stored_types = {f.name: f.type for f in stored}
    new_types = {f.name: f.type for f in new}
    parts = []
    if added := [name for name in new_types if name not in stored_types]:
        parts.append(f"new columns {added}")
    if missing := [name for name in stored_types if name not in new_types]:
        parts.append(f"missing columns {missing}")
    return "schema differs from the stored table: " + "; ".join(parts)


def drop_null_keys(location: TableLocation, data: pa.Table, spec: WriteSpec) -> tuple[pa.Table, int]:
    """Rows whose merge key is null would be inserted again by every merge (null never matches):
    refused unless the output says ``null_keys: skip``, which leaves them out and counts them.
    The remaining keys must be unique (``check_merge_keys``)."""
    require_merge_keys(location.table, data.column_names, spec.merge_keys)
    has_null = pc.is_null(data.column(spec.merge_keys[0]), nan_is_null=True)
    for key in spec.merge_keys[1:]:
        has_null = pc.or_(has_null, pc.is_null(data.column(key), nan_is_null=True))
    count = pc.sum(has_null).as_py() or 0
    if count and spec.null_keys != "skip":
        raise null_keys_refused(location.table, spec.merge_keys, count, data.filter(has_null).slice(0, 1).to_pylist()[0])
    if count:
        data = data.filter(pc.invert(has_null))
    check_merge_keys(location.table, data, spec.merge_keys)
    return data, count


def null_keys_refused(table: str, merge_keys: Sequence[str], count: int, sample: dict) -> TableWriteError:
    return TableWriteError(
        f"merge into '{table}' refused: {count} rows have a null merge key {list(merge_keys)} (e.g. {sample}); a "
        f"null key never matches, so each merge would insert them again; the stored table is unchanged (set "
        f"null_keys: skip on the output to leave such rows out)")


# -- Delta ---------------------------------------------------------------------------------------

def _write_delta(location: TableLocation, data: pa.Table, spec: WriteSpec, *, exists: bool) -> WriteResult:
    """``exists``: a Delta table is already stored there (``write_arrow`` has just looked)."""
    path = str(location.path)
    skipped = 0
    if spec.mode == "merge":
        data, skipped = drop_null_keys(location, data, spec)
    replacing = spec.window is not None and exists  # one partition's rows (or a range's) replaced
    if (spec.mode in ("append", "merge") or replacing) and exists:
        stored = describe_delta(location).schema
        data = fit_to_stored(location, stored, data, spec)
        _type_null_columns(location, stored, data.schema)
    try:
        if spec.mode == "merge" and exists:
            table = DeltaTable(path)
            quoted = [key.replace('"', '""') for key in spec.merge_keys]
            predicate = " AND ".join(f't."{key}" = s."{key}"' for key in quoted)
            (table.merge(data, predicate, source_alias="s", target_alias="t", merge_schema=spec.schema_evolution)
                  .when_matched_update_all().when_not_matched_insert_all().execute())
        elif replacing:
            assert spec.window is not None and spec.partition_column is not None
            predicate = delta_predicate(data.schema.field(spec.partition_column).type, spec.window,
                                        spec.partition_column)
            data, file_size = _files_per_partition(data, spec)
            write_deltalake(path, data, mode="overwrite", predicate=predicate, target_file_size=file_size,
                            schema_mode="merge" if spec.schema_evolution else None)
        else:
            write_mode = "append" if spec.mode == "append" and exists else "overwrite"
            schema_mode = "merge" if write_mode == "append" and spec.schema_evolution else (
                "overwrite" if write_mode == "overwrite" and exists else None)
            data, file_size = _files_per_partition(data, spec)
            write_deltalake(path, data, mode=write_mode, schema_mode=schema_mode, target_file_size=file_size,
                            partition_by=list(spec.partition_by) or None)
    except SchemaMismatchError as exc:
        raise TableWriteError(f"{spec.mode} into '{location.table}' refused: {exc}; the stored table is unchanged "
                              f"(set schema_evolution: true on the output to allow new columns)") from None
    except DeltaError as exc:
        raise TableWriteError(f"{spec.mode} into '{location.table}' failed: {exc}; the stored table is "
                              f"unchanged") from None
    result = describe_delta(location, rows_written=data.num_rows)
    if skipped:
        result.extra["odibi/rows_skipped_null_keys"] = skipped
    return result


MIN_PARTITION_FILE_BYTES = 1 << 20


def _files_per_partition(data: pa.Table, spec: WriteSpec) -> tuple[pa.Table, int | None]:
    """A range of partitions is written sorted by the partition column, in files of about half a
    partition each: a later overwrite of one partition then rewrites the files of that partition
    (deltalake prunes by file statistics) instead of the whole range's single file. Row order in a
    Delta table carries no meaning; the rows are the same."""
    if spec.window is None or spec.partition_column is None or len(spec.window.keys) < 2 or not data.num_rows:
        return data, None
    data = data.sort_by(spec.partition_column)
    return data, max(data.nbytes // (2 * len(spec.window.keys)), MIN_PARTITION_FILE_BYTES)


def _type_null_columns(location: TableLocation, stored: pa.Schema, fitted: pa.Schema) -> None:
    """Columns stored while all their values were null get the type the new data gives them: the
    table is rewritten in one commit with the same rows (Delta cannot change a column's type)."""
    untyped = [field.name for field in stored if pa.types.is_null(field.type) and
               not pa.types.is_null(fitted.field(field.name).type)]
    if not untyped:
        return
    table = read_delta(location.path)
    typed = table.cast(pa.schema([fitted.field(name) if name in untyped else table.schema.field(name)
                                  for name in table.column_names]))
    partitions = DeltaTable(str(location.path)).metadata().partition_columns
    write_deltalake(str(location.path), typed, mode="overwrite", schema_mode="overwrite",
                    partition_by=partitions or None)


def describe_delta(location: TableLocation, rows_written: int | None = None) -> WriteResult:
    """Schema, row count and version of a Delta table from its log (no data scan)."""
    table = DeltaTable(str(location.path))
    return WriteResult("delta", pa.schema(table.schema().to_arrow()), table.count(), rows_written,
                       delta_version=table.version())


def check_merge_keys(table: str, data: pa.Table, merge_keys: Sequence[str]) -> None:
    """A merge needs its keys as columns, and unique in the new data (else rows would be duplicated)."""
    require_merge_keys(table, data.column_names, merge_keys)
    keys = data.select(list(merge_keys)).to_pandas()
    if keys.duplicated().any():
        sample = keys[keys.duplicated(keep=False)].head(3).to_dict("records")
        raise TableWriteError(f"merge into '{table}': merge_keys {list(merge_keys)} are not unique in the new data "
                              f"(e.g. {sample}); the stored table is unchanged")


def require_merge_keys(table: str, columns: Sequence[str], merge_keys: Sequence[str]) -> None:
    if not merge_keys:
        raise TableWriteError(f"merge into '{table}' needs merge_keys")
    if missing := [key for key in merge_keys if key not in columns]:
        raise TableWriteError(f"merge into '{table}': merge_keys {missing} are not columns of the new data")


# A data file no Delta commit names is only removed once it is this old: another writer (a plain
# deltalake or Spark job, another machine) may be about to commit it, as VACUUM assumes too.
STALE_AFTER_SECONDS = 3600.0


def remove_stale_files(location: TableLocation) -> None:
    """Files that killed writes left behind, removed by the next writer of the table: parquet
    temporaries (only this package writes them, under the table's lock, which the caller holds), and
    Delta data files that no commit names and that are older than ``STALE_AFTER_SECONDS``."""
    for tmp in location.path.glob(f"{PARQUET_TMP_PREFIX}*.tmp"):
        tmp.unlink(missing_ok=True)
    if location.stored_format() != "delta":
        return
    now = time.time()
    candidates = {part.relative_to(location.path).as_posix(): part for part in location.path.rglob("*.parquet")
                  if now - part.stat().st_mtime > STALE_AFTER_SECONDS}
    candidates = {relative: part for relative, part in candidates.items()
                  if not relative.startswith(("_delta_log/", "_change_data/", ".")) and relative != PARQUET_FILE}
    if not candidates:
        return
    named = _delta_logged_files(location)
    for relative, part in candidates.items():
        if relative not in named:
            part.unlink(missing_ok=True)


def _delta_logged_files(location: TableLocation) -> set[str]:
    """Every file an add, remove or cdc action of the log names (current and older versions), plus
    the current version's files (which a checkpoint may hold instead of a JSON commit)."""
    named = {unquote(uri) for uri in DeltaTable(str(location.path)).file_uris()}
    named = {Path(uri.removeprefix("file://")).resolve().relative_to(location.path.resolve()).as_posix()
             for uri in named}
    for commit in location.delta_log.glob("*.json"):
        for line in commit.read_text(encoding="utf-8").splitlines():
            action = json.loads(line) if line.strip() else {}
            for kind in ("add", "remove", "cdc"):
                if kind in action:
                    named.add(unquote(action[kind]["path"]))
    return named


def refuse_scd2_into_parquet(location: TableLocation, spec: WriteSpec, stored: StoredFormat | None) -> None:
    """An scd2 table is Delta from its first write: a parquet table there was written in another mode."""
    if spec.mode == "scd2" and stored == "parquet":
        raise TableWriteError(f"scd2 into '{location.table}' refused: the stored table is a parquet table written in "
                              f"another mode, without valid_from, valid_to and is_current; move it away (or write "
                              f"another table) to keep history there; the stored table is unchanged")


def needs_delta(spec: WriteSpec) -> bool:
    """A merge, and the replace of a partition window, work on a Delta table only."""
    return spec.mode in ("merge", "scd2") or spec.window is not None


def parquet_to_delta(location: TableLocation) -> StoredFormat:
    """A merge (or a partition's replace) needs Delta: a parquet table becomes a Delta table with the
    same rows first (the parquet file goes once the write has committed; until then both hold the
    same rows)."""
    write_deltalake(str(location.path), pq.read_table(location.parquet_file), mode="overwrite")
    return "delta"


def delete_rows(location: TableLocation, column: str, value: str) -> int:
    """Remove the rows whose ``column`` holds ``value``, atomically, holding the table's lock; returns
    how many. (A retried step's quarantine rows of its earlier attempt: ``_run_id``.)"""
    if not re.fullmatch(r"[0-9A-Za-z_-]+", value) or not re.fullmatch(r"[0-9A-Za-z_]+", column):
        raise ValueError(f"delete_rows: '{column}' = '{value}' is not a plain column and id")
    with location.locked():
        stored = location.stored_format()
        if stored == "delta":
            metrics = DeltaTable(str(location.path)).delete(f"{column} = '{value}'")
            return int(metrics.get("num_deleted_rows", 0))
        if stored != "parquet":
            return 0
        table = pq.read_table(location.parquet_file)
        if column not in table.column_names:
            return 0
        kept = table.filter(pc.fill_null(pc.not_equal(table[column], value), True))
        if kept.num_rows < table.num_rows:
            _write_parquet(location, kept, WriteSpec(mode="overwrite"))  # atomic replace, as every write
        return table.num_rows - kept.num_rows


def remove_format(location: TableLocation, stored: StoredFormat) -> None:
    """After a committed write in the other format, drop the old one's files."""
    if stored == "parquet":
        location.parquet_file.unlink(missing_ok=True)
        return
    shutil.rmtree(location.delta_log, ignore_errors=True)
    for part in location.path.iterdir():
        if part.name != PARQUET_FILE and not part.name.startswith("."):
            if part.is_dir():
                shutil.rmtree(part, ignore_errors=True)
            else:
                part.unlink(missing_ok=True)


def describe_stored(location: TableLocation) -> WriteResult | None:
    """Schema and row count of a stored table, from its metadata (no data scan); None if absent."""
    stored = location.stored_format()
    if stored == "delta":
        return describe_delta(location)
    if stored == "parquet":
        meta = pq.ParquetFile(location.parquet_file)
        try:
            return WriteResult("parquet", meta.schema_arrow, meta.metadata.num_rows, None)
        finally:
            meta.close()
    return None
