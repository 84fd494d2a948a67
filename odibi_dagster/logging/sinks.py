"""Log sinks with the seed's constructors: ``write(records)`` receives a list of record dicts."""

from __future__ import annotations

import csv
import os
from abc import ABC, abstractmethod
from datetime import datetime
from pathlib import Path
from typing import Any

from odibi_dagster.logging.records import RECORD_FIELDS


class BaseLogSink(ABC):
    @abstractmethod
    def write(self, records: list[dict[str, Any]]) -> None:
        """Store the records; raise on failure (the caller logs it and keeps the run going)."""


def _text(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


class FileLogSink(BaseLogSink):
    """CSV with a header; ``append=True`` adds to what earlier runs wrote, never overwriting it."""

    def __init__(self, file_path: str | os.PathLike, append: bool = True):
        self.file_path = Path(file_path)
        self.append = append

    def write(self, records: list[dict[str, Any]]) -> None:
        self.file_path.parent.mkdir(parents=True, exist_ok=True)
        new_file = not self.append or not self.file_path.exists() or self.file_path.stat().st_size == 0
        with open(self.file_path, "w" if not self.append else "a", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=RECORD_FIELDS, extrasaction="ignore")
            if new_file:
                writer.writeheader()
            writer.writerows({key: _text(value) for key, value in record.items()} for record in records)


class SparkDeltaLogSink(BaseLogSink):
    """A Delta table named like the seed's (``schema.TransformationRunLog``), appended through Spark.

    With native Delta the table is a catalog table; otherwise it is a Delta folder under
    ``<ODIBI_STORAGE_ROOT>/_logs/<table_name>`` written through the ``deltalake`` package.
    """

    def __init__(self, spark: Any, table_name: str = "config_driven.TransformationRunLog"):
        self.spark = spark
        self.table_name = table_name

    @property
    def path(self) -> Path:
        from odibi_dagster.config.settings import storage_root

        return storage_root() / "_logs" / self.table_name

    def write(self, records: list[dict[str, Any]]) -> None:
        from odibi_dagster.engines.spark_session import has_native_delta

        if self.spark is not None and has_native_delta(self.spark):
            schema = self.table_name.rsplit(".", 1)[0] if "." in self.table_name else None
            if schema:
                self.spark.sql(f"CREATE SCHEMA IF NOT EXISTS `{schema}`").collect()
            self.spark.createDataFrame(records_table(records)).write.format("delta").mode("append").saveAsTable(
                self.table_name)
            return
        DeltaLogSink(self.path).write(records)


class DeltaLogSink(BaseLogSink):
    """A Delta table at ``path``, appended through the ``deltalake`` package (no Spark needed)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def write(self, records: list[dict[str, Any]]) -> None:
        from deltalake import DeltaTable, write_deltalake
        from deltalake.exceptions import SchemaMismatchError

        if DeltaTable.is_deltatable(str(self.path)):
            columns = [field.name for field in DeltaTable(str(self.path)).schema().fields]
            if columns != list(RECORD_FIELDS):
                raise ValueError(f"the Delta table at {self.path} is not a transformation log (another schema: "
                                 f"{columns})")
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            write_deltalake(str(self.path), records_table(records), mode="append")
        except SchemaMismatchError as exc:
            raise ValueError(f"the Delta table at {self.path} is not a transformation log (another schema): "
                             f"{exc}") from None


class SQLLogSink(BaseLogSink):
    """A table in any SQLAlchemy database (created when missing); one bound INSERT per batch."""

    def __init__(self, url: str, table: str = "TransformationRunLog"):
        import sqlalchemy as sa

        self.url = url
        self.table = sa.Table(
            table, sa.MetaData(),
            sa.Column("transformation_id", sa.String(200), nullable=False), sa.Column("project", sa.String(200)),
            sa.Column("env", sa.String(50)), sa.Column("layer", sa.String(100)), sa.Column("engine", sa.String(20)),
            sa.Column("plant", sa.String(200)), sa.Column("asset", sa.String(200)), sa.Column("run_id", sa.String(64)),
            sa.Column("start_time", sa.DateTime(timezone=True)), sa.Column("end_time", sa.DateTime(timezone=True)),
            sa.Column("status", sa.String(20)), sa.Column("duration_seconds", sa.Float),
            sa.Column("rows_in", sa.BigInteger), sa.Column("rows_out", sa.BigInteger),
            sa.Column("attempt", sa.Integer), sa.Column("error_message", sa.Text),
        )

    def write(self, records: list[dict[str, Any]]) -> None:
        import sqlalchemy as sa

        engine = sa.create_engine(self.url)
        try:
            self.table.metadata.create_all(engine)
            with engine.begin() as conn:
                conn.execute(sa.insert(self.table), [{f: r.get(f) for f in RECORD_FIELDS} for r in records])
        except sa.exc.SQLAlchemyError as exc:
            from odibi_dagster.engines.connections import safe_url

            raise ConnectionError(f"SQL log sink {safe_url(engine.url)} table {self.table.name}: "
                                  f"{type(exc).__name__}: {getattr(exc, 'orig', None) or exc}") from None
        finally:
            engine.dispose()


class MultiLogSink(BaseLogSink):
    """Several sinks at once; each gets every record, and one failing does not stop the others."""

    def __init__(self, *sinks: BaseLogSink):
        self.sinks = sinks

    def write(self, records: list[dict[str, Any]]) -> None:
        errors = []
        for sink in self.sinks:
            try:
                sink.write(records)
            except Exception as exc:  # noqa: BLE001 - reported together below
                errors.append(f"{type(sink).__name__}: {exc}")
        if errors:
            raise RuntimeError("; ".join(errors))


def records_table(records: list[dict[str, Any]]) -> Any:
    """Records as an Arrow table with the log's fixed column types."""
    import pyarrow as pa

    schema = pa.schema([
        ("transformation_id", pa.string()), ("project", pa.string()), ("env", pa.string()), ("layer", pa.string()),
        ("engine", pa.string()), ("plant", pa.string()), ("asset", pa.string()), ("run_id", pa.string()),
        ("start_time", pa.timestamp("us", "UTC")), ("end_time", pa.timestamp("us", "UTC")), ("status", pa.string()),
        ("duration_seconds", pa.float64()), ("rows_in", pa.int64()), ("rows_out", pa.int64()),
        ("attempt", pa.int64()), ("error_message", pa.string()),
    ])
    return pa.Table.from_pylist([{f: r.get(f) for f in RECORD_FIELDS} for r in records], schema=schema)


def build_sink(config: dict[str, Any] | None) -> BaseLogSink | None:
    """The manifest's ``log_sink``: ``{type: file|delta|sql, ...}`` (or a list of them).

    Relative file and Delta paths are under ``<storage_root>/_logs`` and must stay inside it;
    ``${NAME}`` in a SQL url reads environment variable NAME.
    """
    if not config:
        return None
    if isinstance(config, list):
        return MultiLogSink(*(sink for sink in (build_sink(item) for item in config) if sink))
    from odibi_dagster.config.settings import storage_root
    from odibi_dagster.engines.connections import substitute_env

    kind = str(config.get("type", "")).lower()
    if kind in ("file", "delta"):
        logs = storage_root() / "_logs"
        path = (logs / str(config.get("path", "transformation_log.csv" if kind == "file" else "transformation_log")))
        if not path.resolve().is_relative_to(logs.resolve()):
            raise ValueError(f"log_sink path '{config.get('path')}' leaves the log folder {logs}")
        return FileLogSink(path) if kind == "file" else DeltaLogSink(path)
    if kind == "sql":
        return SQLLogSink(substitute_env(str(config["url"]), "log_sink.url"),
                          str(config.get("table", "TransformationRunLog")))
    raise ValueError(f"log_sink type '{config.get('type')}' is not one of file, delta, sql")
