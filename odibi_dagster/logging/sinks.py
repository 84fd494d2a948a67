"""Log sinks with the seed's constructors: ``write(records)`` receives a list of record dicts."""

from __future__ import annotations

import csv
import os
from abc import ABC, abstractmethod
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

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

        frame = pd.DataFrame(records, columns=list(RECORD_FIELDS))
        if self.spark is not None and has_native_delta(self.spark):
            schema = self.table_name.rsplit(".", 1)[0] if "." in self.table_name else None
            if schema:
                self.spark.sql(f"CREATE SCHEMA IF NOT EXISTS `{schema}`").collect()
            self.spark.createDataFrame(frame).write.format("delta").mode("append").saveAsTable(self.table_name)
            return
        from deltalake import write_deltalake

        from odibi_dagster.engines.pandas_tables import to_arrow

        self.path.mkdir(parents=True, exist_ok=True)
        write_deltalake(str(self.path), to_arrow(frame.astype({"rows_in": "Int64", "rows_out": "Int64",
                                                               "attempt": "Int64"})), mode="append")
