"""The Spark backend: Spark bronze readers and Delta tables, on one shared session per process."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from odibi_dagster.config.model import InputSpec, OutputSpec, Source
from odibi_dagster.engines import spark_readers, spark_tables
from odibi_dagster.engines.arrow_tables import TableRows, TableWriteError
from odibi_dagster.engines.base import WriteResult, WriteSpec
from odibi_dagster.engines.readers import read_query as read_query_with_pandas
from odibi_dagster.engines.spark_errors import SparkJobError, spark_error_summary, would_repeat
from odibi_dagster.engines.spark_session import SparkSettings, get_session, has_native_delta
from odibi_dagster.engines.storage import TableLocation
from odibi_dagster.quality.measure import Evaluated

DeltaMode = Literal["auto", "native", "deltalake"]

# cache_plan tables cached in this process: (run_id, table path, Delta version) -> cached frame.
# One run's entries at a time: a new run's first cache releases the previous run's.
CACHED: dict[tuple[str, str, int | None], Any] = {}
_cache_lock = threading.Lock()


class SparkBackend:
    """``delta``: ``native`` (``format("delta")``), ``deltalake`` (through Arrow) or ``auto`` (by session)."""

    name = "spark"

    def __init__(self, settings: SparkSettings, delta: DeltaMode = "auto", catalog: bool = False):
        self.settings = settings
        self.delta = delta
        self.catalog = catalog

    @property
    def spark(self) -> Any:
        return get_session(self.settings)

    @property
    def native_delta(self) -> bool:
        return self.delta == "native" or (self.delta == "auto" and has_native_delta(self.spark))

    def is_frame(self, obj: Any) -> bool:
        from pyspark.sql import DataFrame

        return isinstance(obj, DataFrame)

    def start(self) -> None:
        self.spark  # noqa: B018 - starts (or reaches) the shared session

    def count_rows(self, frames: Iterable[Any]) -> int | None:
        return None  # a count is a pass over the data; the written table's count comes from the Delta log

    @property
    def rows(self) -> Any:
        """Partition windows and high-water marks on Spark frames."""
        from odibi_dagster.engines import spark_windows

        return spark_windows

    def read_source(self, source: Source, root: Path | None, params: Mapping[str, Any] | None = None,
                    since: tuple[str, Any] | None = None) -> Any:
        return spark_readers.read_source(self.spark, source, root, self.native_delta, params, since)

    def concat(self, frames: list[Any]) -> Any:
        return functools.reduce(lambda a, b: a.unionByName(b), frames)

    def is_empty(self, frame: Any) -> bool:
        return frame.isEmpty()

    def read_query(self, spec: InputSpec, root: Path | None, where: str) -> Any:
        if spec.connection:  # a query on another database: run it there, hand the rows to Spark
            return self.spark.createDataFrame(read_query_with_pandas(spec.sql or "", spec.connection, root, where))
        return self.spark.sql(spec.sql)

    def read_table(self, location: TableLocation, rows: TableRows | None = None) -> Any:
        frame = spark_tables.read_table(self.spark, location, self.native_delta, self.catalog)
        if rows is not None:
            column, window = rows
            frame = frame.where(self.rows.window_condition(frame, column, window, f"table '{location.table}'"))
        return frame

    def write_table(self, location: TableLocation, frame: Any, spec: WriteSpec) -> WriteResult:
        try:
            result = spark_tables.write_table(self.spark, location, frame, spec, self.native_delta, self.catalog)
        except Exception as exc:
            summary = spark_error_summary(exc)  # the table's data is computed (its inputs read) as it is written
            if summary is None:
                raise
            # the Java error is left out (`from None`): 10-30 KB in each of Dagster's events
            if would_repeat(summary):
                raise TableWriteError(f"{summary}; the stored table is unchanged") from None
            raise SparkJobError(f"{summary}; the stored table is unchanged") from None
        if self.catalog:
            result.extra["dagster/table_name"] = location.table
        return result

    def read_cached(self, location: TableLocation, run_id: str, layer: str, warn: Callable[[str], None]) -> Any:
        """Read a ``cache_plan`` table once per run and keep it cached in the shared session."""
        stored = location.stored_format()
        version = None if stored != "delta" else spark_tables.describe_delta(location).delta_version
        key = (run_id, str(location.path), version)
        with _cache_lock:
            if key not in CACHED:
                for old in [k for k in CACHED if k[0] != run_id]:
                    CACHED.pop(old).unpersist()
                frame = self.read_table(location).cache()
                frame.count()  # materialize the cache now, as the original's CACHE TABLE + COUNT did
                CACHED[key] = frame
            return CACHED[key]

    def evaluate_checks(self, frame: Any, output: OutputSpec, *, where: str, run_id: str, now: datetime) -> Evaluated:
        from odibi_dagster.quality import spark_checks

        return spark_checks.evaluate(frame, output.checks, output.quality_gate, where=where, run_id=run_id, now=now)
