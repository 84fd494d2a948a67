"""The one translator from Dagster's events (plus the asset graph's layers) to hook events.

Fed a run's event log entries in order, ``RunTranslator`` returns the hook events they imply:

- RUN_START / RUN_SUCCESS / RUN_FAILURE / RUN_CANCELED -> ``orchestrator_run_start`` /
  ``orchestrator_run_end`` (a canceled run's status is ``failed``, the seed's two statuses)
- the first step start of a layer -> ``layer_start`` (``bronze_start`` for the first layer); the
  last end of that layer's planned steps -> ``layer_end`` / ``bronze_end``, with the duration from
  first start to last end; a layer none of whose steps ran reports ``skipped`` at the run's end
- STEP_START / STEP_SUCCESS / STEP_FAILURE / STEP_UP_FOR_RETRY of a transformation ->
  ``transform_start`` / ``transform_success`` / ``transform_failure`` / ``transform_retry``
- a failed ASSET_CHECK_EVALUATION of a source's or transformation's check -> ``check_failure``

The sensors and the in-process subscriber of ``run_project`` both use it, so they agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import dagster as dg
from dagster import DagsterEventType

from odibi_dagster.assets.naming import ResourceKeys, asset_key, op_name
from odibi_dagster.config.errors import ConfigError
from odibi_dagster.config.model import Project
from odibi_dagster.config.settings import resolve_engine
from odibi_dagster.logging.records import record_from_metadata

HookEvent = tuple[str, dict[str, Any]]
TARGET_LAYERS_TAG = "odibi/target_layers"
PROJECT_TAG = "odibi/project"


@dataclass(frozen=True)
class StepInfo:
    layer: str
    row_id: str
    is_source: bool
    module: str | None = None
    function: str | None = None
    engine_override: str | None = None
    asset_keys: tuple[dg.AssetKey, ...] = ()


@dataclass(frozen=True)
class ProjectSteps:
    """What the translator needs to know of a project: its steps and their layers."""

    project: str
    slug: str
    env: str
    default_engine: str
    layer_order: tuple[str, ...]
    steps: dict[str, StepInfo]
    max_retries: int
    engine_resource: str = ResourceKeys.engine  # the key whose run config names the run's engine

    @classmethod
    def from_project(cls, project: Project, default_engine: str, keys: ResourceKeys | None = None) -> ProjectSteps:
        steps = {
            op_name(project.slug, source.source_id, "source__"): StepInfo(
                project.manifest.bronze_layer, source.source_id, True,
                asset_keys=tuple(asset_key(project.slug, table) for table in source.all_tables))
            for source in project.sources
        }
        for row in project.transformations:
            steps[op_name(project.slug, row.transformation_id)] = StepInfo(
                row.layer, row.transformation_id, False, row.module, row.function, row.engine_override,
                tuple(asset_key(project.slug, table) for table in row.all_output_tables))
        return cls(project.name, project.slug, project.env, default_engine, tuple(project.manifest.layer_order),
                   steps, project.manifest.retry.max_retries, (keys or ResourceKeys()).engine)

    @property
    def bronze_layer(self) -> str:
        return self.layer_order[0]

    def planned_steps(self, run: dg.DagsterRun, instance: dg.DagsterInstance | None = None) -> set[str]:
        """The run's steps of this project: from its execution plan where the instance has it, else
        its step or asset selection, else all."""
        if instance is not None and run.execution_plan_snapshot_id:
            plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
            return {step for step in plan.step_keys_to_execute if step in self.steps}
        if run.step_keys_to_execute:
            return {step for step in run.step_keys_to_execute if step in self.steps}
        if run.asset_selection:
            return {step for step, info in self.steps.items() if set(info.asset_keys) & set(run.asset_selection)}
        return set(self.steps)

    def is_project_run(self, run: dg.DagsterRun, instance: dg.DagsterInstance | None = None) -> bool:
        """Runs of this project: tagged by run_project, or planning any of its steps."""
        if PROJECT_TAG in run.tags:
            return run.tags[PROJECT_TAG] == self.slug
        return bool(self.planned_steps(run, instance))


def run_engine(run: dg.DagsterRun, default: str, resource_key: str = ResourceKeys.engine) -> str:
    """The engine a run used: its engine resource's config, else the project's default."""
    config = ((run.run_config or {}).get("resources") or {}).get(resource_key) or {}
    try:
        return resolve_engine(run=(config.get("config") or {}).get("engine") or default)
    except ConfigError:  # a misnamed engine failed the run at start-up; report what it asked for
        return str((config.get("config") or {}).get("engine"))


def run_partition(run: dg.DagsterRun) -> str | None:
    """A partitioned run's partition key, or ``"A...B"`` for a range (as log records carry it)."""
    tags = run.tags
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    if start and end:
        return start if start == end else f"{start}...{end}"
    return None


@dataclass
class LayerState:
    """A layer's steps in one run: planned, ended, failed; times are event timestamps (epoch s)."""

    planned: set[str]
    started: float | None = None
    ended: set[str] = field(default_factory=set)
    last_end: float | None = None
    failed: list[str] = field(default_factory=list)
    succeeded: int = 0
    closed: bool = False


_STEP_ENDS = (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE, DagsterEventType.STEP_SKIPPED,
              DagsterEventType.STEP_UP_FOR_RETRY)


class RunTranslator:
    """Stateful translation of one run's events; feed entries in log order."""

    def __init__(self, project: ProjectSteps, run: dg.DagsterRun, instance: dg.DagsterInstance | None = None,
                 state: dict[str, Any] | None = None):
        """``state``: what ``state()`` returned after the entries seen so far (resumes from there)."""
        self.project = project
        self.run = run
        self.engine = run_engine(run, project.default_engine, project.engine_resource)
        self.partition_key = run_partition(run)
        self._seen_records: set[tuple[Any, ...]] = set()
        # a step attempt's record, kept until the step ends: each output's materialization carries
        # it, and the last carries the counts known only once every table is written (Spark)
        self._step_records: dict[str, dict[str, Any]] = {}
        self.finished_records: list[dict[str, Any]] = []  # log records complete with the last entry
        if state is not None:
            self._restore(state)
            return
        planned = project.planned_steps(run, instance)
        self.layers = {
            layer: LayerState({s for s in planned if project.steps[s].layer == layer})
            for layer in project.layer_order if any(project.steps[s].layer == layer for s in planned)
        }
        self.attempts: dict[str, int] = {}
        self.first_start: dict[str, float] = {}
        self.run_start: float | None = None
        self.failed_transformations: list[str] = []
        self.run_error: str | None = None

    def state(self) -> dict[str, Any]:
        """Everything the translator has learnt from the entries so far, as JSON-able data: the step
        sensor keeps it in its cursor and resumes with the next new entry instead of re-reading."""
        return {
            "layers": {name: {"planned": sorted(layer.planned), "started": layer.started,
                              "ended": sorted(layer.ended), "last_end": layer.last_end, "failed": layer.failed,
                              "succeeded": layer.succeeded, "closed": layer.closed}
                       for name, layer in self.layers.items()},
            "attempts": self.attempts, "first_start": self.first_start, "run_start": self.run_start,
            "failed_transformations": self.failed_transformations, "run_error": self.run_error,
        }

    def _restore(self, state: dict[str, Any]) -> None:
        self.layers = {name: LayerState(set(layer["planned"]), layer["started"], set(layer["ended"]),
                                        layer["last_end"], list(layer["failed"]), layer["succeeded"], layer["closed"])
                       for name, layer in state["layers"].items()}
        self.attempts = dict(state["attempts"])
        self.first_start = dict(state["first_start"])
        self.run_start = state["run_start"]
        self.failed_transformations = list(state["failed_transformations"])
        self.run_error = state["run_error"]

    # -- payload helpers -------------------------------------------------------------------------
    def _base(self, timestamp: float, **extra: Any) -> dict[str, Any]:
        """The seed's common fields; a partitioned run's events carry its ``partition_key`` too."""
        partition = {"partition_key": self.partition_key} if self.partition_key is not None else {}
        return {"project": self.project.project, "env": self.project.env, "engine": self.engine,
                "timestamp": datetime.fromtimestamp(timestamp), **partition, **extra}

    def _transform(self, step: str, timestamp: float, **extra: Any) -> dict[str, Any]:
        info = self.project.steps[step]
        payload = self._base(timestamp, layer=info.layer, transformation_id=info.row_id, module=info.module,
                             function=info.function, attempt=self.attempts.get(step, 1), **extra)
        payload["engine"] = resolve_engine(row=info.engine_override, run=self.engine)
        return payload

    def target_layers(self) -> list[str] | None:
        raw = self.run.tags.get(TARGET_LAYERS_TAG)
        return json.loads(raw) if raw else None

    # -- translation -----------------------------------------------------------------------------
    def translate(self, entry: dg.EventLogEntry) -> list[HookEvent]:
        event = entry.dagster_event
        self.finished_records = []
        if event is None:
            return []
        kind, ts, step = event.event_type, entry.timestamp, event.step_key
        if kind in (DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_OBSERVATION):
            data = event.event_specific_data
            found = getattr(data, "materialization", None) or getattr(data, "asset_observation", None)
            record = record_from_metadata(found.metadata) if found is not None else None
            if record is not None:
                if step is None:
                    self._finish_record(record)
                else:
                    self._step_records[step] = record
            return []
        if kind == DagsterEventType.ASSET_CHECK_EVALUATION:
            return self._check_failure(step, ts, event.event_specific_data)
        if kind == DagsterEventType.RUN_START:
            self.run_start = ts
            return [("orchestrator_run_start", self._base(ts, target_layers=self.target_layers()))]
        if kind in (DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE, DagsterEventType.RUN_CANCELED):
            for record in self._step_records.values():
                self._finish_record(record)
            self._step_records.clear()
            return self._run_end(ts, kind == DagsterEventType.RUN_SUCCESS, event)
        if kind in _STEP_ENDS and step in self._step_records:
            self._finish_record(self._step_records.pop(step))
        if step not in self.project.steps:
            return []
        info = self.project.steps[step]
        layer = self.layers.setdefault(info.layer, LayerState({step}))
        out: list[HookEvent] = []
        if kind == DagsterEventType.STEP_START:
            self.attempts.setdefault(step, 1)
            self.first_start.setdefault(step, ts)
            if layer.started is None:
                layer.started = ts
                out.append((self._layer_event("start", info.layer), self._base(ts, layer=info.layer)))
            if not info.is_source:
                out.append(("transform_start", self._transform(step, ts)))
        elif kind == DagsterEventType.STEP_RESTARTED:  # a retry's new attempt (the original: no new start)
            self.attempts[step] = self.attempts.get(step, 1) + 1
        elif kind == DagsterEventType.STEP_UP_FOR_RETRY and not info.is_source:
            # a retry policy's retry wraps the user's error in RetryRequestedFromPolicy: report the cause
            error = step_error(event) if event.event_specific_data.error else None
            out.append(("transform_retry", self._transform(step, ts, max_retries=self.project.max_retries,
                                                           error=error)))
        elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE, DagsterEventType.STEP_SKIPPED):
            duration = round(ts - self.first_start.get(step, ts), 3)
            if kind == DagsterEventType.STEP_SUCCESS:
                layer.succeeded += 1
                if not info.is_source:
                    out.append(("transform_success", self._transform(step, ts, duration_seconds=duration)))
            elif kind == DagsterEventType.STEP_FAILURE:
                message = step_error(event)
                layer.failed.append(f"{info.row_id}: {message}")
                if not info.is_source:
                    self.failed_transformations.append(info.row_id)
                    out.append(("transform_failure", self._transform(step, ts, duration_seconds=duration,
                                                                     error=message)))
            layer.ended.add(step)
            layer.last_end = ts
            if layer.planned <= layer.ended:
                out += self._layer_end(info.layer, layer, ts)
        return out

    def _finish_record(self, record: dict[str, Any]) -> None:
        """One record per attempt, whatever the number of events that carried it."""
        seen = (record["transformation_id"], record["attempt"], record["status"])
        if seen not in self._seen_records:
            self._seen_records.add(seen)
            self.finished_records.append(record)

    def _check_failure(self, step: str | None, ts: float, evaluation: Any) -> list[HookEvent]:
        """``check_failure`` for a failed check of one of the project's steps."""
        if evaluation is None or evaluation.passed or step not in self.project.steps:
            return []
        info = self.project.steps[step]
        failed = evaluation.metadata.get("failed_rows")
        payload = self._base(ts, layer=info.layer, transformation_id=info.row_id,
                             table=".".join(evaluation.asset_key.path[1:]), check=evaluation.check_name,
                             severity=evaluation.severity.value,
                             failed_rows=failed.value if isinstance(failed, dg.MetadataValue) else failed)
        payload["engine"] = resolve_engine(row=info.engine_override, run=self.engine)
        return [("check_failure", payload)]

    def _layer_event(self, which: str, layer: str | None = None) -> str:
        return f"bronze_{which}" if layer == self.project.bronze_layer else f"layer_{which}"

    def _layer_end(self, name: str, layer: LayerState, ts: float) -> list[HookEvent]:
        if layer.closed:
            return []
        layer.closed = True
        if layer.started is None:
            payload = self._base(ts, layer=name, status="skipped", duration_seconds=0.0)
        else:
            end = layer.last_end or ts
            payload = self._base(end, layer=name, status="failed" if layer.failed or layer.planned - layer.ended
                                 else "success", duration_seconds=round(end - layer.started, 3))
            if layer.failed or layer.planned - layer.ended:
                skipped = sorted(self.project.steps[s].row_id for s in layer.planned - layer.ended)
                payload["error"] = "; ".join(layer.failed) or f"not run after upstream failures: {skipped}"
            elif name == self.project.bronze_layer:
                payload["sources_processed"] = layer.succeeded
        if name == self.project.bronze_layer:
            del payload["duration_seconds"]  # the seed's bronze_end has none
        return [(self._layer_event("end", name), payload)]

    def _run_end(self, ts: float, success: bool, event: dg.DagsterEvent) -> list[HookEvent]:
        out: list[HookEvent] = []
        for name, layer in self.layers.items():
            out += self._layer_end(name, layer, ts)
        payload = self._base(ts, status="success" if success else "failed", layers_executed=self.layers_executed,
                             duration_seconds=round(ts - (self.run_start or ts), 3))
        if not success:
            failures = [f for layer in self.layers.values() for f in layer.failed]
            error = getattr(event.event_specific_data, "error", None)
            self.run_error = "; ".join(failures) or (error.message.strip() if error else event.message) or "failed"
            payload["error"] = self.run_error
        out.append(("orchestrator_run_end", payload))
        return out

    @property
    def layers_executed(self) -> list[str]:
        return [name for name, layer in self.layers.items() if layer.started is not None]


def step_error(event: dg.DagsterEvent) -> str:
    """The root cause of a failed step, as ``Type: message`` (Dagster and odibi wrap the user's error)."""
    error = getattr(event.event_specific_data, "error", None)
    message = None
    while error is not None:
        message = error.message.strip()
        error = error.cause
    if message is None:
        return event.message or "failed"
    kind, _, text = message.partition(": ")
    return f"{kind.rsplit('.', 1)[-1]}: {text}" if text else message
