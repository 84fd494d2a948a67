"""Config rows to Dagster assets: one asset per bronze source, one per transformation output.

A transformation with several outputs is one subsettable ``multi_asset``. Every output carries
``odibi/*`` definition metadata telling the IO manager where and how to store its table.
"""

import functools
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import dagster as dg

from odibi_dagster.assets.naming import asset_key, identifier, op_name, owners, tag_value
from odibi_dagster.assets.presentation import (
    declared_column_schema,
    source_code_references,
    source_description,
    source_kinds,
    transformation_code_references,
    transformation_description,
)
from odibi_dagster.config.model import OutputSpec, Project, Source, Transformation
from odibi_dagster.engines.metadata import table_metadata
from odibi_dagster.engines.resource import OdibiEngine
from odibi_dagster.engines.storage import TableLocation, planned_format
from odibi_dagster.functions.calling import (
    ExecutionContext,
    TransformationError,
    call_transformation,
    tables_from_result,
)
from odibi_dagster.functions.registry import resolve_function
from odibi_dagster.logging.records import build_record, record_metadata

ENGINE_RESOURCE = "odibi_engine"
IO_MANAGER = "odibi_io_manager"


def retry_policy(project: Project) -> dg.RetryPolicy | None:
    retry = project.manifest.retry
    if retry.max_retries == 0:
        return None
    backoff = {"exponential": dg.Backoff.EXPONENTIAL, "linear": dg.Backoff.LINEAR}.get(retry.backoff)
    return dg.RetryPolicy(max_retries=retry.max_retries, delay=retry.delay, backoff=backoff)


def _project_tags(project: Project) -> dict[str, str]:
    tags = project.manifest.tags
    items = tags.items() if isinstance(tags, dict) else ((tag, "") for tag in tags)
    return {tag_value(key): tag_value(value) for key, value in items}


def _asset_out(project: Project, layer: str, output: OutputSpec, engine: str, tags: dict[str, str],
               description: str, extra_metadata: dict[str, Any], kinds: set[str] | None = None) -> dg.AssetOut:
    return dg.AssetOut(
        key=asset_key(project.slug, output.table),
        group_name=layer,
        description=description,
        io_manager_key=IO_MANAGER,
        is_required=False,
        kinds=kinds or {engine, _storage_format(engine, output)},
        tags=tags,
        owners=owners(project.manifest.owner),
        metadata={
            **_cache_metadata(project, output.table),
            "odibi/project": project.slug,
            "odibi/env": project.env,
            "odibi/layer": layer,
            "odibi/table": output.table,
            "odibi/mode": output.mode,
            "odibi/format": output.format or "",
            "odibi/merge_keys": json.dumps(output.merge_keys),
            "odibi/partition_by": json.dumps(output.partition_by),
            "odibi/schema_evolution": output.schema_evolution,
            **declared_column_schema(output),
            **extra_metadata,
        },
    )


def _storage_format(engine: str, output: OutputSpec) -> str:
    return planned_format(engine, output.mode, output.format, output.partition_by)


def _cache_metadata(project: Project, table: str) -> dict[str, str]:
    """``cache_plan``: the layer after which ``table`` is cached (Spark) or the cache is skipped (pandas)."""
    for layer, tables in project.manifest.cache_plan.items():
        if table in tables:
            return {"odibi/cache_layer": layer}
    return {}


def _location(project: Project, resource: OdibiEngine, table: str) -> TableLocation:
    return TableLocation(resource.root, project.env, project.slug, project.table_layers[table], table)


def build_source_asset(project: Project, source: Source, default_engine: str) -> dg.AssetsDefinition:
    layer = project.manifest.bronze_layer
    tags = {**_project_tags(project), "layer": tag_value(layer), "source_id": tag_value(source.source_id)}
    out_name = identifier(source.table)
    kinds = source_kinds(source, default_engine, _storage_format(default_engine, source.output))
    out = _asset_out(project, layer, source.output, default_engine, tags, source_description(source), {
        "odibi/source_id": source.source_id, "odibi/file_format": source.file_format,
        **source_code_references(source)}, kinds)

    @dg.multi_asset(
        name=op_name(project.slug, source.source_id, "source__"),
        outs={out_name: out},
        required_resource_keys={ENGINE_RESOURCE},
        retry_policy=retry_policy(project),
        op_tags={"odibi/layer": layer},
    )
    def _source(context: dg.AssetExecutionContext) -> Iterator[dg.Output]:
        resource: OdibiEngine = getattr(context.resources, ENGINE_RESOURCE)
        backend = resource.backend(resource.engine_name)
        # bronze sources are logged too, under their source_id
        record = functools.partial(
            build_record, transformation_id=source.source_id, project=project.name, env=project.env, layer=layer,
            engine=backend.name, labels=None, run_id=context.run.run_id, start_time=datetime.now(timezone.utc),
            attempt=context.retry_number + 1)
        try:
            frame = backend.read_source(source, project.root)
        except Exception as exc:
            failed = record(end_time=datetime.now(timezone.utc), status="FAILED", error_message=f"{type(exc).__name__}: {exc}")
            context.log_event(dg.AssetObservation(asset_key=out.key, metadata=record_metadata(failed)))
            raise
        done = record(end_time=datetime.now(timezone.utc), status="SUCCESS", rows_out=_rows(backend, [frame]))
        yield dg.Output(frame, output_name=out_name, metadata={"source_id": source.source_id,
                                                               **record_metadata(done)})

    return _source


def build_transformation_asset(project: Project, row: Transformation, default_engine: str) -> dg.AssetsDefinition:
    """One (multi-)asset running ``row``'s function with its inputs loaded by the IO manager."""
    engine = row.engine_override or default_engine
    labels = row.entity_labels(project.manifest.entity_labels)
    tags = {
        **_project_tags(project),
        "layer": tag_value(row.layer),
        "transformation_id": tag_value(row.transformation_id),
        **{tag_value(label): tag_value(value) for label, value in labels.items()},
    }
    extra = {"odibi/transformation_id": row.transformation_id, "odibi/module": row.module,
             "odibi/function": row.function, "odibi/io": row.io, **transformation_code_references(row)}
    out_names = {output.table: identifier(output.table) for output in row.outputs}
    outs = {
        out_names[output.table]: _asset_out(project, row.layer, output, engine, tags,
                                            transformation_description(row, output, labels), extra)
        for output in row.outputs
    }
    arg_names = {table: f"in_{index}_{identifier(table)}"[:60] for index, table in enumerate(row.input_tables)}
    ins = {
        arg: dg.AssetIn(key=asset_key(project.slug, table), metadata={"odibi/engine": row.engine_override or ""})
        for table, arg in arg_names.items()
    }

    @dg.multi_asset(
        name=op_name(project.slug, row.transformation_id),
        outs=outs,
        ins=ins,
        can_subset=len(outs) > 1,
        required_resource_keys={ENGINE_RESOURCE},
        retry_policy=retry_policy(project),
        op_tags={"odibi/layer": row.layer},
    )
    def _transformation(context: dg.AssetExecutionContext, **loaded: Any) -> Iterator[Any]:
        resource: OdibiEngine = getattr(context.resources, ENGINE_RESOURCE)
        run_engine = resource.engine_for(row.engine_override)
        backend = resource.backend(run_engine)
        inputs: dict[str, Any] = {}
        for item in row.inputs:
            if isinstance(item, str) or item.type == "table":
                table = item if isinstance(item, str) else item.table
                inputs[table] = loaded[arg_names[table]]
            else:
                inputs[item.key] = backend.read_query(item, project.root,
                                                      f"transformation '{row.transformation_id}' input '{item.key}'")
        fn = resolve_function(row.module, row.function, run_engine)
        execution_context = ExecutionContext(
            engine=run_engine, project=project.name, env=project.env, layer=row.layer,
            transformation_id=row.transformation_id, spark=backend.spark, logger=context.log,
            extras={**labels, "layer": row.layer},
            table_path=lambda table: str(_location(project, resource, table).path),
        )
        available = {
            "inputs": inputs, "constants": dict(row.constants),
            "outputs": [output.model_dump() for output in row.outputs], "spark": backend.spark, "env": project.env,
            "engine": run_engine, "context": execution_context,
        }
        selected = context.selected_asset_keys
        record = functools.partial(
            build_record, transformation_id=row.transformation_id, project=project.name, env=project.env,
            layer=row.layer, engine=run_engine, labels=labels, run_id=context.run.run_id, start_time=datetime.now(timezone.utc),
            rows_in=_rows(backend, inputs.values()), attempt=context.retry_number + 1)
        try:
            result = call_transformation(fn, row.transformation_id, available)
            tables = None if row.io == "self_managed" else tables_from_result(
                result, row.output_tables, row.transformation_id, backend.is_frame)
        except Exception as exc:
            error = exc if isinstance(exc, TransformationError) else TransformationError(
                f"transformation '{row.transformation_id}' failed: {type(exc).__name__}: {exc}")
            failed = record(end_time=datetime.now(timezone.utc), status="FAILED", error_message=str(error))
            for key in selected:  # the failed run's record is kept, as an observation of each output
                context.log_event(dg.AssetObservation(asset_key=key, metadata=record_metadata(failed)))
            if error is exc:
                raise
            raise error from exc

        if tables is None:
            yield from _observe_self_managed(project, row, resource, selected, record)
            return
        done = record_metadata(record(end_time=datetime.now(timezone.utc), status="SUCCESS",
                                      rows_out=_rows(backend, tables.values())))
        for table, frame in tables.items():
            if asset_key(project.slug, table) in selected:
                yield dg.Output(frame, output_name=out_names[table], metadata=done)

    return _transformation


def _rows(backend: Any, frames: Any) -> int | None:
    """Rows of pandas frames (free); None on Spark, where counting would be a pass over the data."""
    frames = list(frames)
    if backend.name != "pandas" or not all(backend.is_frame(frame) for frame in frames):
        return None
    return sum(len(frame) for frame in frames)


def _observe_self_managed(project: Project, row: Transformation, resource: OdibiEngine,
                          selected: set[dg.AssetKey], record: Any) -> Iterator[dg.MaterializeResult]:
    """A self-managed function wrote its tables itself: report what can be seen of them."""
    from odibi_dagster.engines.pandas_tables import describe_stored  # pandas: only when a step runs

    done = record(end_time=datetime.now(timezone.utc), status="SUCCESS")
    for output in row.outputs:
        key = asset_key(project.slug, output.table)
        if key not in selected:
            continue
        location = _location(project, resource, output.table)
        stored = describe_stored(location)
        metadata: dict[str, Any] = {"odibi/io": "self_managed", **record_metadata(done)}
        if stored is not None:
            metadata.update(table_metadata(location, engine=resource.engine_for(row.engine_override),
                                           format=stored.format, schema=stored.schema, row_count=stored.row_count,
                                           delta_version=stored.delta_version))
        yield dg.MaterializeResult(asset_key=key, metadata=metadata)


def build_assets(project: Project, default_engine: str) -> list[dg.AssetsDefinition]:
    return [build_source_asset(project, source, default_engine) for source in project.sources] + [
        build_transformation_asset(project, row, default_engine) for row in project.transformations
    ]
