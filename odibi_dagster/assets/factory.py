"""Asset specs plus execution: one asset per bronze source, one per transformation output.

The specs come from ``specs.OdibiTranslator``; this module wraps them in ``multi_asset``s with
the step that runs: read a source, or load inputs, call the function and hand its tables to the
IO manager. A transformation with several outputs is one subsettable ``multi_asset``; its checks
(``quality.py``) are asset checks of the same step. Every step makes its log record
(``logging.step_log``) and writes it to the project's sinks itself.
"""

import inspect
from collections.abc import Callable, Iterator
from types import CodeType
from typing import Any

import dagster as dg

from odibi_dagster.assets.naming import identifier, op_name
from odibi_dagster.assets.quality import CheckedTable, check_stored, write_checked
from odibi_dagster.assets.source_rows import previous_mark, read_source_rows
from odibi_dagster.assets.specs import OdibiTranslator
from odibi_dagster.assets.stopping import stop_if_requested
from odibi_dagster.config.connections import redacted_error
from odibi_dagster.config.model import Project, Source, Transformation
from odibi_dagster.config.settings import resolve_engine
from odibi_dagster.engines.base import Backend
from odibi_dagster.engines.metadata import table_metadata
from odibi_dagster.engines.resource import OdibiEngine
from odibi_dagster.engines.spark_errors import SparkJobError, spark_error_summary
from odibi_dagster.engines.storage import (
    ENGINE_TAG,
    FULL_LOAD,
    INCREMENTAL_LOCK,
    LOAD,
    PARTITIONED_TAG,
    TableLocation,
    claim_project_folder,
)
from odibi_dagster.functions.calling import (
    ExecutionContext,
    TransformationError,
    call_transformation,
    tables_from_result,
)
from odibi_dagster.functions.registry import resolve_function
from odibi_dagster.logging.step_log import StepLog
from odibi_dagster.partitions.marks import HighWaterMark
from odibi_dagster.partitions.window import PartitionError, PartitionWindow, step_window


def retry_policy(project: Project) -> dg.RetryPolicy | None:
    retry = project.manifest.retry
    if retry.max_retries == 0:
        return None
    backoff = {"exponential": dg.Backoff.EXPONENTIAL, "linear": dg.Backoff.LINEAR}.get(retry.backoff)
    return dg.RetryPolicy(max_retries=retry.max_retries, delay=retry.delay, backoff=backoff)


def backfill_policy(project: Project) -> dg.BackfillPolicy | None:
    """A range of partitions runs as one run per asset, replacing the range in one write. Every asset
    of a partitioned project has the policy: a CLI ``--partition-range`` run needs it on all selected
    assets, unpartitioned ones included (which run once)."""
    return dg.BackfillPolicy.single_run() if project.manifest.partitions is not None else None


def _location(project: Project, resource: OdibiEngine, table: str) -> TableLocation:
    return TableLocation(resource.root, project.env, project.slug, project.table_layers[table], table)


def _priority(project: Project, row: Transformation) -> int:
    return -(project.manifest.layer_order.index(row.layer) * 1_000_000 + row.step)


def _step_log(context: dg.AssetExecutionContext, project: Project, resource: OdibiEngine, backend: Backend,
              **fields: Any) -> StepLog:
    """The step's log record, once the step may write to the project's storage folder."""
    claim_project_folder(resource.root, project.env, project.slug, project.name)
    return StepLog(context, sinks=project.manifest.log_sinks, storage_root=resource.root, spark=backend.spark,
                   project=project.name, env=project.env, engine=backend.name, **fields)


def _output_name(key: dg.AssetKey) -> str:
    return key.to_python_identifier()  # the output name Dagster gives a spec's key


def _guarded(context: dg.AssetExecutionContext, step: Iterator[Any]) -> Iterator[Any]:
    """Run a step's body unless its run was asked to stop; an error whose chain holds a secret read
    from ``${NAME}`` leaves the step redacted and without its chain (Dagster stores errors in the
    event log and compute logs); a JVM error leaves it as Spark's messages without the stack trace."""
    stop_if_requested(context)
    try:
        yield from step
    except Exception as exc:
        if (summary := spark_error_summary(exc)) is not None:  # not the 10-30 KB Java stack trace, nor as cause
            raise SparkJobError(summary) from None
        clean = redacted_error(exc)
        if clean is exc:
            raise
        raise clean from None


_SIGNATURES: dict[CodeType, inspect.Signature] = {}


def _shared_signature(step: Callable[..., Any]) -> Callable[..., Any]:
    """Give a step function the signature that every closure of its code shares. Dagster reads a
    step function's signature and type hints several times while building its asset, and honours
    an explicit ``__signature__``: computed once per code object, not once per asset per read."""
    signature = _SIGNATURES.get(step.__code__)
    if signature is None:
        signature = _SIGNATURES[step.__code__] = inspect.signature(step)
    step.__signature__ = signature  # type: ignore[attr-defined]  (read by inspect.signature)
    return step


def build_source_asset(project: Project, source: Source, default_engine: str,
                       translator: OdibiTranslator) -> dg.AssetsDefinition:
    output = source.output
    spec = translator.get_asset_spec(project, source, output, default_engine)
    quarantine = translator.get_quarantine_spec(project, source, output, default_engine)
    tables = {source.table: CheckedTable(output, spec, quarantine)}
    check_specs = translator.get_check_specs(project, output)

    partitioned = spec.partitions_def is not None

    @dg.multi_asset(
        name=op_name(project.slug, source.source_id, "source__"),
        specs=[spec, *([quarantine] if quarantine else [])],
        check_specs=check_specs,
        can_subset=bool(quarantine or check_specs),  # checks may run alone on the stored table
        required_resource_keys={translator.resource_keys.engine},
        retry_policy=retry_policy(project),
        op_tags={"odibi/layer": project.manifest.bronze_layer, **_partition_tags(partitioned)},
        backfill_policy=backfill_policy(project),
    )
    @_shared_signature
    def _source(context: dg.AssetExecutionContext) -> Iterator[Any]:
        yield from _guarded(context, _read_source(context))

    def _read_source(context: dg.AssetExecutionContext) -> Iterator[Any]:
        resource: OdibiEngine = getattr(context.resources, translator.resource_keys.engine)
        backend = resource.backend(resource.engine_name)
        if spec.key not in context.selected_asset_keys:
            yield from _checks_or_nothing(context, project, resource, backend, tables)
            return
        window = step_window(context)
        # bronze sources are logged too, under their source_id
        log = _step_log(context, project, resource, backend, transformation_id=source.source_id,
                        layer=project.manifest.bronze_layer, labels=None, partition_key=window and window.key)
        location = _location(project, resource, source.table)
        if source.incremental is None:
            yield from _read_and_write(context, resource, backend, log, window, location, None)
            return
        # one run at a time goes from this table's mark to its next (two would append the same rows);
        # the lock spans the table's write by the IO manager, and is released once the step's record
        # is delivered: Dagster leaves this generator suspended when that write fails
        release = location.hold(INCREMENTAL_LOCK)
        log.when_done(release)
        try:
            previous = None if resource.full_refresh else previous_mark(
                context.instance, spec.key, location, source.incremental.column)
            yield from _read_and_write(context, resource, backend, log, window, location, previous)
        finally:
            release()

    def _read_and_write(context: dg.AssetExecutionContext, resource: OdibiEngine, backend: Backend, log: StepLog,
                        window: PartitionWindow | None, location: TableLocation,
                        previous: HighWaterMark | None) -> Iterator[Any]:
        try:
            read = read_source_rows(backend, source, project.root, window, previous)
        except Exception as exc:
            log.fail(f"{type(exc).__name__}: {exc}", [spec.key])
            if isinstance(exc, PartitionError):  # the data, not the moment: a retry would fail the same way
                raise dg.Failure(description=str(exc), allow_retries=False) from None
            raise
        log.set(rows_in=backend.count_rows([read.frame]))
        extra: dict[str, Any] = {}
        if source.incremental is not None:
            table_path = str(location.path)
            if previous is not None and backend.is_empty(read.frame):
                yield from _nothing_new(context, log, spec, previous, table_path)
                return
            extra = {LOAD: FULL_LOAD if previous is None else "incremental",
                     **(read.mark.metadata(table_path) if read.mark else {}),
                     **({"odibi/rows_superseded": read.superseded} if read.superseded else {})}
            if read.superseded:
                context.log.info(f"{read.superseded} older version(s) of keys changed more than once since the "
                                 f"last run left out: the newest version of each key is merged")
        yield from write_checked(context, resource, backend, log, {source.table: read.frame}, tables,
                                 where=lambda table: f"source '{source.source_id}' table '{table}'",
                                 output_name=_output_name, output_metadata={source.table: extra})

    return _source


def _partition_tags(partitioned: bool) -> dict[str, str]:
    return {PARTITIONED_TAG: "true"} if partitioned else {}


def _nothing_new(context: dg.AssetExecutionContext, log: StepLog, spec: dg.AssetSpec,
                 mark: HighWaterMark, table_path: str) -> Iterator[Any]:
    """An incremental source with no row past its mark: nothing is written, and the
    materialization says so (and carries the mark on)."""
    context.add_asset_metadata(log.finish("SUCCESS", rows_out=0), asset_key=spec.key)  # not on STEP_OUTPUT
    context.log.info(f"no rows past the high-water mark {mark}: nothing written")
    yield dg.MaterializeResult(asset_key=spec.key, metadata={
        **mark.metadata(table_path), LOAD: "nothing new", "odibi/rows_written": 0})
    log.deliver()


def _checks_or_nothing(context: dg.AssetExecutionContext, project: Project, resource: OdibiEngine,
                       backend: Backend, tables: dict[str, CheckedTable]) -> Iterator[Any]:
    """None of the step's tables selected: its checks alone run on the stored tables, or (a
    quarantine table selected alone, which is written only with its table) nothing runs."""
    if context.selected_asset_check_keys:
        yield from check_stored(context, resource, backend, tables,
                                location=lambda table: _location(project, resource, table))
    else:
        context.log.warning(f"nothing to do: {sorted(k.to_user_string() for k in context.selected_asset_keys)} "
                            f"is written only together with its table; select that table")


def build_transformation_asset(project: Project, row: Transformation, default_engine: str,
                               translator: OdibiTranslator) -> dg.AssetsDefinition:
    """One (multi-)asset running ``row``'s function with its inputs loaded by the IO manager."""
    engine = resolve_engine(row=row.engine_override, run=default_engine)
    labels = row.entity_labels(project.manifest.entity_labels)
    specs = {output.table: translator.get_asset_spec(project, row, output, engine) for output in row.outputs}
    tables = {output.table: CheckedTable(output, specs[output.table],
                                         translator.get_quarantine_spec(project, row, output, engine))
              for output in row.outputs}
    quarantines = [table.quarantine for table in tables.values() if table.quarantine]
    check_specs = [check for output in row.outputs for check in translator.get_check_specs(project, output)]
    partitioned = row.partitioned and project.manifest.partitions is not None
    arg_names = {table: f"in_{index}_{identifier(table)}"[:60] for index, table in enumerate(row.input_tables)}
    ins = {arg: dg.AssetIn(key=translator.get_asset_key(project, table)) for table, arg in arg_names.items()}

    @dg.multi_asset(
        name=op_name(project.slug, row.transformation_id),
        specs=[*specs.values(), *quarantines],
        check_specs=check_specs,
        ins=ins,
        can_subset=len(specs) + len(quarantines) > 1 or bool(check_specs),
        required_resource_keys={translator.resource_keys.engine},
        retry_policy=retry_policy(project),
        op_tags={"odibi/layer": row.layer, **({ENGINE_TAG: row.engine_override} if row.engine_override else {}),
                 # among ready steps, earlier layers first and, within a layer, the lower `step` first
                 # (Dagster runs the higher priority first)
                 "dagster/priority": str(_priority(project, row)), **_partition_tags(partitioned)},
        backfill_policy=backfill_policy(project),
    )
    @_shared_signature
    def _transformation(context: dg.AssetExecutionContext, **loaded: Any) -> Iterator[Any]:
        yield from _guarded(context, _run(context, loaded))

    def _run(context: dg.AssetExecutionContext, loaded: dict[str, Any]) -> Iterator[Any]:
        resource: OdibiEngine = getattr(context.resources, translator.resource_keys.engine)
        run_engine = resource.engine_for(row.engine_override)
        backend = resource.backend(run_engine)
        selected = context.selected_asset_keys
        if not selected & {spec.key for spec in specs.values()}:
            yield from _checks_or_nothing(context, project, resource, backend, tables)
            return
        window = step_window(context) if partitioned else None
        log = _step_log(context, project, resource, backend, transformation_id=row.transformation_id,
                        layer=row.layer, labels=labels, partition_key=window and window.key)
        inputs: dict[str, Any] = {}
        try:
            for item in row.inputs:
                if isinstance(item, str) or item.type == "table":
                    table = item if isinstance(item, str) else item.table
                    inputs[table] = loaded[arg_names[table]]
                else:
                    inputs[item.key] = backend.read_query(
                        item, project.root, f"transformation '{row.transformation_id}' input '{item.key}'")
        except Exception as exc:
            log.fail(f"{type(exc).__name__}: {exc}", selected)
            raise
        log.set(rows_in=backend.count_rows(inputs.values()))
        fn = resolve_function(row.module, row.function, run_engine, project.root)
        execution_context = ExecutionContext(
            engine=run_engine, project=project.name, env=project.env, layer=row.layer,
            transformation_id=row.transformation_id, spark=backend.spark, logger=context.log,
            extras={**labels, "layer": row.layer},
            table_path=lambda table: str(_location(project, resource, table).path), partition=window,
        )
        available = {
            "inputs": inputs, "constants": dict(row.constants),
            "outputs": [output.model_dump() for output in row.outputs], "spark": backend.spark, "env": project.env,
            "engine": run_engine, "context": execution_context, "partition": window,
        }
        try:
            result = call_transformation(fn, row.transformation_id, available)
            returned = None if row.io == "self_managed" else tables_from_result(
                result, row.output_tables, row.transformation_id, backend.is_frame)
        except Exception as exc:
            error = exc if isinstance(exc, TransformationError) else TransformationError(
                f"transformation '{row.transformation_id}' failed: {type(exc).__name__}: {exc}")
            log.fail(str(error), selected)  # the failed attempt's record is kept, as an observation of each output
            if error is exc:
                raise
            raise error from exc

        if returned is None:
            yield from _observe_self_managed(project, row, resource, specs, selected, log)
            return
        written = {table: frame for table, frame in returned.items() if specs[table].key in selected}
        if window is not None:
            try:
                for table, frame in written.items():
                    backend.rows.require_window(frame, tables[table].output.partition_column, window,
                                                f"transformation '{row.transformation_id}' output '{table}' "
                                                f"({window.describe()})")
            except PartitionError as exc:
                log.fail(str(exc), selected)
                raise dg.Failure(description=str(exc), allow_retries=False) from None
        yield from write_checked(context, resource, backend, log, written, tables,
                                 where=lambda table: f"transformation '{row.transformation_id}' output '{table}'",
                                 output_name=_output_name)

    return _transformation


def _observe_self_managed(project: Project, row: Transformation, resource: OdibiEngine, specs: dict[str, Any],
                          selected: set[dg.AssetKey], log: StepLog) -> Iterator[dg.MaterializeResult]:
    """A self-managed function wrote its tables itself: report what can be seen of them."""
    from odibi_dagster.engines.arrow_tables import describe_stored  # pyarrow only when a step runs

    done = log.finish("SUCCESS")
    for output in row.outputs:
        key = specs[output.table].key
        if key not in selected:
            continue
        location = _location(project, resource, output.table)
        stored = describe_stored(location)
        metadata: dict[str, Any] = {"odibi/io": "self_managed", **done}
        if stored is not None:
            metadata.update(table_metadata(location, engine=resource.engine_for(row.engine_override),
                                           format=stored.format, schema=stored.schema, row_count=stored.row_count,
                                           delta_version=stored.delta_version))
        yield dg.MaterializeResult(asset_key=key, metadata=metadata)
    log.deliver()


def build_assets(project: Project, default_engine: str,
                 translator: OdibiTranslator | None = None) -> list[dg.AssetsDefinition]:
    translator = translator or OdibiTranslator()
    return [build_source_asset(project, source, default_engine, translator) for source in project.sources] + [
        build_transformation_asset(project, row, default_engine, translator) for row in project.transformations
    ]
