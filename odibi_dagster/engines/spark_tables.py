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
from pyspark.sql import types as T

from odibi_dagster.engines.arrow_tables import (
    TableWriteError,
    describe_delta,
    fit_to_stored,
    needs_delta,
    null_keys_refused,
    parquet_to_delta,
    read_delta,
    refuse_scd2_into_parquet,
    remove_format,
    remove_stale_files,
    require_merge_keys,
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
    _, target = target_format(location, spec, "spark")
    if catalog and not (native_delta and target == "delta"):
        raise TableWriteError(f"table '{location.table}': catalog tables need a session with native Delta "
                              f"(set delta: native, or run on Databricks / Spark Connect)")
    if target == "parquet" or not native_delta:
        return write_arrow(location, to_arrow(frame), spec, engine="spark")
    with location.locked():
        remove_stale_files(location)
        return _write_native(spark, location, frame, spec, catalog)


def _write_native(spark: Any, location: TableLocation, frame: Any, spec: WriteSpec, catalog: bool) -> WriteResult:
    was, _ = target_format(location, spec, "spark")
    refuse_scd2_into_parquet(location, spec, was)
    stored = parquet_to_delta(location) if needs_delta(spec) and was == "parquet" else was
    exists = stored == "delta"
    if spec.mode == "scd2":
        result = _write_scd2_native(spark, location, frame, spec, exists)
        if was is not None and was != "delta":
            remove_format(location, was)
        return result
    skipped = 0
    if spec.mode == "merge":
        frame, skipped = drop_null_keys(location, frame, spec)
    replacing = spec.window is not None and exists
    if (spec.mode in ("append", "merge") or replacing) and exists:
        # the data is not at hand: only widening casts pass (fit_to_stored by type)
        fit_to_stored(location, describe_delta(location).schema, to_arrow(frame.limit(0)), spec, by_type=True)
    path = str(location.path)
    # Table, schema and column names are validated identifiers (config/model.py): safe to quote.
    target_name = _quoted(location.table) if catalog else f"delta.`{path}`"
    if catalog and "." in location.table:
        spark.sql(f"CREATE SCHEMA IF NOT EXISTS {_quoted(location.table.rsplit('.', 1)[0])}").collect()
    if spec.mode == "merge" and exists:
        view = f"odibi_merge_{uuid.uuid4().hex}"
        frame.createOrReplaceTempView(view)
        on = " AND ".join(f"t.`{key}` = s.`{key}`" for key in (key.replace("`", "``") for key in spec.merge_keys))
        try:
            if spec.schema_evolution:
                spark.conf.set("spark.databricks.delta.schema.autoMerge.enabled", "true")
            spark.sql(f"MERGE INTO {target_name} AS t USING {view} AS s ON {on} "
                      "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *").collect()
        finally:
            spark.catalog.dropTempView(view)
            if spec.schema_evolution:
                spark.conf.unset("spark.databricks.delta.schema.autoMerge.enabled")
    else:
        writer = frame.write.format("delta")
        if spec.mode == "append" and exists:
            writer = writer.mode("append").option("mergeSchema", str(spec.schema_evolution).lower())
        elif replacing:  # exactly the window's rows are replaced (never the whole table)
            from odibi_dagster.engines.spark_windows import replace_where

            assert spec.window is not None and spec.partition_column is not None
            writer = writer.mode("overwrite").option("replaceWhere",
                                                     replace_where(frame, spec.partition_column, spec.window))
        else:
            writer = writer.mode("overwrite").option("overwriteSchema", "true")
        if spec.partition_by:
            writer = writer.partitionBy(*spec.partition_by)
        if catalog:
            writer.option("path", path).saveAsTable(location.table)
        else:
            writer.save(path)
    if was is not None and was != "delta":
        remove_format(location, was)
    result = describe_delta(location, rows_written=rows_in_last_commit(location))
    if skipped:
        result.extra["odibi/rows_skipped_null_keys"] = skipped
    return result


def _write_scd2_native(spark: Any, location: TableLocation, frame: Any, spec: WriteSpec, exists: bool
                       ) -> WriteResult:
    """SCD2 with native Delta: the plan as on the Arrow path (``scd2.plan``, on the driver: a
    dimension's current versions and new rows), applied with one ``MERGE INTO``."""
    from datetime import datetime, timezone

    from odibi_dagster.engines import scd2

    now = spec.started_at or datetime.now(timezone.utc)
    path = str(location.path)
    data = to_arrow(frame)
    scd2.check_columns(location, data, spec)
    current = closed_until = None
    if exists:
        current, closed_until = scd2.stored_versions(location, to_arrow(spark.read.format("delta").load(path)),
                                                     list(spec.merge_keys))
        stored_schema = pa.schema([field for field in current.schema if field.name not in scd2.SCD2_COLUMNS])
        data = fit_to_stored(location, stored_schema, data, spec, by_type=False)
    changes = scd2.plan(location, data, current, spec, now, closed_until)
    if not exists:
        spark.createDataFrame(changes.inserts).write.format("delta").mode("overwrite").save(path)
    elif changes.inserts.num_rows or changes.closes.num_rows:
        view = f"odibi_scd2_{uuid.uuid4().hex}"
        spark.createDataFrame(scd2.merge_source(changes)).createOrReplaceTempView(view)
        keys = " AND ".join(f"t.`{key}` = s.`{key}`" for key in (key.replace("`", "``") for key in spec.merge_keys))
        columns = ", ".join(f"`{name}`" for name in changes.inserts.column_names)
        values = ", ".join(f"s.`{name}`" for name in changes.inserts.column_names)
        try:
            spark.sql(f"MERGE INTO delta.`{path}` AS t USING {view} AS s "
                      f"ON {keys} AND t.`{scd2.IS_CURRENT}` = true AND s.{scd2.ACTION} = 'close' "
                      f"WHEN MATCHED THEN UPDATE SET t.`{scd2.VALID_TO}` = s.{scd2.CLOSE_AT}, "
                      f"t.`{scd2.IS_CURRENT}` = false "
                      f"WHEN NOT MATCHED AND s.{scd2.ACTION} = 'insert' THEN INSERT ({columns}) VALUES ({values})"
                      ).collect()
        finally:
            spark.catalog.dropTempView(view)
    result = describe_delta(location, rows_written=changes.inserts.num_rows)
    result.extra.update(changes.metadata())
    return result


def _quoted(name: str) -> str:
    return ".".join(f"`{part}`" for part in name.split("."))


def drop_null_keys(location: TableLocation, frame: Any, spec: WriteSpec) -> tuple[Any, int]:
    """The Spark twin of ``arrow_tables.drop_null_keys``: null keys refused (or skipped), the rest unique."""
    require_merge_keys(location.table, frame.columns, spec.merge_keys)
    has_null = None
    for key in spec.merge_keys:
        column_null = F.col(f"`{key}`").isNull()
        if isinstance(frame.schema[key].dataType, (T.FloatType, T.DoubleType)):
            column_null = column_null | F.isnan(F.col(f"`{key}`"))
        has_null = column_null if has_null is None else has_null | column_null
    nulls = frame.where(has_null)
    sample = nulls.limit(1).collect()
    count = nulls.count() if sample else 0
    if count and spec.null_keys != "skip":
        raise null_keys_refused(location.table, spec.merge_keys, count, sample[0].asDict())
    if count:
        frame = frame.where(~has_null)
    duplicates = frame.groupBy(*spec.merge_keys).count().where(F.col("count") > 1).limit(3).collect()
    if duplicates:
        found = [{key: row[key] for key in spec.merge_keys} for row in duplicates]
        raise TableWriteError(f"merge into '{location.table}': merge_keys {list(spec.merge_keys)} are not unique in "
                              f"the new data (e.g. {found}); the stored table is unchanged")
    return frame, count


def rows_in_last_commit(location: TableLocation) -> int | None:
    """The rows the last commit wrote (a merge: the rows merged in), from Spark's commit metrics in
    the Delta log: no pass over the data. None where the commit has no such metric."""
    from deltalake import DeltaTable

    try:
        metrics = (DeltaTable(str(location.path)).history(1) or [{}])[0].get("operationMetrics") or {}
        value = metrics.get("numSourceRows", metrics.get("numOutputRows"))
        return int(value) if value is not None else None
    except Exception:  # noqa: BLE001 - the table is written; only its count is unknown
        return None
