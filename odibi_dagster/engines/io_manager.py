"""The IO manager: stores each asset's table under the storage root with the engine of the run.

What to write (table, layer, mode, merge keys, format) comes from the ``odibi/*`` definition
metadata that the asset factory puts on every output; where is ``storage.TableLocation``.
"""

import json
from collections.abc import Mapping
from typing import Any

import dagster as dg
import pandas as pd

from odibi_dagster.engines.metadata import table_metadata
from odibi_dagster.engines.pandas_tables import read_frame, write_frame
from odibi_dagster.engines.resource import OdibiEngine
from odibi_dagster.engines.storage import TableLocation


def plain(value: Any) -> Any:
    """Definition metadata may come back wrapped in a MetadataValue."""
    return value.value if isinstance(value, dg.MetadataValue) else value


def output_spec(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """How to write a table, from its asset's definition metadata."""
    get = lambda key, default=None: plain(metadata.get(key, default))
    return {
        "mode": get("odibi/mode", "overwrite"),
        "format": get("odibi/format") or None,
        "merge_keys": json.loads(get("odibi/merge_keys", "[]")),
        "partition_by": json.loads(get("odibi/partition_by", "[]")),
        "schema_evolution": bool(get("odibi/schema_evolution", False)),
    }


class OdibiIOManager(dg.ConfigurableIOManager):
    """Writes pandas frames as parquet (or Delta) files; reads any stored table for the running engine."""

    odibi_engine: dg.ResourceDependency[OdibiEngine]

    def location(self, metadata: Mapping[str, Any]) -> TableLocation:
        return TableLocation.from_metadata({k: plain(v) for k, v in metadata.items()}, self.odibi_engine.root)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        metadata = context.definition_metadata or {}
        location = self.location(metadata)
        spec = output_spec(metadata)
        if not isinstance(obj, pd.DataFrame):
            raise TypeError(f"table '{location.table}': expected a pandas DataFrame, got {type(obj).__name__}")
        result = write_frame(location, obj, **spec)
        context.add_output_metadata(table_metadata(
            location, engine="pandas", format=result.format, schema=result.schema, row_count=result.row_count,
            rows_written=result.rows_written, delta_version=result.delta_version))

    def load_input(self, context: dg.InputContext) -> Any:
        location = self.location(context.upstream_output.definition_metadata or {})
        engine = self.odibi_engine.engine_for(plain((context.definition_metadata or {}).get("odibi/engine")))
        self.odibi_engine.require(engine)
        return read_frame(location)
