"""Load sources and transformations through an odibi_de_v2 ``sql_provider`` (from an ``auth_provider``).

The original called ``sql_provider.read(data_type=DataType.SQL, container="", path_prefix="",
object_name=<SQL>, spark=spark)`` and read rows with ``.collect()`` / ``.asDict()``. A provider
only takes SQL text, so nothing is interpolated into it: the queries are constants and the
project is picked out of the rows here. The manifest comes from the project folder.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

from odibi_dagster.config.assemble import assemble_project
from odibi_dagster.config.folder import find_config_file, read_config_file
from odibi_dagster.config.model import Project

TABLES = {"sources": "IngestionSourceConfig", "transformations": "TransformationRegistry"}


class DataType(str, enum.Enum):
    """The original's ``DataType`` member that providers are called with."""

    SQL = "sql"


def read_rows(sql_provider: Any, spark: Any, table: str) -> list[dict[str, Any]]:
    frame = sql_provider.read(data_type=DataType.SQL, container="", path_prefix="",
                              object_name=f"SELECT * FROM {table}", spark=spark)  # constant: a known table name
    return [row.asDict() for row in frame.collect()]


def load_project_provider(sql_provider: Any, spark: Any, project: str, folder: Path, env: str | None) -> Project:
    """Rows of ``project`` (matched case-insensitively, like the original) from the provider's tables."""
    rows = {}
    for stem, table in TABLES.items():
        rows[stem] = [
            {key: value for key, value in row.items() if value is not None}
            for row in read_rows(sql_provider, spark, table)
            if str(row.get("project") or "").lower() == project.lower()
        ]
    manifest_path = find_config_file(folder, "manifest")
    return assemble_project(
        read_config_file(manifest_path), rows["sources"], rows["transformations"],
        manifest_where=str(manifest_path), sources_where=f"sql_provider table {TABLES['sources']}",
        transformations_where=f"sql_provider table {TABLES['transformations']}", env=env, root=folder,
        origin="sql_provider",
    )
