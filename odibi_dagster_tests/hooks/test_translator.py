"""The one translator, fed synthetic event sequences: starts, retries, failures, skipped steps, a run
that fails before any step; and resuming from ``state()`` gives the same events as one pass."""

from __future__ import annotations

import json
import logging

import dagster as dg
import pytest
from dagster import DagsterEventType as T
from dagster._core.events import (
    DagsterEvent,
    JobCanceledData,
    JobFailureData,
    StepFailureData,
    StepRetryData,
    StepSuccessData,
)
from dagster_shared.error import SerializableErrorInfo

from odibi_dagster.config.model import Manifest, OutputSpec, Project, Source, Transformation
from odibi_dagster.hooks.translator import ProjectSteps, RunTranslator

RUN_ID = "00000000-0000-0000-0000-000000000001"
SRC, CLEAN, SUMMARY = "p__source__s1", "p__t_clean", "p__t_summary"


@pytest.fixture(scope="module")
def steps() -> ProjectSteps:
    project = Project(
        manifest=Manifest(project_name="P", layer_order=["Bronze", "Silver", "Gold"], default_engine="pandas",
                          retry={"max_retries": 2}),
        sources=[Source(source_id="s1", source_name="bronze.a", file_format="csv", source_path_or_query="a.csv")],
        transformations=[
            Transformation(transformation_id="t-clean", layer="Silver", module="m", function="clean",
                           inputs=["bronze.a"], outputs=[OutputSpec(table="silver.a")]),
            Transformation(transformation_id="t-summary", layer="Gold", module="m", function="summary",
                           inputs=["silver.a"], outputs=[OutputSpec(table="gold.a")])],
        env="qat")
    return ProjectSteps.from_project(project, "pandas")


def error(message: str) -> SerializableErrorInfo:
    return SerializableErrorInfo(message=message, stack=[], cls_name="ValueError")


def entry(kind: T, ts: float, step: str | None = None, data=None) -> dg.EventLogEntry:
    if kind == T.STEP_SUCCESS:
        data = StepSuccessData(duration_ms=1.0)
    event = DagsterEvent(event_type_value=kind.value, job_name="job", step_key=step, event_specific_data=data)
    return dg.EventLogEntry(error_info=None, level=logging.INFO, user_message="", run_id=RUN_ID, timestamp=float(ts),
                            step_key=step, job_name="job", dagster_event=event)


def translate(steps: ProjectSteps, entries: list[dg.EventLogEntry]) -> list[tuple[str, dict]]:
    translator = RunTranslator(steps, dg.DagsterRun(job_name="job", run_id=RUN_ID))
    return [event for item in entries for event in translator.translate(item)]


def names(events) -> list[str]:
    return [name for name, _ in events]


SUCCESS = [entry(T.RUN_START, 100), entry(T.STEP_START, 101, SRC), entry(T.STEP_SUCCESS, 102, SRC),
           entry(T.STEP_START, 103, CLEAN), entry(T.STEP_SUCCESS, 105, CLEAN), entry(T.STEP_START, 106, SUMMARY),
           entry(T.STEP_SUCCESS, 107, SUMMARY), entry(T.RUN_SUCCESS, 108)]


def test_a_successful_run(steps):
    events = translate(steps, SUCCESS)
    assert names(events) == ["orchestrator_run_start", "bronze_start", "bronze_end", "layer_start", "transform_start",
                             "transform_success", "layer_end", "layer_start", "transform_start", "transform_success",
                             "layer_end", "orchestrator_run_end"]
    payload = dict(events)
    assert payload["bronze_end"]["sources_processed"] == 1 and "duration_seconds" not in payload["bronze_end"]
    silver_end = events[6][1]
    assert (silver_end["layer"], silver_end["status"], silver_end["duration_seconds"]) == ("Silver", "success", 2.0)
    success = events[5][1]
    assert (success["transformation_id"], success["attempt"], success["duration_seconds"], success["engine"]) == (
        "t-clean", 1, 2.0, "pandas")
    end = payload["orchestrator_run_end"]
    assert (end["status"], end["layers_executed"], end["duration_seconds"]) == (
        "success", ["Bronze", "Silver", "Gold"], 8.0)


def test_a_retried_step_reports_the_retry_then_the_second_attempt(steps):
    events = translate(steps, [
        entry(T.RUN_START, 100), entry(T.STEP_START, 101, SRC), entry(T.STEP_SUCCESS, 102, SRC),
        entry(T.STEP_START, 103, CLEAN), entry(T.STEP_UP_FOR_RETRY, 104, CLEAN, StepRetryData(error("flaky"))),
        entry(T.STEP_RESTARTED, 106, CLEAN), entry(T.STEP_SUCCESS, 107, CLEAN)])
    retry = next(payload for name, payload in events if name == "transform_retry")
    assert (retry["attempt"], retry["max_retries"], retry["error"]) == (1, 2, "flaky")
    success = next(payload for name, payload in events if name == "transform_success")
    assert (success["attempt"], success["duration_seconds"]) == (2, 4.0)  # from the first start
    assert names(events).count("transform_start") == 1  # a retry is not a new start, as in the original


def test_a_failed_step_fails_its_layer_and_skips_the_next(steps):
    events = translate(steps, [
        entry(T.RUN_START, 100), entry(T.STEP_START, 101, SRC), entry(T.STEP_SUCCESS, 102, SRC),
        entry(T.STEP_START, 103, CLEAN),
        entry(T.STEP_FAILURE, 104, CLEAN, StepFailureData(error("ValueError: sensor feed corrupt"), None)),
        entry(T.STEP_SKIPPED, 105, SUMMARY), entry(T.RUN_FAILURE, 106, data=JobFailureData(error("run failed")))])
    payload = {name: p for name, p in events if name != "layer_end"}
    ends = {p["layer"]: p for name, p in events if name == "layer_end"}
    assert payload["transform_failure"]["error"] == "ValueError: sensor feed corrupt"
    assert (ends["Silver"]["status"], ends["Silver"]["error"]) == ("failed", "t-clean: ValueError: sensor feed corrupt")
    assert (ends["Gold"]["status"], ends["Gold"]["duration_seconds"]) == ("skipped", 0.0)
    end = payload["orchestrator_run_end"]
    assert (end["status"], end["error"], end["layers_executed"]) == (
        "failed", "t-clean: ValueError: sensor feed corrupt", ["Bronze", "Silver"])


def test_a_run_that_fails_before_any_step(steps):
    events = translate(steps, [entry(T.RUN_START, 100),
                               entry(T.RUN_FAILURE, 101, data=JobFailureData(error("resource init failed: no Java")))])
    assert names(events) == ["orchestrator_run_start", "bronze_end", "layer_end", "layer_end", "orchestrator_run_end"]
    assert [p["status"] for name, p in events if name.endswith("_end") and "layer" in p] == ["skipped"] * 3
    end = events[-1][1]
    assert (end["status"], end["error"], end["layers_executed"]) == ("failed", "resource init failed: no Java", [])


def test_a_canceled_run_ends_as_failed(steps):
    """A run terminated from the UI (or stopped by an interrupted run_project) ends with
    orchestrator_run_end too, status failed (the seed's statuses are success and failed)."""
    events = translate(steps, [
        entry(T.RUN_START, 100), entry(T.STEP_START, 101, SRC), entry(T.STEP_SUCCESS, 102, SRC),
        entry(T.STEP_START, 103, CLEAN),
        entry(T.STEP_FAILURE, 104, CLEAN, StepFailureData(error("DagsterExecutionInterruptedError: stopped"), None)),
        entry(T.RUN_CANCELED, 105, data=JobCanceledData(None))])
    assert names(events)[-3:] == ["layer_end", "layer_end", "orchestrator_run_end"]
    end = events[-1][1]
    assert (end["status"], end["error"], end["layers_executed"]) == (
        "failed", "t-clean: DagsterExecutionInterruptedError: stopped", ["Bronze", "Silver"])


@pytest.mark.parametrize("split", range(1, len(SUCCESS)))
def test_resuming_from_the_state_gives_the_events_of_one_pass(steps, split):
    run = dg.DagsterRun(job_name="job", run_id=RUN_ID)
    first = RunTranslator(steps, run)
    events = [event for item in SUCCESS[:split] for event in first.translate(item)]
    state = json.loads(json.dumps(first.state()))  # it must survive the cursor's JSON
    resumed = RunTranslator(steps, run, state=state)
    events += [event for item in SUCCESS[split:] for event in resumed.translate(item)]
    assert events == translate(steps, SUCCESS)


def materialized(ts: float, step: str, table: str, rows_out: int, status: str = "SUCCESS", attempt: int = 1):
    """The step's log record on one output's materialization, as the step writes it."""
    from datetime import datetime, timezone

    from dagster._core.events import StepMaterializationData

    from odibi_dagster.logging.records import build_record, record_metadata

    now = datetime.now(timezone.utc)
    record = build_record(transformation_id="t-clean", project="P", env="qat", layer="Silver", engine="spark",
                          labels=None, run_id=RUN_ID, start_time=now, end_time=now, status=status,
                          rows_out=rows_out, attempt=attempt)
    kind = T.ASSET_MATERIALIZATION
    materialization = dg.AssetMaterialization(asset_key=["p", table], metadata=record_metadata(record))
    return entry(kind, ts, step, StepMaterializationData(materialization))


def test_a_steps_record_is_finished_at_its_end_with_every_outputs_counts(steps):
    """On Spark an output's rows are counted as it is written, so the first output's materialization
    carries only its own rows; the record comes out once, with the last (complete) counts, when the
    step ends; one the run's end finds unfinished comes out then."""
    translator = RunTranslator(steps, dg.DagsterRun(job_name="job", run_id=RUN_ID))
    finished = []
    for item in [entry(T.RUN_START, 100), entry(T.STEP_START, 103, CLEAN), materialized(104, CLEAN, "silver_a", 120),
                 materialized(105, CLEAN, "silver_alerts", 144), entry(T.STEP_SUCCESS, 106, CLEAN),
                 entry(T.STEP_START, 107, CLEAN), materialized(108, CLEAN, "silver_a", 7, attempt=2)]:
        translator.translate(item)
        finished.append([(r["attempt"], r["rows_out"]) for r in translator.finished_records])
    assert finished == [[], [], [], [], [(1, 144)], [], []]
    translator.translate(entry(T.RUN_FAILURE, 109, data=JobFailureData(error("run failed"))))
    assert [(r["attempt"], r["rows_out"]) for r in translator.finished_records] == [(2, 7)]
