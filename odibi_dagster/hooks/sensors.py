"""Sensors that deliver hook events for runs launched from the UI, a schedule or the CLI.

- four run status sensors (started, success, failure, canceled) deliver ``orchestrator_run_start`` and, at
  the run's end, the closing layer events and ``orchestrator_run_end``;
- an event-log sensor tails the instance's step events with a durable cursor and delivers the layer
  and transformation events; a new sensor starts from the current end of the log. Its cursor keeps,
  per run in flight, the last record read and the translator's state, so a tick reads only new
  records (linear over a long run), and a tick stops reading after half of Dagster's tick deadline
  and waits for one hook call at most a sixth of it (``tick_limits``), so that it ends, and saves
  what it delivered, within the deadline even when a hook is slow.

Both feed the run's log to the one translator (``_read_new``) and deliver only the events caused
by their own kinds of record, so each event is delivered once. Log records do not go through the sensors: each
step writes its own to the manifest's sinks. Runs launched by ``dagster asset materialize`` have
no code-location origin, so the run status sensors monitor all code locations and pick this
project's runs by their steps. The hooks are the ones ``hooks_module`` registers; a module that
fails to import fails the tick with its error, while the code location still loads.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import dagster as dg
from dagster import DagsterEventType
from dagster._core.event_api import EventLogCursor

from odibi_dagster.assets.naming import ResourceKeys
from odibi_dagster.config.model import Project
from odibi_dagster.hooks.loading import load_project_hooks
from odibi_dagster.hooks.manager import HookManager
from odibi_dagster.hooks.translator import HookEvent, ProjectSteps, RunTranslator

STEP_KINDS = frozenset({
    DagsterEventType.STEP_START, DagsterEventType.STEP_RESTARTED, DagsterEventType.STEP_UP_FOR_RETRY,
    DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE, DagsterEventType.STEP_SKIPPED,
    DagsterEventType.ASSET_CHECK_EVALUATION,
})


DONE = -1  # a finished run whose events are all delivered


def tick_limits() -> tuple[float, float]:
    """(read budget, wait per hook call) of a tick, in seconds, from Dagster's own deadline for a
    sensor tick (``DAGSTER_SENSOR_GRPC_TIMEOUT_SECONDS``, else ``DAGSTER_GRPC_TIMEOUT_SECONDS``,
    else 60 s): a tick reads for half of it and waits for one hook call at most a sixth, so even a
    hook that never returns leaves the tick time to end and save its cursor."""
    deadline = float(os.environ.get("DAGSTER_SENSOR_GRPC_TIMEOUT_SECONDS")
                     or os.environ.get("DAGSTER_GRPC_TIMEOUT_SECONDS") or 60)
    return deadline / 2, deadline / 6


def emit_bounded(hooks: HookManager, event: str, payload: dict[str, Any], wait: float,
                 warn: Callable[[str], None]) -> None:
    """Call the event's hooks in a thread of their own and wait at most ``wait`` seconds: a slower
    hook goes on in the background (it was called, once) while delivery moves on."""
    worker = threading.Thread(target=hooks.emit, args=(event, payload), name=f"odibi-hook-{event}", daemon=True)
    worker.start()
    worker.join(wait)
    if worker.is_alive():
        warn(f"the hooks for '{event}' are still running after {wait:.0f} s; they go on in the background and "
             f"delivery moves on (the event is not delivered again)")


@dataclass
class StepCursor:
    """The step sensor's durable cursor, valid on every event-log storage (SQLite shards its log
    per run, so storage ids are only comparable within a run).

    ``since``: runs created before it are done with; ``runs``: per run created since, the last
    storage id read (``DONE`` once a finished run is fully delivered) and the translator's state
    after it, so each tick reads only the records that are new.
    """

    since: float
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def start(cls, instance: dg.DagsterInstance, steps: ProjectSteps) -> StepCursor:
        """Start at the current end of the log: runs in flight are read up to now without delivering."""
        now = time.time()
        cursor = cls(since=now)
        for record in instance.get_run_records(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
            run = record.dagster_run
            if steps.is_project_run(run, instance):
                translator = RunTranslator(steps, run, instance)
                last = _read_new(instance, run.run_id, 0, translator, deliver=None, deadline=None)[1]
                cursor.runs[run.run_id] = {"last": last, "state": translator.state()}
            # `created_after` is strict: start just before the oldest run in flight so it is seen again
            cursor.since = min(cursor.since, record.create_timestamp.timestamp() - 1.0)
        return cursor

    def advance(self, instance: dg.DagsterInstance, listed_at: float) -> StepCursor:
        """Move ``since`` up to the oldest run still in flight (at most to when this tick listed the
        runs: a run created during the tick is read by the next one) and forget runs before it."""
        created = {record.dagster_run.run_id: record.create_timestamp.timestamp()
                   for record in instance.get_run_records(filters=dg.RunsFilter(run_ids=list(self.runs)))
                   } if self.runs else {}
        oldest = min([listed_at, *(created[run_id] for run_id, progress in self.runs.items()
                                   if progress["last"] != DONE and run_id in created)])
        self.since = max(self.since, oldest - 1.0)  # a second of overlap; delivered runs are remembered
        self.runs = {run_id: progress for run_id, progress in self.runs.items()
                     if run_id in created and not (progress["last"] == DONE and created[run_id] < self.since)}
        return self

    def dump(self) -> str:
        return json.dumps({"since": self.since, "runs": self.runs})

    @classmethod
    def load(cls, text: str) -> StepCursor:
        """The cursor ``dump`` wrote; ``ValueError`` for anything else (the sensor then starts anew)."""
        data = json.loads(text)
        since, runs = float(data["since"]), data["runs"]
        if not math.isfinite(since) or not isinstance(runs, dict):
            raise ValueError("not a step cursor")
        for run_id, progress in list(runs.items()):
            if isinstance(progress, int):  # an earlier version kept only the last storage id of a run:
                runs[run_id] = progress = {"last": progress, "state": None}  # the state is rebuilt
            if not isinstance(progress, dict) or not isinstance(progress.get("last"), int):
                raise ValueError("not a step cursor")  # noqa: TRY004
        return cls(since=since, runs=runs)


def _resume(instance: dg.DagsterInstance, steps: ProjectSteps, run: dg.DagsterRun,
            progress: dict[str, Any]) -> RunTranslator:
    """The run's translator as the cursor left it; a missing or damaged state is rebuilt from the
    records up to the last one delivered, without delivering them again."""
    try:
        if progress["last"] == 0 or progress.get("state") is not None:
            return RunTranslator(steps, run, instance, state=progress.get("state"))
    except (KeyError, TypeError, ValueError, AttributeError):
        pass
    translator = RunTranslator(steps, run, instance)
    _read_new(instance, run.run_id, 0, translator, deliver=None, deadline=None, stop_after=progress["last"])
    return translator


def _read_new(instance: dg.DagsterInstance, run_id: str, last: int, translator: RunTranslator,
              deliver: Callable[[list[HookEvent]], int] | None, deadline: float | None,
              stop_after: int | None = None, kinds: frozenset | set = STEP_KINDS) -> tuple[int, int, bool]:
    """Feed the translator the run's records after storage id ``last`` (up to ``stop_after``),
    delivering as it goes the hook events caused by records of ``kinds`` (each deliverer takes its
    own kinds of record, so together they deliver every event once); return how many were
    delivered, the last storage id read and whether every record was read (it stops between
    records once ``deadline`` passes)."""
    delivered = 0
    cursor = EventLogCursor.from_storage_id(last).to_string() if last > 0 else None
    while True:
        page = instance.get_records_for_run(run_id, cursor=cursor, limit=500)
        for record in page.records:
            if stop_after is not None and record.storage_id > stop_after:
                return delivered, last, False
            produced = translator.translate(record.event_log_entry)
            if deliver is not None and record.event_log_entry.dagster_event_type in kinds:
                delivered += deliver(produced)
            last = record.storage_id
            if deadline is not None and time.time() > deadline:
                return delivered, last, False
        cursor = page.cursor
        if not page.has_more:
            return delivered, last, True


class DeliveredRuns:
    """The runs a run status sensor delivered last, as one value in the instance's key-value store.

    Only the runs of a tick whose cursor may not have been saved matter (Dagster processes at most
    ``DAGSTER_RUN_STATUS_SENSOR_PROCESS_LIMIT``, 5 by default, per tick), so the newest ``KEPT``
    are kept and the store does not grow with the run history. One sensor's ticks run one at a
    time, so reading and rewriting the value is safe."""

    KEPT = 1000

    def __init__(self, instance: dg.DagsterInstance, key: str):
        self._storage = instance.run_storage
        self._key = key

    def run_ids(self) -> list[str]:
        value = self._storage.get_cursor_values({self._key}).get(self._key)
        with contextlib.suppress(ValueError, TypeError):
            ids = json.loads(value) if value else []
            if isinstance(ids, list):
                return [str(run_id) for run_id in ids]
        return []  # a damaged value: nothing is known to be delivered

    def add(self, run_id: str) -> None:
        ids = [*self.run_ids(), run_id][-self.KEPT:]
        self._storage.set_cursor_values({self._key: json.dumps(ids)})


def build_hook_sensors(project: Project, default_engine: str, *, interval_seconds: int = 5,
                       budget_seconds: float | None = None,
                       resource_keys: ResourceKeys | None = None) -> list[dg.SensorDefinition]:
    """``budget_seconds``: how long a step-sensor tick reads (default: from ``tick_limits``);
    ``resource_keys``: the project's keys where they are scoped (the engine resource's run config
    names a run's engine)."""
    steps = ProjectSteps.from_project(project, default_engine, resource_keys)
    # log records reach the manifest's sinks from the steps themselves; the sensors only call hooks
    status = dg.DefaultSensorStatus.RUNNING if project.manifest.hooks_module else dg.DefaultSensorStatus.STOPPED
    prefix = f"{project.slug}_hooks"

    def delivery(context: dg.SensorEvaluationContext) -> Callable[[list[HookEvent]], int]:
        """A tick's deliverer: the hooks module is imported at the first event of the tick (so a fixed
        module is picked up without a reload, and a broken one fails the tick with its error)."""
        hooks: list[HookManager] = []
        wait = tick_limits()[1]

        def deliver(events: list[HookEvent]) -> int:
            if events and not hooks:
                hooks.append(load_project_hooks(project))
            for event, payload in events:
                emit_bounded(hooks[0], event, payload, wait, context.log.warning)
            return len(events)

        return deliver

    def run_status_sensor(run_status: dg.DagsterRunStatus, kinds: set[DagsterEventType], name: str):
        @dg.run_status_sensor(run_status=run_status, name=f"{prefix}_{name}", monitor_all_code_locations=True,
                              minimum_interval_seconds=interval_seconds, default_status=status,
                              description=f"Delivers {project.name}'s run-level hook events ({name}).")
        def _sensor(context: dg.RunStatusSensorContext):
            run = context.dagster_run
            if not steps.is_project_run(run, context.instance):
                return dg.SkipReason(f"run {run.run_id} is not a run of {project.name}")
            # Dagster saves a run status sensor's cursor when the tick ends: a daemon stopped after the
            # hooks ran and before that save would deliver the event again once restarted. The runs
            # delivered last, kept in the instance's key-value store right after delivery, close that window.
            delivered = DeliveredRuns(context.instance, f"odibi_hooks/{prefix}_{name}")
            if run.run_id in delivered.run_ids():
                return dg.SkipReason(f"run {run.run_id}: {name} was delivered before a restart")
            _read_new(context.instance, run.run_id, 0, RunTranslator(steps, run, context.instance), delivery(context),
                      deadline=None, kinds=kinds)
            delivered.add(run.run_id)
            return None

        return _sensor

    @dg.sensor(name=f"{prefix}_steps", minimum_interval_seconds=interval_seconds, default_status=status,
               description=f"Tails the event log and delivers {project.name}'s layer and transformation hooks.")
    def step_events(context: dg.SensorEvaluationContext):
        instance = context.instance
        cursor = None
        if context.cursor is not None:
            with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):
                cursor = StepCursor.load(context.cursor)
        if cursor is None:  # a new sensor (or a cursor of an earlier version) starts at the end of the log
            context.update_cursor(StepCursor.start(instance, steps).dump())
            return dg.SkipReason("started: delivering from the current end of the event log")
        listed_at = time.time()
        deadline = listed_at + (tick_limits()[0] if budget_seconds is None else budget_seconds)
        deliver = delivery(context)
        delivered = 0
        for record in _runs_since(instance, cursor.since):
            run = record.dagster_run
            progress = cursor.runs.get(run.run_id) or {"last": 0, "state": None}
            if progress["last"] == DONE:
                continue
            if not steps.is_project_run(run, instance):
                cursor.runs[run.run_id] = {"last": DONE}  # another project's run: never looked at again
                continue
            # a finished run is read after its status: every record it will ever have is there
            finished = run.is_finished
            translator = _resume(instance, steps, run, progress)
            count, last, complete = _read_new(instance, run.run_id, progress["last"], translator, deliver, deadline)
            delivered += count
            cursor.runs[run.run_id] = {"last": DONE} if finished and complete else \
                {"last": last, "state": translator.state()}
            if time.time() > deadline:
                break  # the rest on the next tick: the cursor is saved with what was delivered
        context.update_cursor(cursor.advance(instance, listed_at).dump())
        return dg.SkipReason("no new step events") if delivered == 0 else None

    return [
        run_status_sensor(dg.DagsterRunStatus.STARTED, {DagsterEventType.RUN_START}, "run_start"),
        run_status_sensor(dg.DagsterRunStatus.SUCCESS, {DagsterEventType.RUN_SUCCESS}, "run_success"),
        run_status_sensor(dg.DagsterRunStatus.FAILURE, {DagsterEventType.RUN_FAILURE}, "run_failure"),
        run_status_sensor(dg.DagsterRunStatus.CANCELED, {DagsterEventType.RUN_CANCELED}, "run_canceled"),
        step_events,
    ]


def _runs_since(instance: dg.DagsterInstance, since: float) -> list[dg.RunRecord]:
    """Run records created after ``since``, oldest first."""
    created_after = datetime.fromtimestamp(since, tz=timezone.utc)
    records = instance.get_run_records(filters=dg.RunsFilter(created_after=created_after))
    return sorted(records, key=lambda record: record.create_timestamp)
