"""The one place that knows where tables live: ``<root>/<env>/<project_slug>/<layer>/<table>``.

A table is a folder. It holds either a Delta table (``_delta_log/`` + parquet parts) or a single
``data.parquet`` file; whichever engine wrote it last, both engines can read it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from odibi_dagster.config.model import LAYER_NAME, TABLE_NAME

StoredFormat = Literal["parquet", "delta"]
PARQUET_FILE = "data.parquet"
_SAFE_NAME = re.compile(r"^(?!\.{1,2}$)[A-Za-z0-9_.-]+$")


def planned_format(engine: str, mode: str, format: str | None = None, partition_by: Sequence[str] = ()
                   ) -> StoredFormat:
    """The format a new table gets: the output's ``format``, else Delta on Spark, for ``merge`` and
    for partitioned outputs, else parquet."""
    if format:
        return format  # type: ignore[return-value]
    return "delta" if engine == "spark" or mode == "merge" or partition_by else "parquet"


@dataclass(frozen=True)
class TableLocation:
    root: Path
    env: str
    project_slug: str
    layer: str
    table: str

    def __post_init__(self) -> None:
        # Names come from validated config; check again so no path can leave the storage root.
        for name, pattern in ((self.table, TABLE_NAME), (self.layer, LAYER_NAME), (self.project_slug, _SAFE_NAME),
                              (self.env, _SAFE_NAME)):
            if not pattern.match(name):
                raise ValueError(f"'{name}' is not a safe storage name")

    @property
    def path(self) -> Path:
        return self.root / self.env / self.project_slug / self.layer / self.table

    @property
    def parquet_file(self) -> Path:
        return self.path / PARQUET_FILE

    @property
    def delta_log(self) -> Path:
        return self.path / "_delta_log"

    def stored_format(self) -> StoredFormat | None:
        """What is on disk now: Delta wins when both exist (a Delta commit is the newer write)."""
        if self.delta_log.is_dir() and any(self.delta_log.glob("*.json")):
            return "delta"
        if self.parquet_file.is_file():
            return "parquet"
        return None

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, object], root: Path) -> TableLocation:
        """Rebuild a location from the ``odibi/*`` definition metadata every odibi asset carries."""
        return cls(
            root=root,
            env=str(metadata["odibi/env"]),
            project_slug=str(metadata["odibi/project"]),
            layer=str(metadata["odibi/layer"]),
            table=str(metadata["odibi/table"]),
        )
