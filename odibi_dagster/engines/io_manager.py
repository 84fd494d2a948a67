"""The IO manager: stores each asset's table under the storage root with the engine that made it,
and loads inputs for the engine of the consuming transformation (either engine reads either's).

What to write (table, layer, mode, merge keys, format) comes from the ``odibi/*`` definition
metadata that the asset factory puts on every output; where is ``storage.TableLocation``.
"""

import json
from collections.abc import Mapping
from typing import Any

import dagster as dg

from odibi_dagster.engines.base import WriteSpec
from odibi_dagster.engines.metadata import declared_descriptions, table_metadata
from odibi_dagster.engines.resource import OdibiEngine
from odibi_dagster.engines.storage import TableLocation

CACHE_WARNING = "Caching not supported for pandas engine. Skipping cache for {layer}"


def plain(value: Any) -> Any:
    """Definition metadata may come back wrapped in a MetadataValue."""
    return value.value if isinstance(value, dg.MetadataValue) else value


def write_spec(metadata: Mapping[str, Any]) -> WriteSpec:
    """How to write a table, from its asset's definition metadata."""
    get = lambda key, default=None: plain(metadata.get(key, default))
    return WriteSpec(
        mode=get("odibi/mode", "overwrite"),
        format=get("odibi/format") or None,
        merge_keys=tuple(json.loads(get("odibi/merge_keys", "[]"))),
        partition_by=tuple(json.loads(get("odibi/partition_by", "[]"))),
        schema_evolution=bool(get("odibi/schema_evolution", False)),
    )


class OdibiIOManager(dg.ConfigurableIOManager):
    """Writes pandas frames as parquet (or Delta) and Spark frames as Delta; reads for either engine."""

    odibi_engine: dg.ResourceDependency[OdibiEngine]

    def location(self, metadata: Mapping[str, Any]) -> TableLocation:
        return TableLocation.from_metadata({k: plain(v) for k, v in metadata.items()}, self.odibi_engine.root)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        metadata = context.definition_metadata or {}
        location = self.location(metadata)
        backend = self.odibi_engine.backend_for_frame(obj)
        result = backend.write_table(location, obj, write_spec(metadata))
        descriptions = declared_descriptions(plain(metadata.get("dagster/column_schema")))
        missing = sorted(set(descriptions) - set(result.schema.names))
        if missing:
            context.log.warning(f"table '{location.table}' has no column(s) {missing} that its config documents")
        context.add_output_metadata({**table_metadata(
            location, engine=backend.name, format=result.format, schema=result.schema, row_count=result.row_count,
            rows_written=result.rows_written, delta_version=result.delta_version, descriptions=descriptions),
            **result.extra})

    def load_input(self, context: dg.InputContext) -> Any:
        upstream = context.upstream_output.definition_metadata or {}
        location = self.location(upstream)
        engine = self.odibi_engine.engine_for(plain((context.definition_metadata or {}).get("odibi/engine")))
        backend = self.odibi_engine.backend(engine)
        cache_layer = plain(upstream.get("odibi/cache_layer"))
        if cache_layer:
            if engine == "spark":
                return backend.read_cached(location, context.step_context.run_id)  # type: ignore[attr-defined]
            context.log.warning(CACHE_WARNING.format(layer=cache_layer))
        return backend.read_table(location)
