"""Materialization metadata for a written table, built from what the write already knows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import dagster as dg

if TYPE_CHECKING:
    import pyarrow as pa

from odibi_dagster.engines.storage import TableLocation


def column_schema(schema: pa.Schema, descriptions: Mapping[str, str] | None = None) -> dg.TableSchema:
    """The written table's columns, with the descriptions that config declared for them."""
    descriptions = descriptions or {}
    return dg.TableSchema(columns=[
        dg.TableColumn(name=f.name, type=str(f.type), description=descriptions.get(f.name) or None,
                       constraints=dg.TableColumnConstraints(nullable=f.nullable))
        for f in schema
    ])


def declared_descriptions(declared: Any) -> dict[str, str]:
    """Column -> description ('' where none) of an asset's definition-time ``dagster/column_schema``."""
    if isinstance(declared, dg.MetadataValue):
        declared = declared.value
    if not isinstance(declared, dg.TableSchema):
        return {}
    return {column.name: column.description or "" for column in declared.columns}


def table_metadata(location: TableLocation, *, engine: str, format: str, schema: pa.Schema, row_count: int,
                   rows_written: int | None = None, delta_version: int | None = None,
                   descriptions: Mapping[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "dagster/row_count": dg.MetadataValue.int(row_count),
        "dagster/column_schema": column_schema(schema, descriptions),
        "path": dg.MetadataValue.path(str(location.path)),
        "engine": engine,
        "format": format,
    }
    if rows_written is not None:
        metadata["rows_written"] = dg.MetadataValue.int(rows_written)
    if delta_version is not None:
        metadata["delta_version"] = dg.MetadataValue.int(delta_version)
    return metadata
