"""Hook delivery by the code location's sensors, under a real dagster-daemon, for CLI runs."""

import csv
import json
import os
import subprocess
import time
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest

from odibi_dagster.config import load_project_folder
from odibi_dagster.hooks.loading import HookModuleError
from odibi_dagster.hooks.sensors import build_hook_sensors
from odibi_dagster.logging import read_transformation_log
from odibi_dagster_tests.conftest import BIN, REPO, dagster

FUNCS = """
def clean(inputs):
    return inputs["bronze.readings"].assign(ok=True)

def summary(inputs):
    return inputs["silver.readings"].groupby("ok", as_index=False).size()
"""
HOOKS = """
import json, os

def register(hooks):
    def write(event):
        def callback(payload):
            with open(os.environ["ODIBI_TEST_HOOK_LOG"], "a") as handle:
                handle.write(json.dumps({"event": event, **payload}, default=str) + "\\n")
        return callback
    for event in ("orchestrator_run_start", "orchestrator_run_end", "bronze_start", "bronze_end", "layer_start",
                  "layer_end", "transform_start", "transform_success", "transform_failure"):
        hooks.register(event, write(event))
"""


def write_project(project_writer, hooks_code=HOOKS, manifest=None):
    """Bronze readings, silver (t-clean) and gold (t-summary), a hooks module writing every event to
    ODIBI_TEST_HOOK_LOG, a file log sink; ``manifest``: more manifest settings."""
    module = f"hooks_{project_writer.module}"
    root = project_writer.write(
        manifest={"hooks_module": module, "log_sink": {"type": "file", "path": "sensor_log.csv"}, **(manifest or {})},
        sources=[{"source_id": "s1", "source_name": "bronze.readings", "file_format": "csv",
                  "source_path_or_query": "r.csv"}],
        data={"r.csv": "a\n1\n2\n"}, functions=FUNCS, transformations=[
            {"transformation_id": "t-clean", "layer": "Silver", "function": "clean", "inputs": ["bronze.readings"],
             "outputs": [{"table": "silver.readings"}]},
            {"transformation_id": "t-summary", "layer": "Gold", "function": "summary", "inputs": ["silver.readings"],
             "outputs": [{"table": "gold.summary"}]}])
    (root / f"{module}.py").write_text(hooks_code)
    return root


def events(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def step_sensor_cursor(home: str) -> str | None:
    with dg.DagsterInstance.from_config(home) as instance:
        for state in instance.all_instigator_state():
            if state.name == "test_project_hooks_steps" and state.instigator_data:
                return state.instigator_data.cursor
    return None


@pytest.mark.slow
def test_sensors_deliver_cli_run_events_once_under_the_daemon(project_writer, home, tmp_path):
    root = write_project(project_writer)
    log = tmp_path / "hooks.jsonl"
    env = {**home, "ODIBI_PROJECT_DIR": str(root), "ODIBI_TEST_HOOK_LOG": str(log)}
    before = dagster("asset", "materialize", "-m", "odibi_dagster.definitions", "--select", "*", env=env, cwd=tmp_path)
    assert before.returncode == 0, before.stderr[-2000:]

    def start_daemon() -> subprocess.Popen:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("ODIBI_")} | env
        return subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")],
                                env=full_env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    daemon = start_daemon()
    try:
        wait_for(lambda: step_sensor_cursor(home["DAGSTER_HOME"]) is not None, 120, "the step sensor's first tick")
        time.sleep(6)  # let the run status sensors take their first (baseline) tick too
        assert events(log) == []  # runs from before the sensors started are not delivered
        done = dagster("asset", "materialize", "-m", "odibi_dagster.definitions", "--select", "*", env=env,
                       cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
        # three sensors deliver independently: wait for each one's part (run start, steps, run end)
        wait_for(lambda: {"orchestrator_run_start", "orchestrator_run_end"} <= {e["event"] for e in events(log)} and
                 sum(e["event"] == "transform_success" for e in events(log)) == 2, 120, "the run's hook events")
    finally:
        daemon.terminate()
        daemon.wait(30)
    first = Counter(e["event"] for e in events(log))
    assert first == {"orchestrator_run_start": 1, "bronze_start": 1, "bronze_end": 1, "layer_start": 2,
                     "layer_end": 2, "transform_start": 2, "transform_success": 2, "orchestrator_run_end": 1}
    end = next(e for e in events(log) if e["event"] == "orchestrator_run_end")
    assert (end["status"], end["layers_executed"], end["project"]) == ("success", ["Bronze", "Silver", "Gold"],
                                                                       "Test Project")

    daemon = start_daemon()  # a restart must not deliver anything again
    try:
        cursor = step_sensor_cursor(home["DAGSTER_HOME"])
        wait_for(lambda: step_sensor_cursor(home["DAGSTER_HOME"]) != cursor, 120, "a tick after the restart")
        time.sleep(6)  # and the run status sensors' ticks
    finally:
        daemon.terminate()
        daemon.wait(30)
    assert Counter(e["event"] for e in events(log)) == first

    # the manifest's log sink got every record of both CLI runs (the one before the sensors started
    # too) from the steps themselves, each once: the sensors deliver hooks only
    with dg.DagsterInstance.from_config(home["DAGSTER_HOME"]) as instance:
        logged = read_transformation_log("Test Project", instance)
    assert len(logged) == 6 and set(logged["status"]) == {"SUCCESS"}  # 3 steps x 2 CLI runs
    with open(Path(home["ODIBI_STORAGE_ROOT"]) / "_logs" / "sensor_log.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted((r["transformation_id"], r["run_id"], r["rows_out"]) for r in rows) == sorted(
        (t, r, str(int(n))) for t, r, n in logged[["transformation_id", "run_id", "rows_out"]].itertuples(index=False))
    latest = logged[logged["run_id"] == end_run_id(home["DAGSTER_HOME"])]
    assert dict(zip(latest["transformation_id"], latest["rows_out"])) == {"s1": 2, "t-clean": 2, "t-summary": 1}


def end_run_id(home: str) -> str:
    """The newest run (the one made while the daemon ran)."""
    with dg.DagsterInstance.from_config(home) as instance:
        return instance.get_run_records(limit=1)[0].dagster_run.run_id


def test_a_hooks_module_that_fails_to_import_fails_the_tick_not_the_load(project_writer, storage):
    root = write_project(project_writer, hooks_code="raise RuntimeError('broken hooks module')\n")
    # a module broken after the code location loaded (at load it is a config error: test_validation.py)
    project = load_project_folder(root, check_imports=False)
    sensors = {s.name: s for s in build_hook_sensors(project, "pandas")}
    with dg.instance_for_test() as instance:
        step_sensor = sensors["test_project_hooks_steps"]
        first = step_sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        assert first.cursor is not None  # starts at the end of the log
        from odibi_dagster.assets import build_definitions

        defs = build_definitions(project, storage_root_dir=storage)
        assert defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance).success
        with pytest.raises(Exception) as info:
            step_sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=first.cursor))
        chain, error = [], info.value
        while error is not None:
            chain.append(str(error))
            error = error.__cause__
        assert any(isinstance(e, HookModuleError) for e in _causes(info.value))
        assert any("broken hooks module" in text for text in chain)


def _causes(error):
    while error is not None:
        yield error
        error = error.__cause__


def test_the_step_sensor_reads_only_new_records_and_resumes_from_its_cursor(project_writer, storage, tmp_path,
                                                                            monkeypatch):
    """With a budget of 0 s each tick reads one record and stops: delivery then goes on from the
    cursor (last record read + the translator's state), each event once, in order, as one pass gives."""
    from odibi_dagster.assets import build_definitions

    log = tmp_path / "hooks.jsonl"
    monkeypatch.setenv("ODIBI_TEST_HOOK_LOG", str(log))
    project = load_project_folder(write_project(project_writer))
    with dg.instance_for_test() as instance:
        step_sensor = next(s for s in build_hook_sensors(project, "pandas", budget_seconds=0)
                           if s.name.endswith("_steps"))
        cursor = step_sensor.evaluate_tick(dg.build_sensor_context(instance=instance)).cursor
        time.sleep(0.01)
        result = build_definitions(project, storage_root_dir=storage).resolve_implicit_global_asset_job_def(
        ).execute_in_process(instance=instance)
        storage_ids = [r.storage_id for r in instance.get_records_for_run(result.run_id, limit=10_000).records]
        seen = []
        for _ in range(len(storage_ids) + 5):
            cursor = step_sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor)).cursor
            # a finished run is marked done (-1), and forgotten once it is older than the cursor's window
            progress = json.loads(cursor)["runs"].get(result.run_id, {"last": -1})
            if progress["last"] == -1:
                break
            seen.append(progress["last"])
    assert progress == {"last": -1}
    assert seen == storage_ids  # one new record per tick, never one read twice
    delivered = [e["event"] for e in events(log)]
    assert delivered == ["bronze_start", "bronze_end", "layer_start", "transform_start", "transform_success",
                         "layer_end", "layer_start", "transform_start", "transform_success", "layer_end"]


def test_the_step_cursor_sees_runs_in_flight_at_its_start_and_runs_made_during_a_tick(project_writer):
    from odibi_dagster.hooks.sensors import StepCursor, _runs_since
    from odibi_dagster.hooks.translator import ProjectSteps

    steps = ProjectSteps.from_project(load_project_folder(write_project(project_writer)), "pandas")
    with dg.instance_for_test() as instance:
        in_flight = dg.DagsterRun(job_name="__ASSET_JOB", run_id="a" * 8 + "-0000-0000-0000-000000000001",
                                  status=dg.DagsterRunStatus.STARTED)
        instance.add_run(in_flight)
        cursor = StepCursor.start(instance, steps)
        assert in_flight.run_id in {r.dagster_run.run_id for r in _runs_since(instance, cursor.since)}
        listed_at = time.time()  # a tick lists the runs ... and a run starts while its hooks run
        time.sleep(1.2)
        later = dg.DagsterRun(job_name="__ASSET_JOB", run_id="b" * 8 + "-0000-0000-0000-000000000002")
        instance.add_run(later)
        cursor.runs[in_flight.run_id] = {"last": -1}
        cursor.advance(instance, listed_at)
        assert later.run_id in {r.dagster_run.run_id for r in _runs_since(instance, cursor.since)}


@pytest.mark.parametrize("text", ['{"since": "NaN", "runs": {}}', '{"since": 1, "runs": []}',
                                  '{"since": 1, "runs": {"r": "x"}}', '{"since": 1e400, "runs": {}}', "[]", "7"])
def test_a_damaged_cursor_is_refused_so_the_sensor_starts_anew(text):
    from odibi_dagster.hooks.sensors import StepCursor

    with pytest.raises((ValueError, KeyError, TypeError, AttributeError)):
        StepCursor.load(text)


def test_a_cursor_of_the_earlier_version_is_carried_over(project_writer, storage, tmp_path, monkeypatch):
    """The earlier cursor kept a run's last storage id only: the run goes on from there, each event once."""
    from odibi_dagster.assets import build_definitions

    log = tmp_path / "hooks.jsonl"
    monkeypatch.setenv("ODIBI_TEST_HOOK_LOG", str(log))
    project = load_project_folder(write_project(project_writer))
    with dg.instance_for_test() as instance:
        step_sensor = next(s for s in build_hook_sensors(project, "pandas") if s.name.endswith("_steps"))
        since = time.time() - 1
        result = build_definitions(project, storage_root_dir=storage).resolve_implicit_global_asset_job_def(
        ).execute_in_process(instance=instance)
        records = instance.get_records_for_run(result.run_id, limit=10_000).records
        halfway = next(r.storage_id for r in records
                       if r.event_log_entry.dagster_event_type == dg.DagsterEventType.STEP_SUCCESS)
        old = json.dumps({"since": since, "runs": {result.run_id: halfway}})  # delivered up to the first success
        step_sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=old))
    delivered = [e["event"] for e in events(log)]
    assert delivered == ["layer_start", "transform_start", "transform_success", "layer_end", "layer_start",
                         "transform_start", "transform_success", "layer_end"]  # the rest, nothing twice


def project_job_and_sensor(project_writer, storage, tmp_path, monkeypatch, suffix: str):
    """The hook log file, the asset job and the hook sensor whose name ends with ``suffix``."""
    from odibi_dagster.assets import build_definitions

    log = tmp_path / "hooks.jsonl"
    monkeypatch.setenv("ODIBI_TEST_HOOK_LOG", str(log))
    project = load_project_folder(write_project(project_writer))
    job = build_definitions(project, storage_root_dir=storage).resolve_implicit_global_asset_job_def()
    return log, job, next(s for s in build_hook_sensors(project, "pandas") if s.name.endswith(suffix))


def test_a_run_status_sensor_delivers_each_run_once_when_its_cursor_was_not_saved(project_writer, storage,
                                                                                     tmp_path, monkeypatch):
    """A daemon stopped after the hooks ran and before Dagster saved the tick's cursor evaluates the
    same runs again: the runs kept as delivered stop a second delivery. They are one value per
    sensor in the key-value store, not a row per run."""
    from odibi_dagster.hooks.sensors import DeliveredRuns

    log, job, sensor = project_job_and_sensor(project_writer, storage, tmp_path, monkeypatch, "_run_start")
    with dg.instance_for_test() as instance:
        begun = sensor.evaluate_tick(dg.build_sensor_context(instance=instance)).cursor  # from the log's end
        run_ids = [job.execute_in_process(instance=instance).run_id for _ in range(2)]
        for _ in range(2):  # the second tick starts from the same cursor, as after such a restart
            sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=begun))
        kept = DeliveredRuns(instance, "odibi_hooks/test_project_hooks_run_start").run_ids()
        per_run_marks = instance.run_storage.get_cursor_values(
            {f"odibi_hooks/test_project_hooks_run_start/{run_id}" for run_id in run_ids})
    assert [e["event"] for e in events(log)] == ["orchestrator_run_start"] * 2  # one per run
    assert kept == run_ids
    assert per_run_marks == {}


def test_a_canceled_run_reaches_the_hooks_with_its_end(project_writer, storage, tmp_path, monkeypatch):
    """A run stopped before its first step (as ``run_project`` stops one when interrupted) ends as
    canceled; the run_canceled sensor delivers its closing events, orchestrator_run_end failed."""
    from dagster._core.utils import make_new_run_id

    from odibi_dagster.assets import stopping

    log, job, sensor = project_job_and_sensor(project_writer, storage, tmp_path, monkeypatch, "_run_canceled")
    with dg.instance_for_test() as instance:
        begun = sensor.evaluate_tick(dg.build_sensor_context(instance=instance)).cursor
        run_id = make_new_run_id()
        stopping.request_stop(run_id)
        try:
            result = job.execute_in_process(instance=instance, run_id=run_id, raise_on_error=False)
        finally:
            stopping.forget(run_id)
        assert instance.get_run_by_id(result.run_id).status == dg.DagsterRunStatus.CANCELED
        sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=begun))
    delivered = events(log)
    assert [e["event"] for e in delivered] == ["layer_end", "layer_end", "orchestrator_run_end"]  # the layers not run
    assert delivered[-1]["status"] == "failed" and "was stopped" in delivered[-1]["error"]


def test_the_delivered_runs_keep_the_newest_and_survive_a_damaged_value(monkeypatch):
    from odibi_dagster.hooks.sensors import DeliveredRuns

    monkeypatch.setattr(DeliveredRuns, "KEPT", 3)
    with dg.instance_for_test() as instance:
        delivered = DeliveredRuns(instance, "odibi_hooks/p_run_start")
        for run_id in "abcde":
            delivered.add(run_id)
        assert delivered.run_ids() == ["c", "d", "e"]
        instance.run_storage.set_cursor_values({"odibi_hooks/p_run_start": "{not json"})
        assert delivered.run_ids() == []
        delivered.add("f")
        assert delivered.run_ids() == ["f"]


def test_the_hook_sensors_are_on_only_for_a_project_with_a_hooks_module(project_writer):
    """Without hooks_module nothing would receive the events: the sensors ship stopped (the daemon
    ticks running sensors only); with one, they ship running."""
    module = f"hooks_{project_writer.module}"
    bare = project_writer.write(functions="", transformations=[])
    sensors = build_hook_sensors(load_project_folder(bare), "pandas")
    assert sensors and {sensor.default_status for sensor in sensors} == {dg.DefaultSensorStatus.STOPPED}
    (bare / f"{module}.py").write_text("def register(hooks):\n    pass\n")
    with_hooks = project_writer.write(functions="", transformations=[], manifest={"hooks_module": module})
    sensors = build_hook_sensors(load_project_folder(with_hooks), "pandas")
    assert {sensor.default_status for sensor in sensors} == {dg.DefaultSensorStatus.RUNNING}


def test_a_failed_run_with_a_retried_step_reaches_the_hooks_through_the_sensors(project_writer, storage, tmp_path,
                                                                                monkeypatch):
    """Real sensor evaluations on a real instance: a step retried once and then failing gives
    transform_retry and transform_failure, the run orchestrator_run_end with status failed."""
    from odibi_dagster.assets import build_definitions

    log = tmp_path / "hooks.jsonl"
    monkeypatch.setenv("ODIBI_TEST_HOOK_LOG", str(log))
    hooks_code = HOOKS.replace('"transform_failure"):', '"transform_failure", "transform_retry"):')
    root = write_project(project_writer, hooks_code)
    (root / f"{project_writer.module}.py").write_text(
        "import pandas as pd\n\ndef clean(inputs):\n    raise ValueError('sensor feed corrupt')\n\n"
        "def summary(inputs):\n    return inputs['silver.readings']\n")
    manifest = root / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace("max_retries: 0", "max_retries: 1"))
    project = load_project_folder(root)
    assert project.manifest.retry.max_retries == 1
    with dg.instance_for_test() as instance:
        built = {sensor.name: sensor for sensor in build_hook_sensors(project, "pandas")}
        # the names users see in the UI and turn on or off, written out (not derived from the code)
        assert set(built) == {"test_project_hooks_run_start", "test_project_hooks_run_success",
                              "test_project_hooks_run_failure", "test_project_hooks_run_canceled",
                              "test_project_hooks_steps"}
        sensors = {name.removeprefix("test_project_hooks_"): sensor for name, sensor in built.items()}
        cursors = {name: sensor.evaluate_tick(dg.build_sensor_context(instance=instance)).cursor
                   for name, sensor in sensors.items()}  # the first ticks: nothing to deliver yet
        time.sleep(0.01)
        result = build_definitions(project, storage_root_dir=storage).resolve_implicit_global_asset_job_def(
        ).execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        for _ in range(3):  # later ticks deliver; a tick after the last delivers nothing again
            for name, sensor in sensors.items():
                cursors[name] = sensor.evaluate_tick(dg.build_sensor_context(instance=instance,
                                                                             cursor=cursors[name])).cursor
    delivered = [(e["event"], e.get("transformation_id"), e.get("status")) for e in events(log)]
    assert ("transform_retry", "t-clean", None) in delivered
    assert delivered.count(("transform_failure", "t-clean", None)) == 1
    assert delivered.count(("orchestrator_run_end", None, "failed")) == 1
    assert not any(event == "transform_success" for event, _, _ in delivered)
    retry = next(e for e in events(log) if e["event"] == "transform_retry")
    failure = next(e for e in events(log) if e["event"] == "transform_failure")
    assert (retry["attempt"], failure["attempt"]) == (1, 2) and "sensor feed corrupt" in failure["error"]


@pytest.mark.slow
def test_a_daemon_restarted_in_the_middle_of_a_run_delivers_each_event_once(project_writer, home, tmp_path):
    """The daemon stops while a CLI run is in its silver step and starts again before the run ends:
    the events before the stop are not delivered again, those after it are delivered once."""
    root = write_project(project_writer)
    (root / f"{project_writer.module}.py").write_text(
        "import time\nimport pandas as pd\n\ndef clean(inputs):\n    time.sleep(12)\n"
        "    return inputs['bronze.readings'].assign(ok=True)\n\n"
        "def summary(inputs):\n    return inputs['silver.readings'].groupby('ok', as_index=False).size()\n")
    log = tmp_path / "hooks.jsonl"
    env = {**home, "ODIBI_PROJECT_DIR": str(root), "ODIBI_TEST_HOOK_LOG": str(log)}
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ODIBI_")} | env

    def start_daemon() -> subprocess.Popen:
        return subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")],
                                env=full_env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    daemon = start_daemon()
    run = None
    try:
        wait_for(lambda: step_sensor_cursor(home["DAGSTER_HOME"]) is not None, 120, "the step sensor's first tick")
        time.sleep(6)
        run = subprocess.Popen([str(BIN / "dagster"), "asset", "materialize", "-m", "odibi_dagster.definitions",
                                "--select", "*"], env=full_env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
        wait_for(lambda: any(e["event"] == "transform_start" for e in events(log)), 90, "the silver step's start")
        daemon.terminate()  # mid-run: silver sleeps for 12 s
        daemon.wait(30)
        assert run.poll() is None, "the run ended before the daemon stopped: the test shows nothing"
        before = Counter(e["event"] for e in events(log))
        daemon = start_daemon()
        assert run.wait(120) == 0, run.stderr.read()[-2000:]
        wait_for(lambda: Counter(e["event"] for e in events(log))["orchestrator_run_end"] == 1 and
                 Counter(e["event"] for e in events(log))["transform_success"] == 2, 120, "the rest of the events")
        time.sleep(6)  # one more tick of each sensor: nothing may come twice
    finally:
        daemon.terminate()
        daemon.wait(30)
        if run is not None and run.poll() is None:
            run.kill()
    assert before["transform_start"] == 1 and before["orchestrator_run_end"] == 0
    assert Counter(e["event"] for e in events(log)) == {
        "orchestrator_run_start": 1, "bronze_start": 1, "bronze_end": 1, "layer_start": 2, "layer_end": 2,
        "transform_start": 2, "transform_success": 2, "orchestrator_run_end": 1}


SPARK_FUNCS = """
from pyspark.sql import functions as F

def clean(inputs):
    return inputs["bronze.readings"].withColumn("ok", F.lit(True))

def summary(inputs):
    return inputs["silver.readings"].groupBy("ok").count()
"""


def test_a_spark_run_reaches_the_hooks_through_the_sensors_and_fills_the_sinks(project_writer, storage, tmp_path,
                                                                                monkeypatch, spark):
    """Real sensor evaluations over a run on the shared local Spark session: the payloads name the
    engine, and the manifest's file and Delta sinks get each step's record once, from the steps."""
    from deltalake import DeltaTable

    from odibi_dagster.assets import build_definitions

    log = tmp_path / "hooks.jsonl"
    monkeypatch.setenv("ODIBI_TEST_HOOK_LOG", str(log))
    root = write_project(project_writer)
    (root / f"{project_writer.module}.py").write_text(SPARK_FUNCS)
    manifest = root / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace(
        "log_sink:\n  type: file\n  path: sensor_log.csv\n",
        "log_sink:\n- type: file\n  path: sensor_log.csv\n- type: delta\n  path: sensor_log\n"))
    project = load_project_folder(root)
    assert len(project.manifest.log_sinks) == 2
    with dg.instance_for_test() as instance:
        sensors = build_hook_sensors(project, "pandas")
        cursors = {sensor.name: sensor.evaluate_tick(dg.build_sensor_context(instance=instance)).cursor
                   for sensor in sensors}
        time.sleep(0.01)
        result = build_definitions(project, storage_root_dir=storage).resolve_implicit_global_asset_job_def(
        ).execute_in_process(instance=instance, run_config={"resources": {"odibi_engine": {"config": {
            "engine": "spark"}}}})
        assert result.success
        for _ in range(2):
            for sensor in sensors:
                cursors[sensor.name] = sensor.evaluate_tick(dg.build_sensor_context(
                    instance=instance, cursor=cursors[sensor.name])).cursor
    delivered = events(log)
    assert Counter(e["event"] for e in delivered) == {
        "orchestrator_run_start": 1, "bronze_start": 1, "bronze_end": 1, "layer_start": 2, "layer_end": 2,
        "transform_start": 2, "transform_success": 2, "orchestrator_run_end": 1}
    assert {e["engine"] for e in delivered} == {"spark"}
    logs = storage / "_logs"
    with open(logs / "sensor_log.csv") as handle:
        rows = [(r["transformation_id"], r["engine"], r["rows_out"], r["run_id"]) for r in csv.DictReader(handle)]
    expected = [("s1", "spark", "2", result.run_id), ("t-clean", "spark", "2", result.run_id),
                ("t-summary", "spark", "1", result.run_id)]
    assert sorted(rows) == expected
    delta = DeltaTable(str(logs / "sensor_log")).to_pandas()
    assert sorted(zip(delta["transformation_id"], delta["engine"], delta["rows_out"].astype(int).astype(str),
                      delta["run_id"])) == expected
