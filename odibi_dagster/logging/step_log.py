"""The log record of one step attempt, made where the step runs and written from there.

A step's record goes into its events' metadata (the default sink) and to every sink the
manifest's ``log_sink`` names, for every kind of run (CLI, UI, schedule, ``run_project``), with no
daemon involved. One record per attempt; a failing sink is a WARNING in the run's log naming the
sink and the records it missed, and never fails or re-runs the step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

from odibi_dagster.config.connections import redact_secrets
from odibi_dagster.engines.spark_errors import without_stack_frames
from odibi_dagster.logging.records import SCD2_FIELDS, build_record, record_metadata
from odibi_dagster.logging.sinks import build_sink, deliver

if TYPE_CHECKING:
    from odibi_dagster.config.model import LogSinkConfig


# The open step logs of this process, by (run id, step key): the IO manager, which writes the
# step's tables in the step's own process, reports a failed write on the step's record.
_OPEN: dict[tuple[str, str], StepLog] = {}


class StepLog:
    """Records of one step attempt: ``finish`` makes one, ``fail`` and ``deliver`` send it out
    (each at most once)."""

    def __init__(self, context: dg.AssetExecutionContext, *, sinks: Sequence[LogSinkConfig], storage_root: Path,
                 spark: Any = None, **fields: Any):
        self._context = context
        self._sinks = sinks
        self._root = storage_root
        self._spark = spark
        self._fields = {"run_id": context.run.run_id, "attempt": context.retry_number + 1,
                        "start_time": datetime.now(timezone.utc), **fields}
        self.record: dict[str, Any] | None = None
        self._key = (context.run.run_id, context.op_execution_context.get_step_execution_context().step.key)
        self._delivered = False
        self._uncounted: set[str] = set()  # tables whose rows are counted only once written (Spark)
        self._written: list[str] = []  # tables this attempt has written (they stay should it fail)
        self._when_done: list[Callable[[], None]] = []
        _OPEN[self._key] = self

    @staticmethod
    def of_step(run_id: str, step_key: str) -> StepLog | None:
        """The open log of a step running in this process (None when it has none)."""
        return _OPEN.get((run_id, step_key))

    def set(self, **fields: Any) -> None:
        """Fields known after the start (``rows_in`` once the inputs are read)."""
        self._fields.update(fields)

    def finish(self, status: str, **fields: Any) -> dict[str, Any]:
        """Make the attempt's record; returns it as ``odibi/log/*`` metadata for the step's events."""
        if fields.get("error_message"):
            fields["error_message"] = redact_secrets(without_stack_frames(fields["error_message"]))
        self.record = build_record(**{**self._fields, **fields}, end_time=datetime.now(timezone.utc), status=status)
        return record_metadata(self.record)

    def count_when_written(self, tables: Iterable[str]) -> None:
        """``rows_out`` of these tables is added as each is written (where counting a frame is a pass
        over the data, the written table's count comes from its Delta log)."""
        self._uncounted.update(tables)

    def table_written(self, table: str, metadata: Mapping[str, Any]) -> dict[str, Any]:
        """What the IO manager learnt by writing ``table`` (its rows, an scd2 output's versions),
        added to the finished record; returns the changed ``odibi/log/*`` metadata."""
        def number(key: str) -> Any:
            value = metadata.get(key)
            return getattr(value, "value", value)  # a MetadataValue or the plain number

        self._written.append(table)
        counts = {name: number(f"odibi/{name}") for name in SCD2_FIELDS if f"odibi/{name}" in metadata}
        # the frame's rows: an scd2 write counts the versions it inserted, the others the rows written
        rows = counts["scd2_inserted"] + counts["scd2_unchanged"] if "scd2_inserted" in counts \
            else number("rows_written")
        if table in self._uncounted and rows is not None:
            self._uncounted.discard(table)
            counts["rows_out"] = rows
        return self.add_counts(**counts) if counts else {}

    def add_counts(self, **counts: int) -> dict[str, Any]:
        """Counts known only once a table is written (an scd2 output's versions), added up over the
        step's outputs into its finished record; returns them as ``odibi/log/*`` metadata."""
        if self.record is None:
            return {}
        for name, value in counts.items():
            self.record[name] = (self.record.get(name) or 0) + value
        return {key: value for key, value in record_metadata(self.record).items()
                if key.removeprefix("odibi/log/") in counts}

    def fail(self, error: str, asset_keys: Iterable[dg.AssetKey] | None = None, log_event: Any = None) -> None:
        """A failed attempt: its record is kept as an observation of each asset (default: each the
        step was selected to materialize, so a table written before the failure, whose
        materialization carries the record as it stood then, shows the failure too), then delivered.
        ``log_event``: where to log the observations (default: the step's context)."""
        if self._delivered:
            return
        if self._written:  # each table is written atomically: those written before the failure are kept
            error = f"{error} (written before the failure, and kept: {', '.join(self._written)})"
        metadata = self.finish("FAILED", error_message=error)
        for key in self._context.selected_asset_keys if asset_keys is None else asset_keys:
            (log_event or self._context.log_event)(dg.AssetObservation(asset_key=key, metadata=metadata))
        self.deliver()

    def when_done(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the attempt's record is delivered (it succeeded, or failed where the
        step or its IO manager reports it): e.g. to release a lock held across the table's write."""
        self._when_done.append(callback)

    def deliver(self) -> None:
        """Write the attempt's record to the manifest's sinks (each once); report, never raise."""
        _OPEN.pop(self._key, None)
        while self._when_done:
            self._when_done.pop()()
        if self.record is None or self._delivered:
            return
        self._delivered = True
        def warn(message: str) -> None:
            self._context.log.warning(redact_secrets(message))

        for config in self._sinks:
            try:
                sink = build_sink(config, self._root, self._spark)
            except Exception as exc:  # noqa: BLE001 - e.g. an unset ${NAME}: reported like a failing sink
                warn(f"log sink '{config.type}' cannot be opened; record of {self.record['transformation_id']} "
                     f"(attempt {self.record['attempt']}, {self.record['status']}) not written: {exc}")
                continue
            if sink is not None:
                deliver([sink], [self.record], warn)

