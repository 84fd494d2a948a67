"""The Arrow table layer both engines share: parquet files (pyarrow) and Delta tables (deltalake).

pandas frames reach it through ``to_arrow``; Spark frames through Arrow when the session has no
native Delta.

Writes never leave a half-written table: parquet goes to a hidden temporary file that replaces
the old one in one ``os.replace``; Delta commits are atomic by design. A failed write (a schema
mismatch, duplicate merge keys) raises before anything is replaced.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.fs as pa_fs
import pyarrow.parquet as pq
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import DeltaError, SchemaMismatchError

from odibi_dagster.engines.base import WriteResult, WriteSpec
from odibi_dagster.engines.storage import PARQUET_FILE, StoredFormat, TableLocation, planned_format


class TableWriteError(RuntimeError):
    """A write was refused; the stored table is unchanged."""


def to_arrow(frame: pd.DataFrame) -> pa.Table:
    """A pandas frame as Arrow, timestamps in microseconds (what Spark and Delta store).

    An index that holds data (named levels, a MultiIndex, or labels that are not row positions,
    as a ``groupby`` leaves them) becomes columns; a positional integer index is dropped."""
    table = pa.Table.from_pandas(_index_as_columns(frame), preserve_index=False)
    if not any(pa.types.is_timestamp(f.type) and f.type.unit == "ns" for f in table.schema):
        return table
    schema = pa.schema([f.with_type(pa.timestamp("us", f.type.tz)) if pa.types.is_timestamp(f.type) else f
                        for f in table.schema], metadata=table.schema.metadata)
    return table.cast(schema, safe=False)


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
    # An explicit filesystem avoids deltalake aborting the interpreter at exit (ENVIRONMENT.md).
    filesystem = pa_fs.SubTreeFileSystem(str(path), pa_fs.LocalFileSystem())
    return DeltaTable(str(path)).to_pyarrow_table(filesystem=filesystem)


def read_arrow(location: TableLocation) -> pa.Table:
    stored = location.stored_format()
    if stored == "delta":
        return read_delta(location.path)
    if stored == "parquet":
        return pq.read_table(location.parquet_file)
    raise FileNotFoundError(f"table '{location.table}' has not been written yet (no data at {location.path})")


def read_frame(location: TableLocation) -> pd.DataFrame:
    return read_arrow(location).to_pandas()


def write_frame(
    location: TableLocation,
    frame: pd.DataFrame,
    *,
    mode: str = "overwrite",
    format: StoredFormat | None = None,
    merge_keys: Sequence[str] = (),
    partition_by: Sequence[str] = (),
    schema_evolution: bool = False,
) -> WriteResult:
    """Write a pandas frame to ``location`` (see ``write_arrow``)."""
    spec = WriteSpec(mode, format, tuple(merge_keys), tuple(partition_by), schema_evolution)
    return write_arrow(location, to_arrow(frame), spec, engine="pandas")


def target_format(location: TableLocation, spec: WriteSpec, engine: str) -> tuple[StoredFormat | None, StoredFormat]:
    """(what is stored now, what this write produces): an append or merge into an existing table
    keeps that table's format; a new or overwritten table gets ``planned_format``."""
    stored = location.stored_format()
    if spec.mode == "merge" and stored == "parquet":
        raise TableWriteError(
            f"table '{location.table}' is stored as parquet; merge needs Delta (set format: delta and overwrite once)")
    if spec.mode in ("append", "merge") and stored is not None:
        return stored, "delta" if spec.mode == "merge" else stored
    return stored, planned_format(engine, spec.mode, spec.format, spec.partition_by)


def write_arrow(location: TableLocation, data: pa.Table, spec: WriteSpec, engine: str) -> WriteResult:
    """Write an Arrow table as parquet or Delta (through ``deltalake``), atomically."""
    stored, target = target_format(location, spec, engine)
    if target == "delta":
        result = _write_delta(location, data, spec.mode, spec.merge_keys, spec.partition_by, spec.schema_evolution,
                              exists=stored == "delta")
    else:
        result = _write_parquet(location, data, spec.mode, spec.schema_evolution)
    if stored is not None and stored != target:
        remove_format(location, stored)
    return result


# -- parquet -------------------------------------------------------------------------------------

def _write_parquet(location: TableLocation, data: pa.Table, mode: str, schema_evolution: bool) -> WriteResult:
    location.path.mkdir(parents=True, exist_ok=True)
    final = location.parquet_file
    tmp = location.path / f".{PARQUET_FILE}.{uuid.uuid4().hex}.tmp"
    existing = pq.ParquetFile(final) if mode == "append" and final.is_file() else None
    try:
        if existing is None:
            pq.write_table(data, tmp)
            row_count, schema = data.num_rows, data.schema
        else:
            schema = _append_schema(location, existing.schema_arrow, data.schema, schema_evolution)
            with pq.ParquetWriter(tmp, schema) as writer:
                for batch in existing.iter_batches():
                    writer.write_table(_conform(pa.Table.from_batches([batch]), schema))
                writer.write_table(_conform(data, schema))
            row_count = existing.metadata.num_rows + data.num_rows
        os.replace(tmp, final)
    finally:
        if existing is not None:
            existing.close()
        tmp.unlink(missing_ok=True)
    return WriteResult("parquet", schema, row_count, data.num_rows)


def _append_schema(location: TableLocation, stored: pa.Schema, new: pa.Schema, schema_evolution: bool) -> pa.Schema:
    stored, new = stored.remove_metadata(), new.remove_metadata()
    if stored.equals(new):
        return stored
    if schema_evolution:
        try:
            return pa.unify_schemas([stored, new], promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise TableWriteError(f"append to '{location.table}': schemas cannot be merged: {exc}") from None
    raise append_refused(location, stored, new)


def append_refused(location: TableLocation, stored: pa.Schema, new: pa.Schema) -> TableWriteError:
    """The error for an append whose columns do not fit the stored table (parquet or Delta)."""
    return TableWriteError(
        f"append to '{location.table}' refused: {describe_schema_difference(stored, new)}; the stored table is "
        f"unchanged (set schema_evolution: true on the output to allow new columns)")


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    columns = [
        table.column(name).cast(schema.field(name).type) if name in table.column_names
        else pa.nulls(table.num_rows, schema.field(name).type)
        for name in schema.names
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def describe_schema_difference(stored: pa.Schema, new: pa.Schema) -> str:
    stored_types = {f.name: f.type for f in stored}
    new_types = {f.name: f.type for f in new}
    parts = []
    if added := [name for name in new_types if name not in stored_types]:
        parts.append(f"new columns {added}")
    if missing := [name for name in stored_types if name not in new_types]:
        parts.append(f"missing columns {missing}")
    changed = [f"{name} {stored_types[name]} -> {new_types[name]}" for name in new_types
               if name in stored_types and stored_types[name] != new_types[name]]
    if changed:
        parts.append(f"changed types {changed}")
    return "schema differs from the stored table: " + ("; ".join(parts) or "column order differs")


# -- Delta ---------------------------------------------------------------------------------------

def _write_delta(location: TableLocation, data: pa.Table, mode: str, merge_keys: Sequence[str],
                 partition_by: Sequence[str], schema_evolution: bool, *, exists: bool) -> WriteResult:
    """``exists``: a Delta table is already stored there (``write_arrow`` has just looked)."""
    path = str(location.path)
    if mode == "merge":
        check_merge_keys(location.table, data, merge_keys)
    if mode == "append" and exists and not schema_evolution:
        check_append_columns(location, data.schema)
    try:
        if mode == "merge" and exists:
            table = DeltaTable(path)
            predicate = " AND ".join(f't."{key}" = s."{key}"' for key in merge_keys)
            (table.merge(data, predicate, source_alias="s", target_alias="t", merge_schema=schema_evolution)
                  .when_matched_update_all().when_not_matched_insert_all().execute())
        else:
            write_mode = "append" if mode == "append" and exists else "overwrite"
            schema_mode = "merge" if write_mode == "append" and schema_evolution else (
                "overwrite" if write_mode == "overwrite" and exists else None)
            location.path.mkdir(parents=True, exist_ok=True)
            write_deltalake(path, data, mode=write_mode, schema_mode=schema_mode,
                            partition_by=list(partition_by) or None)
    except SchemaMismatchError as exc:
        raise TableWriteError(f"{mode} into '{location.table}' refused: {exc}; the stored table is unchanged "
                              f"(set schema_evolution: true on the output to allow new columns)") from None
    except DeltaError as exc:
        raise TableWriteError(f"{mode} into '{location.table}' failed: {exc}; the stored table is unchanged") from None
    return describe_delta(location, rows_written=data.num_rows)


def describe_delta(location: TableLocation, rows_written: int | None = None) -> WriteResult:
    """Schema, row count and version of a Delta table from its log (no data scan)."""
    table = DeltaTable(str(location.path))
    return WriteResult("delta", pa.schema(table.schema().to_arrow()), table.count(), rows_written,
                       delta_version=table.version())


def check_append_columns(location: TableLocation, new: pa.Schema) -> None:
    """An append must bring the stored Delta table's columns, no more, no fewer (unless schema_evolution)."""
    stored = describe_delta(location).schema
    if sorted(stored.names) != sorted(new.names):
        raise append_refused(location, stored, new)


def check_merge_keys(table: str, data: pa.Table, merge_keys: Sequence[str]) -> None:
    """A merge needs its keys as columns, and unique in the new data (else rows would be duplicated)."""
    if not merge_keys:
        raise TableWriteError(f"merge into '{table}' needs merge_keys")
    if missing := [key for key in merge_keys if key not in data.column_names]:
        raise TableWriteError(f"merge into '{table}': merge_keys {missing} are not columns of the new data")
    keys = data.select(list(merge_keys)).to_pandas()
    if keys.duplicated().any():
        sample = keys[keys.duplicated(keep=False)].head(3).to_dict("records")
        raise TableWriteError(f"merge into '{table}': merge_keys {list(merge_keys)} are not unique in the new data "
                              f"(e.g. {sample}); the stored table is unchanged")


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
