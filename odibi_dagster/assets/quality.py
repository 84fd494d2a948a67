"""The data-quality part of a step: each output's checks evaluated before anything is written,
reported as Dagster asset check results, failing rows dropped or quarantined.

A failed ``fail`` check or quality gate fails the step before any write (no retry: the data
would fail again); quarantined rows are written before their table, so a failing write never
loses them. The rules of each check live in ``odibi_dagster.quality``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import dagster as dg

from odibi_dagster.config.model import OutputSpec
from odibi_dagster.engines.base import Backend
from odibi_dagster.engines.io_manager import store_table
from odibi_dagster.engines.resource import OdibiEngine
from odibi_dagster.engines.storage import TableMetadata
from odibi_dagster.logging.step_log import StepLog
from odibi_dagster.partitions.window import step_window
from odibi_dagster.quality.measure import CheckResult, Evaluated


@dataclass(frozen=True)
class CheckedTable:
    """One table a step writes, with what its checks need."""

    output: OutputSpec
    spec: dg.AssetSpec
    quarantine: dg.AssetSpec | None  # its quarantine table's spec, when a check quarantines rows


def check_result(key: dg.AssetKey, result: CheckResult) -> dg.AssetCheckResult:
    severity = dg.AssetCheckSeverity.ERROR if result.severity == "ERROR" else dg.AssetCheckSeverity.WARN
    metadata = result.metadata()
    if "sample" in metadata:  # shown as a table on the check's page
        metadata["sample"] = dg.MetadataValue.md(metadata["sample"])
    return dg.AssetCheckResult(asset_key=key, check_name=result.name, passed=result.passed, severity=severity,
                               metadata=metadata)


def _results(tables: Mapping[str, CheckedTable], evaluated: Mapping[str, Evaluated],
             selected: set[dg.AssetCheckKey]) -> Iterator[dg.AssetCheckResult]:
    for table, outcome in evaluated.items():
        key = tables[table].spec.key
        for result in outcome.results:
            if dg.AssetCheckKey(key, result.name) in selected:
                yield check_result(key, result)


def write_checked(context: dg.AssetExecutionContext, resource: OdibiEngine, backend: Backend, log: StepLog,
                  frames: Mapping[str, Any], tables: Mapping[str, CheckedTable], where: Callable[[str], str],
                  output_name: Callable[[dg.AssetKey], str],
                  output_metadata: Mapping[str, Mapping[str, Any]] | None = None) -> Iterator[Any]:
    """Evaluate the checks of ``frames`` (table -> frame the step returned), then yield the outputs
    to write (with ``output_metadata`` of their table) and the check results; deliver the step's
    log record at the end."""
    selected_checks = set(context.selected_asset_check_keys)
    now = datetime.now(timezone.utc)
    evaluated: dict[str, Evaluated] = {}
    try:
        try:
            for table, frame in frames.items():
                if tables[table].output.has_checks:
                    evaluated[table] = backend.evaluate_checks(frame, tables[table].output, where=where(table),
                                                               run_id=context.run.run_id, now=now)
        except Exception as exc:
            log.fail(f"{type(exc).__name__}: {exc}", [tables[t].spec.key for t in frames])
            raise
        log.set(**log_fields(evaluated))
        blocked = "; ".join(outcome.blocked for outcome in evaluated.values() if outcome.blocked)
        if blocked:
            yield from _results(tables, evaluated, selected_checks)
            log.fail(blocked, [tables[t].spec.key for t in frames])
            raise dg.Failure(description=blocked, allow_retries=False)
        written = {table: evaluated[table].frame if table in evaluated else frame for table, frame in frames.items()}
        rows_out = backend.count_rows(written.values())
        done = log.finish("SUCCESS", rows_out=rows_out)
        if rows_out is None:  # counted from each table as it is written
            log.count_when_written(written)
        for table, outcome in evaluated.items():  # quarantined rows first: a failing write loses none
            if outcome.quarantine is not None:
                try:
                    yield from _quarantine(context, resource, backend, tables[table], outcome, output_name,
                                           where(table))
                except Exception as exc:  # written here (not by the IO manager, which reports its own)
                    log.fail(f"writing the quarantine table of '{table}' failed: {type(exc).__name__}: {exc}",
                             [tables[t].spec.key for t in frames])
                    raise
        for table, frame in written.items():
            key = tables[table].spec.key
            # the record goes on the materialization only (as Output metadata it would also be
            # serialized into the step's STEP_OUTPUT event, which nothing reads)
            context.add_asset_metadata(done, asset_key=key)
            yield dg.Output(frame, output_name=output_name(key), metadata=(output_metadata or {}).get(table, {}))
        yield from _results(tables, evaluated, selected_checks)
        log.deliver()
    finally:
        for outcome in evaluated.values():
            outcome.release()


def _quarantine(context: dg.AssetExecutionContext, resource: OdibiEngine, backend: Backend, table: CheckedTable,
                outcome: Evaluated, output_name: Callable[[dg.AssetKey], str], where: str) -> Iterator[dg.Output]:
    """The quarantined rows: an output when the quarantine asset is selected; otherwise (the table
    alone was selected) written all the same and reported as its materialization, never lost."""
    spec = table.quarantine
    assert spec is not None, "a quarantine check without a quarantine table"
    metadata = {"odibi/rows_quarantined": outcome.rows_quarantined}
    if context.retry_number > 0:  # an earlier attempt of this run may have appended them before failing
        _forget_earlier_attempt(context, resource, spec)
    if spec.key in context.selected_asset_keys:
        _add_partition_rows(context, backend, table, outcome, where)
        yield dg.Output(outcome.quarantine, output_name=output_name(spec.key), metadata=metadata)
        return
    stored = store_table(resource, spec.metadata, outcome.quarantine, context.log.warning)
    context.log_event(dg.AssetMaterialization(asset_key=spec.key, metadata={**stored, **metadata}))


def _add_partition_rows(context: dg.AssetExecutionContext, backend: Backend, table: CheckedTable,
                        outcome: Evaluated, where: str) -> None:
    """A range's quarantined rows, counted per partition on each partition's materialization of the
    quarantine table (which is appended, not partitioned by a column of its own)."""
    column = table.output.partition_column
    window = step_window(context) if column else None
    if column is None or window is None or len(window.keys) < 2:
        return
    for key, rows in backend.rows.count_per_partition(outcome.quarantine, column, window, where).items():
        count = dg.MetadataValue.int(rows)
        context.add_asset_metadata({"rows_written": count, "odibi/rows_quarantined": count},
                                   asset_key=table.quarantine.key, partition_key=key)


def _forget_earlier_attempt(context: dg.AssetExecutionContext, resource: OdibiEngine, spec: dg.AssetSpec) -> None:
    """Remove this run's rows from the quarantine table, so a retry appends its rows once."""
    from odibi_dagster.engines.arrow_tables import delete_rows  # pyarrow only when a step runs

    location = TableMetadata.of_asset(spec.metadata).location(resource.root)
    try:
        removed = delete_rows(location, "_run_id", context.run.run_id)
    except Exception as exc:  # noqa: BLE001 - the new rows are still kept; say what may be doubled
        context.log.warning(f"quarantine table '{location.table}': rows of this run's earlier attempt could not be "
                            f"removed before the retry appends its own ({type(exc).__name__}: {exc}); rows with "
                            f"_run_id {context.run.run_id} may appear twice")
        return
    if removed:
        context.log.info(f"quarantine table '{location.table}': {removed} row(s) of this run's earlier attempt "
                         f"removed; this attempt appends its own")


def check_stored(context: dg.AssetExecutionContext, resource: OdibiEngine, backend: Backend,
                 tables: Mapping[str, CheckedTable], location: Callable[[str], Any]) -> Iterator[dg.AssetCheckResult]:
    """Only check keys selected ("Execute checks"): evaluate them on the stored tables, write nothing."""
    selected = set(context.selected_asset_check_keys)
    now = datetime.now(timezone.utc)
    for table, checked in tables.items():
        if not any(dg.AssetCheckKey(checked.spec.key, c.check_name) in selected for c in checked.output.checks):
            continue
        stored = location(table)
        if stored.stored_format() is None:
            raise dg.Failure(description=f"table '{table}' has not been written yet: materialize it before "
                                         f"executing its checks alone", allow_retries=False)
        output = checked.output.model_copy(update={"quality_gate": None})  # the gate guards writes only
        outcome = backend.evaluate_checks(backend.read_table(stored), output, where=f"stored table '{table}'",
                                          run_id=context.run.run_id, now=now)
        try:
            yield from _results({table: checked}, {table: outcome}, selected)
        finally:
            outcome.release()


def log_fields(evaluated: Mapping[str, Evaluated]) -> dict[str, Any]:
    """The log record's quality fields (None where the step has no checks)."""
    if not evaluated:
        return {}
    failed = [result.name for outcome in evaluated.values() for result in outcome.failed]
    return {"rows_dropped": sum(o.rows_dropped for o in evaluated.values()),
            "rows_quarantined": sum(o.rows_quarantined for o in evaluated.values()),
            "checks_failed": ",".join(failed)}
