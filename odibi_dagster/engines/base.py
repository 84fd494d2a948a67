"""What every engine backend offers: read sources and tables, write tables, run query inputs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from odibi_dagster.config.model import InputSpec, OutputSpec, Source
from odibi_dagster.engines.storage import StoredFormat, TableLocation, WriteSpec
from odibi_dagster.quality.measure import Evaluated


@dataclass
class WriteResult:
    """What a write produced: enough for the materialization metadata without a second pass."""

    format: StoredFormat
    schema: Any  # a pyarrow.Schema
    row_count: int  # rows in the table after the write
    rows_written: int | None  # None where counting would cost a pass over the data
    delta_version: int | None = None
    extra: dict = field(default_factory=dict)


CACHE_WARNING = "Caching not supported for pandas engine. Skipping cache for {layer}"


class Backend(Protocol):
    """One engine: ``pandas`` or ``spark``. Everything the IO manager and the asset factory call."""

    name: str

    @property
    def spark(self) -> Any: ...

    def is_frame(self, obj: Any) -> bool: ...

    def start(self) -> None:
        """Make the engine ready for a run (Spark: start or reach the session); fail fast if it cannot."""

    def count_rows(self, frames: Iterable[Any]) -> int | None:
        """Rows of the frames where counting is free; None where it would cost a pass over the data."""

    def read_cached(self, location: TableLocation, run_id: str, layer: str, warn: Callable[[str], None]) -> Any:
        """A ``cache_plan`` table (cached after ``layer``): read once per run where the engine can cache."""

    @property
    def rows(self) -> Any:
        """The engine's module of partition-window and high-water-mark rules (``keep_window``,
        ``require_window``, ``count_per_partition``, ``keep_after``, ``max_value``): ``arrow_windows``
        or ``spark_windows``."""

    def read_source(self, source: Source, root: Path | None, params: Mapping[str, Any] | None = None,
                    since: tuple[str, Any] | None = None) -> Any:
        """A bronze source; ``params``: a SQL query's bound partition parameters; ``since``: (column,
        high-water mark), applied in the database for SQL sources."""

    def concat(self, frames: list[Any]) -> Any: ...

    def is_empty(self, frame: Any) -> bool: ...

    def read_query(self, spec: InputSpec, root: Path | None, where: str) -> Any: ...

    def read_table(self, location: TableLocation, rows: tuple[str, Any] | None = None) -> Any:
        """A stored table; ``rows``: (partition column, window) to read one partition window's rows."""

    def write_table(self, location: TableLocation, frame: Any, spec: WriteSpec) -> WriteResult: ...

    def evaluate_checks(self, frame: Any, output: OutputSpec, *, where: str, run_id: str, now: datetime) -> Evaluated:
        """``output``'s checks on ``frame`` (``odibi_dagster.quality``): verdicts, rows to write, to quarantine."""
