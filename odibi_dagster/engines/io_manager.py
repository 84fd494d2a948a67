"""The IO manager: stores each asset's table under the storage root with the engine that made it,
and loads inputs for the engine of the consuming transformation (either engine reads either's).

What to write (table, layer, mode, merge keys, format) comes from the asset's ``TableMetadata``
(``storage.py``), put there by the asset specs; where is ``storage.TableLocation``.
"""

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

import dagster as dg

from odibi_dagster.engines.metadata import declared_descriptions, table_metadata
from odibi_dagster.engines.resource import OdibiEngine
from odibi_dagster.engines.storage import ENGINE_TAG, FULL_LOAD, LOAD, PARTITIONED_TAG, TableMetadata
from odibi_dagster.logging.step_log import StepLog
from odibi_dagster.partitions.window import PartitionWindow, window_of


class OdibiIOManager(dg.ConfigurableIOManager):
    """Writes pandas frames as parquet (or Delta) and Spark frames as Delta; reads for either engine."""

    odibi_engine: dg.ResourceDependency[OdibiEngine]

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        window = window_of(context.asset_partitions_def, context.asset_partition_key_range) \
            if context.has_asset_partitions else None
        load = context.output_metadata.get(LOAD)  # the step's Output metadata, as MetadataValues
        table = TableMetadata.of_asset(context.definition_metadata or {})
        log = StepLog.of_step(context.run_id, context.step_key)
        try:
            metadata = store_table(self.odibi_engine, context.definition_metadata or {}, obj, context.log.warning,
                                   window=window, full_load=getattr(load, "value", load) == FULL_LOAD,
                                   started_at=_run_start(context) if table.mode == "scd2" else None)
        except Exception as exc:
            # the table keeps its previous version; the attempt's log record says why it failed
            if log is not None:
                log.fail(f"writing table '{table.table}' failed: {type(exc).__name__}: {exc}",
                         log_event=context.log_event)
            from odibi_dagster.engines.arrow_tables import TableWriteError  # pyarrow only when a step runs

            if isinstance(exc, TableWriteError):  # a refusal (schema, lossy cast, null keys) would only repeat
                raise dg.Failure(description=f"TableWriteError: {exc}", allow_retries=False) from exc
            raise
        if log is not None:  # the step's record carries what only the write knows (rows on Spark, versions)
            metadata.update(log.table_written(table.table, metadata))
        _add_materialization_metadata(context, metadata)
        if window is not None and table.partition_column and context.has_asset_key:
            _add_partition_rows(context, self.odibi_engine, table, window, metadata.get("rows_written"))

    def load_input(self, context: dg.InputContext) -> Any:
        upstream = TableMetadata.of_asset(context.upstream_output.definition_metadata or {})
        location = upstream.location(self.odibi_engine.root)
        backend = self.odibi_engine.backend(self.odibi_engine.engine_for(context.op_def.tags.get(ENGINE_TAG)))
        if upstream.partition_column and context.op_def.tags.get(PARTITIONED_TAG) and context.has_asset_partitions:
            # a partitioned step reads the same partitions of its partitioned inputs; others read them whole
            window = window_of(context.asset_partitions_def, context.asset_partition_key_range)
            return backend.read_table(location, rows=(upstream.partition_column, window))
        if upstream.cache_layer:
            return backend.read_cached(location, context.step_context.run_id, upstream.cache_layer, context.log.warning)
        return backend.read_table(location)


def _add_materialization_metadata(context: dg.OutputContext, metadata: Mapping[str, Any]) -> None:
    """Put what the write learnt on the asset's materialization. Added as the asset's metadata (where
    the step puts its log record, which this may update), not as output metadata, which Dagster
    would also copy into the HANDLED_OUTPUT event: every event is serialized and stored."""
    if context.has_asset_key:
        try:
            context.step_context.add_asset_metadata(metadata, asset_key=context.asset_key)
            return
        except dg.DagsterInvariantViolationError:  # a context built outside a run (no step)
            pass
    context.add_output_metadata(metadata)


def _add_partition_rows(context: dg.OutputContext, resource: OdibiEngine, table: TableMetadata,
                        window: PartitionWindow, rows_written: Any) -> None:
    """Each partition's own rows after a partitioned write, on its materialization: a range's
    ``rows_written`` would otherwise be the whole range's on every partition."""
    try:
        if len(window.keys) == 1:  # a partitioned output replaces its partition: what was written is all it holds
            rows = getattr(rows_written, "value", rows_written)
            per_partition = {window.key: rows} if rows is not None else {}
        else:
            from odibi_dagster.engines.arrow_tables import rows_per_partition  # pyarrow only when a step runs

            assert table.partition_column is not None
            per_partition = rows_per_partition(table.location(resource.root), table.partition_column, window)
    except Exception as exc:  # noqa: BLE001 - the table is written; only the per-partition counts are missing
        context.log.warning(f"table '{table.table}': rows per partition not counted ({type(exc).__name__}: {exc}); "
                            f"each partition's materialization shows the rows of {window.describe()}")
        return
    for key, rows in per_partition.items():
        count = dg.MetadataValue.int(rows)
        context.step_context.add_asset_metadata({"dagster/partition_row_count": count, "rows_written": count},
                                                asset_key=context.asset_key, partition_key=key)


def _run_start(context: dg.OutputContext) -> datetime | None:
    """When the run started (an scd2 table's default valid_from); None where the instance cannot say."""
    record = context.step_context.instance.get_run_record_by_id(context.run_id)
    started = record.start_time if record is not None else None
    return datetime.fromtimestamp(started, timezone.utc) if started else None


def store_table(resource: OdibiEngine, definition_metadata: Mapping[str, Any], obj: Any,
                warn: Callable[[str], None], *, window: PartitionWindow | None = None,
                full_load: bool = False, started_at: datetime | None = None) -> dict[str, Any]:
    """Write ``obj`` where and how an asset's ``TableMetadata`` says; returns its materialization metadata.

    ``window``: a partitioned table's partitions, whose rows are replaced; ``full_load``: an
    incremental source's first (or full-refresh) load, which replaces the table."""
    table = TableMetadata.of_asset(definition_metadata)
    location = table.location(resource.root)
    backend = resource.backend_for_frame(obj)
    spec = table.write_spec(window, started_at)
    if full_load:
        spec = replace(spec, mode="overwrite")
    if spec.mode != "overwrite" and location.stored_format() is None:
        for other in location.elsewhere():
            warn(f"table '{location.table}' ({spec.mode}) starts anew under layer '{location.layer}', but data of "
                 f"this table is stored under layer '{other.layer}' ({other.path}): it is no longer read (was the "
                 f"layer renamed? move that folder to keep its rows)")
    result = backend.write_table(location, obj, spec)
    descriptions = declared_descriptions(definition_metadata.get("dagster/column_schema"))
    missing = sorted(set(descriptions) - set(result.schema.names))
    if missing:
        warn(f"table '{location.table}' has no column(s) {missing} that its config documents")
    return {**table_metadata(location, engine=backend.name, format=result.format, schema=result.schema,
                             row_count=result.row_count, rows_written=result.rows_written,
                             delta_version=result.delta_version, descriptions=descriptions), **result.extra}
