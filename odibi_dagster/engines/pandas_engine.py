"""The pandas backend: parquet/Delta tables through pyarrow and deltalake, pandas bronze readers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from odibi_dagster.config.model import InputSpec, OutputSpec, Source
from odibi_dagster.engines import arrow_tables, arrow_windows, readers
from odibi_dagster.engines.arrow_tables import TableRows
from odibi_dagster.engines.base import CACHE_WARNING, WriteResult, WriteSpec
from odibi_dagster.engines.handoff import Handoff
from odibi_dagster.engines.storage import TableLocation
from odibi_dagster.quality.measure import Evaluated


class PandasBackend:
    """pandas frames; tables written by this backend are handed to later reads in the same process
    without a read back from disk while the file is unchanged (``handoff.py``)."""

    name = "pandas"
    spark = None
    rows = arrow_windows  # partition windows and high-water marks on pandas frames

    def __init__(self) -> None:
        self.handoff = Handoff()

    def is_frame(self, obj: Any) -> bool:
        return isinstance(obj, pd.DataFrame)

    def start(self) -> None:
        """Nothing to start: pandas runs in the step's process."""

    def count_rows(self, frames: Iterable[Any]) -> int | None:
        frames = list(frames)
        return sum(len(frame) for frame in frames) if all(self.is_frame(f) for f in frames) else None

    def read_cached(self, location: TableLocation, run_id: str, layer: str, warn: Callable[[str], None]
                    ) -> pd.DataFrame:
        warn(CACHE_WARNING.format(layer=layer))  # the seed's behaviour: no cache on pandas
        return self.read_table(location)

    def read_source(self, source: Source, root: Path | None, params: Mapping[str, Any] | None = None,
                    since: tuple[str, Any] | None = None) -> pd.DataFrame:
        return readers.read_source(source, root, params, since)

    def concat(self, frames: list[pd.DataFrame]) -> pd.DataFrame:
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)

    def is_empty(self, frame: pd.DataFrame) -> bool:
        return len(frame) == 0

    def read_query(self, spec: InputSpec, root: Path | None, where: str) -> pd.DataFrame:
        return readers.read_query(spec.sql or "", spec.connection, root, where)

    def read_table(self, location: TableLocation, rows: TableRows | None = None) -> pd.DataFrame:
        if rows is not None:
            return arrow_tables.read_frame(location, rows)
        kept = self.handoff.take(location.parquet_file) if location.stored_format() == "parquet" else None
        return kept.to_pandas() if kept is not None else arrow_tables.read_frame(location)

    def write_table(self, location: TableLocation, frame: pd.DataFrame, spec: WriteSpec) -> WriteResult:
        table = arrow_tables.to_arrow(frame, location.table)
        result = arrow_tables.write_arrow(location, table, spec, engine="pandas")
        if result.format == "parquet" and spec.mode == "overwrite":  # the file now holds exactly `table`
            self.handoff.keep(location.parquet_file, table)
        return result

    def evaluate_checks(self, frame: Any, output: OutputSpec, *, where: str, run_id: str, now: datetime) -> Evaluated:
        from odibi_dagster.quality import pandas_checks

        return pandas_checks.evaluate(frame, output.checks, output.quality_gate, where=where, run_id=run_id, now=now)
