"""The pandas backend: parquet/Delta tables through pyarrow and deltalake, pandas bronze readers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from odibi_dagster.config.model import InputSpec, Source
from odibi_dagster.engines import pandas_tables, readers
from odibi_dagster.engines.base import WriteResult, WriteSpec
from odibi_dagster.engines.storage import TableLocation


class PandasBackend:
    name = "pandas"
    spark = None

    def is_frame(self, obj: Any) -> bool:
        return isinstance(obj, pd.DataFrame)

    def read_source(self, source: Source, root: Path | None) -> pd.DataFrame:
        return readers.read_source(source, root)

    def read_query(self, spec: InputSpec, root: Path | None, where: str) -> pd.DataFrame:
        return readers.read_query(spec.sql or "", spec.connection, root, where)

    def read_table(self, location: TableLocation) -> pd.DataFrame:
        return pandas_tables.read_frame(location)

    def write_table(self, location: TableLocation, frame: pd.DataFrame, spec: WriteSpec) -> WriteResult:
        return pandas_tables.write_arrow(location, pandas_tables.to_arrow(frame), spec, engine="pandas")
