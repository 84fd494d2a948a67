"""Sensors that deliver hook events for runs launched from the UI, a schedule or the CLI.

- three run status sensors (started, success, failure) deliver ``orchestrator_run_start`` and, at
  the run's end, the closing layer events and ``orchestrator_run_end``;
- an event-log sensor tails the instance's step events with a durable cursor (a storage id) and
  delivers the layer and transformation events; a new sensor starts from the current end of the log.

Both replay the run's log through the one translator and deliver only the events caused by their
own records, so each event is delivered once. Log records do not go through the sensors: each
step writes its own to the manifest's sinks. Runs launched by ``dagster asset materialize`` have
no code-location origin, so the run status sensors monitor all code locations and pick this
project's runs by their steps. The hooks are the ones ``hooks_module`` registers; a module that
fails to import fails the tick with its error, while the code location still loads.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import dagster as dg
from dagster import DagsterEventType

from odibi_dagster.config.model import Project
from odibi_dagster.hooks.loading import load_project_hooks
from odibi_dagster.hooks.translator import ProjectSteps, replay

STEP_KINDS = frozenset({
    DagsterEventType.STEP_START, DagsterEventType.STEP_RESTARTED, DagsterEventType.STEP_UP_FOR_RETRY,
    DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE, DagsterEventType.STEP_SKIPPED,
})


@dataclass
class StepCursor:
    """The step sensor's durable cursor, valid on every event-log storage (SQLite shards its log
    per run, so storage ids are only comparable within a run).

    ``since``: runs created before it are done with; ``runs``: the last delivered storage id of
    each run created since (-1 once a finished run is fully delivered).
    """

    since: float
    runs: dict[str, int] = field(default_factory=dict)

    @classmethod
    def start(cls, instance: dg.DagsterInstance) -> StepCursor:
        """Start at the current end of the log: runs in flight are marked delivered up to now."""
        now = time.time()
        cursor = cls(since=now)
        for record in instance.get_run_records(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
            records = instance.get_records_for_run(record.dagster_run.run_id, limit=1, ascending=False).records
            cursor.runs[record.dagster_run.run_id] = records[0].storage_id if records else 0
            cursor.since = min(cursor.since, record.create_timestamp.timestamp())
        return cursor

    def advance(self, instance: dg.DagsterInstance) -> StepCursor:
        """Move ``since`` up to the oldest run still in flight and forget runs before it."""
        open_runs = [run_id for run_id, last in self.runs.items() if last >= 0]
        oldest = time.time()
        for run_id in open_runs:
            record = instance.get_run_record_by_id(run_id)
            if record is not None:
                oldest = min(oldest, record.create_timestamp.timestamp())
        self.since = max(self.since, oldest - 1.0)  # a second of overlap; delivered runs are remembered
        for run_id in list(self.runs):
            record = instance.get_run_record_by_id(run_id)
            if record is None or (self.runs[run_id] < 0 and record.create_timestamp.timestamp() < self.since):
                del self.runs[run_id]
        return self

    def dump(self) -> str:
        return json.dumps({"since": self.since, "runs": self.runs})

    @classmethod
    def load(cls, text: str) -> StepCursor:
        data = json.loads(text)
        return cls(since=float(data["since"]), runs={k: int(v) for k, v in data["runs"].items()})


def build_hook_sensors(project: Project, default_engine: str, *, interval_seconds: int = 5
                       ) -> list[dg.SensorDefinition]:
    steps = ProjectSteps.from_project(project, default_engine)
    # log records reach the manifest's sinks from the steps themselves; the sensors only call hooks
    status = dg.DefaultSensorStatus.RUNNING if project.manifest.hooks_module else dg.DefaultSensorStatus.STOPPED
    prefix = f"{project.slug}_hooks"

    def deliver(events: list[tuple[str, dict[str, Any]]]) -> int:
        hooks = load_project_hooks(project)  # per tick: a fixed hooks module is picked up without a reload
        for event, payload in events:
            hooks.emit(event, payload)
        return len(events)

    def run_status_sensor(run_status: dg.DagsterRunStatus, kinds: set[DagsterEventType], name: str):
        @dg.run_status_sensor(run_status=run_status, name=f"{prefix}_{name}", monitor_all_code_locations=True,
                              minimum_interval_seconds=interval_seconds, default_status=status,
                              description=f"Delivers {project.name}'s run-level hook events ({name}).")
        def _sensor(context: dg.RunStatusSensorContext):
            run = context.dagster_run
            if not steps.is_project_run(run, context.instance):
                return dg.SkipReason(f"run {run.run_id} is not a run of {project.name}")
            events = replay(context.instance, steps, run,
                            lambda record: record.event_log_entry.dagster_event_type in kinds)
            deliver(events)
            return None

        return _sensor

    @dg.sensor(name=f"{prefix}_steps", minimum_interval_seconds=interval_seconds, default_status=status,
               description=f"Tails the event log and delivers {project.name}'s layer and transformation hooks.")
    def step_events(context: dg.SensorEvaluationContext):
        instance = context.instance
        if context.cursor is None:
            context.update_cursor(StepCursor.start(instance).dump())
            return dg.SkipReason("started: delivering from the current end of the event log")
        cursor = StepCursor.load(context.cursor)
        delivered = 0
        for record in _runs_since(instance, cursor.since):
            run = record.dagster_run
            last = cursor.runs.get(run.run_id, 0)
            if not steps.is_project_run(run, instance) or last < 0:
                continue
            new_ids: set[int] = set()

            def emit_for(event_record: dg.EventLogRecord, last: int = last, new_ids: set = new_ids) -> bool:
                if event_record.storage_id > last and event_record.event_log_entry.dagster_event_type in STEP_KINDS:
                    new_ids.add(event_record.storage_id)
                    return True
                return False

            # a finished run is read after its status: every record it will ever have is there
            finished = run.is_finished
            delivered += deliver(replay(instance, steps, run, emit_for))
            cursor.runs[run.run_id] = -1 if finished else max(new_ids | {last})
        context.update_cursor(cursor.advance(instance).dump())
        return dg.SkipReason("no new step events") if delivered == 0 else None

    return [
        run_status_sensor(dg.DagsterRunStatus.STARTED, {DagsterEventType.RUN_START}, "run_start"),
        run_status_sensor(dg.DagsterRunStatus.SUCCESS, {DagsterEventType.RUN_SUCCESS}, "run_success"),
        run_status_sensor(dg.DagsterRunStatus.FAILURE, {DagsterEventType.RUN_FAILURE}, "run_failure"),
        step_events,
    ]


def _runs_since(instance: dg.DagsterInstance, since: float) -> list[dg.RunRecord]:
    """Run records created after ``since``, oldest first."""
    created_after = datetime.fromtimestamp(since, tz=timezone.utc)
    records = instance.get_run_records(filters=dg.RunsFilter(created_after=created_after))
    return sorted(records, key=lambda record: record.create_timestamp)
