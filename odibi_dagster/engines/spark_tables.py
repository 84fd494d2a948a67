"""Reading and writing tables with Spark, at the same locations as the pandas backend.

Two ways to Delta, chosen per session: natively (``format("delta")`` and ``MERGE INTO``) where
the session has Delta (Databricks, the Delta jars, a Spark Connect server that speaks Delta), or
through ``deltalake`` via Arrow where it does not (local Spark without the jars). The second
moves data through the driver: right for local runs and tests, not for big clusters.
"""

from __future__ import annotations

import uuid
from typing import Any

import pyarrow as pa
from pyspark.sql import functions as F

from odibi_dagster.engines.arrow_tables import (
    TableWriteError,
    check_append_columns,
    describe_delta,
    read_delta,
    remove_format,
    target_format,
    write_arrow,
)
from odibi_dagster.engines.base import WriteResult, WriteSpec
from odibi_dagster.engines.storage import TableLocation


def to_arrow(frame: Any) -> pa.Table:
    """A Spark frame as Arrow with every field nullable, as Spark writes them (keeps appends compatible)."""
    table = frame.toArrow()
    return table.cast(pa.schema([field.with_nullable(True) for field in table.schema]))


def read_table(spark: Any, location: TableLocation, native_delta: bool, catalog: bool = False) -> Any:
    stored = location.stored_format()
    if stored == "delta":
        if catalog:
            return spark.table(location.table)
        if native_delta:
            return spark.read.format("delta").load(str(location.path))
        return spark.createDataFrame(read_delta(location.path))
    if stored == "parquet":
        return spark.read.parquet(str(location.parquet_file))
    raise FileNotFoundError(f"table '{location.table}' has not been written yet (no data at {location.path})")


def write_table(spark: Any, location: TableLocation, frame: Any, spec: WriteSpec, native_delta: bool,
                catalog: bool = False) -> WriteResult:
    """``catalog``: also register the table in the session's catalog under its config name, as an
    external Delta table at the same path (needs native Delta)."""
    stored, target = target_format(location, spec, "spark")
    if catalog and not (native_delta and target == "delta"):
        raise TableWriteError(f"table '{location.table}': catalog tables need a session with native Delta "
                              f"(set delta: native, or run on Databricks / Spark Connect)")
    if target == "parquet" or not native_delta:
        return write_arrow(location, to_arrow(frame), spec, engine="spark")
    if spec.mode == "merge":
        check_merge_keys(location.table, frame, spec.merge_keys)
    if spec.mode == "append" and stored == "delta" and not spec.schema_evolution:
        check_append_columns(location, to_arrow(frame.limit(0)).schema)
    path = str(location.path)
    exists = stored == "delta"
    # Table, schema and column names are validated identifiers (config/model.py): safe to quote.
    target_name = _quoted(location.table) if catalog else f"delta.`{path}`"
    if catalog and "." in location.table:
        spark.sql(f"CREATE SCHEMA IF NOT EXISTS {_quoted(location.table.rsplit('.', 1)[0])}").collect()
    if spec.mode == "merge" and exists:
        view = f"odibi_merge_{uuid.uuid4().hex}"
        frame.createOrReplaceTempView(view)
        on = " AND ".join(f"t.`{key}` = s.`{key}`" for key in spec.merge_keys)
        try:
            spark.sql(f"MERGE INTO {target_name} AS t USING {view} AS s ON {on} "
                      "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *").collect()
        finally:
            spark.catalog.dropTempView(view)
    else:
        writer = frame.write.format("delta")
        if spec.mode == "append" and exists:
            writer = writer.mode("append").option("mergeSchema", str(spec.schema_evolution).lower())
        else:
            writer = writer.mode("overwrite").option("overwriteSchema", "true")
        if spec.partition_by:
            writer = writer.partitionBy(*spec.partition_by)
        if catalog:
            writer.option("path", path).saveAsTable(location.table)
        else:
            writer.save(path)
    if stored is not None and stored != "delta":
        remove_format(location, stored)
    return describe_delta(location)


def _quoted(name: str) -> str:
    return ".".join(f"`{part}`" for part in name.split("."))


def check_merge_keys(table: str, frame: Any, merge_keys: tuple[str, ...]) -> None:
    """Keys must be columns and unique in the new data, else MERGE would duplicate or fail late."""
    if not merge_keys:
        raise TableWriteError(f"merge into '{table}' needs merge_keys")
    if missing := [key for key in merge_keys if key not in frame.columns]:
        raise TableWriteError(f"merge into '{table}': merge_keys {missing} are not columns of the new data")
    duplicates = frame.groupBy(*merge_keys).count().where(F.col("count") > 1).limit(3).collect()
    if duplicates:
        sample = [{key: row[key] for key in merge_keys} for row in duplicates]
        raise TableWriteError(f"merge into '{table}': merge_keys {list(merge_keys)} are not unique in the new data "
                              f"(e.g. {sample}); the stored table is unchanged")
