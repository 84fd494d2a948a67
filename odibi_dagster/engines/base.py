"""What every engine backend offers: read sources and tables, write tables, run query inputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from odibi_dagster.config.model import InputSpec, Source
from odibi_dagster.engines.storage import StoredFormat, TableLocation


@dataclass(frozen=True)
class WriteSpec:
    """How to write one table (an output's ``mode``, ``format``, ``merge_keys``, ...)."""

    mode: str = "overwrite"
    format: StoredFormat | None = None
    merge_keys: tuple[str, ...] = ()
    partition_by: tuple[str, ...] = ()
    schema_evolution: bool = False


@dataclass
class WriteResult:
    """What a write produced: enough for the materialization metadata without a second pass."""

    format: StoredFormat
    schema: Any  # a pyarrow.Schema
    row_count: int  # rows in the table after the write
    rows_written: int | None  # None where counting would cost a pass over the data
    delta_version: int | None = None
    extra: dict = field(default_factory=dict)


class Backend(Protocol):
    """One engine: ``pandas`` or ``spark``."""

    name: str

    @property
    def spark(self) -> Any: ...

    def is_frame(self, obj: Any) -> bool: ...

    def read_source(self, source: Source, root: Path | None) -> Any: ...

    def read_query(self, spec: InputSpec, root: Path | None, where: str) -> Any: ...

    def read_table(self, location: TableLocation) -> Any: ...

    def write_table(self, location: TableLocation, frame: Any, spec: WriteSpec) -> WriteResult: ...
