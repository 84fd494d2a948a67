"""Materialization metadata for a written table, built from what the write already knows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dagster as dg

if TYPE_CHECKING:
    import pyarrow as pa

from odibi_dagster.engines.storage import TableLocation


def column_schema(schema: pa.Schema) -> dg.TableSchema:
    return dg.TableSchema(columns=[
        dg.TableColumn(name=f.name, type=str(f.type), constraints=dg.TableColumnConstraints(nullable=f.nullable))
        for f in schema
    ])


def table_metadata(location: TableLocation, *, engine: str, format: str, schema: pa.Schema, row_count: int,
                   rows_written: int | None = None, delta_version: int | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "dagster/row_count": dg.MetadataValue.int(row_count),
        "dagster/column_schema": column_schema(schema),
        "path": dg.MetadataValue.path(str(location.path)),
        "engine": engine,
        "format": format,
    }
    if rows_written is not None:
        metadata["rows_written"] = dg.MetadataValue.int(rows_written)
    if delta_version is not None:
        metadata["delta_version"] = dg.MetadataValue.int(delta_version)
    return metadata
