"""run_project: real Dagster runs with hooks delivered live, the result dict, failures, log records."""

import csv
import logging
import re
import threading
import time
from datetime import datetime
from pathlib import Path

import dagster as dg
import pytest

from odibi_dagster.engines.arrow_tables import read_frame
from odibi_dagster.engines.storage import TableLocation
from odibi_dagster.hooks import EVENTS, HookManager
from odibi_dagster.logging import BaseLogSink, FileLogSink
from odibi_dagster.orchestration import (
    GenericProjectOrchestrator,
    TransformationRunnerFromConfig,
    run_project,
)
from odibi_dagster_tests.conftest import failing_project

LAYERS = ["Bronze", "Silver_1", "Silver_2", "Gold_1", "Gold_2"]


def recorder():
    hooks, seen = HookManager(), []
    for event in EVENTS:
        hooks.register(event, lambda payload, event=event: seen.append((event, payload)))
    return hooks, seen


def check_payloads(seen):
    for event, payload in seen:
        spec = EVENTS[event]
        assert spec.keys <= set(payload) <= spec.all_keys, (event, sorted(payload))
        assert isinstance(payload["timestamp"], datetime)
        if "status" in payload:
            assert payload["status"] in ("success", "failed", "skipped")


def test_demo_run_delivers_the_seed_events_in_order(demo_cwd, tmp_path):
    hooks, seen = recorder()
    # a table of the last layer, written several steps after Silver_1 starts (the first Silver_1
    # table itself can be written within one poll of the delivery loop)
    last_layer = tmp_path / "storage" / "qat" / "energy_efficiency" / "Gold_2" / "gold.plant_summary"
    live = []
    hooks.register("layer_start", lambda p: live.append(last_layer.exists()), filters={"layer": "Silver_1"})
    result = run_project(project="Energy Efficiency", env="qat", hooks=hooks)
    assert result["status"] == "success" and result["error"] is None and result["failed"] == []
    assert (result["project"], result["env"], result["engine"]) == ("Energy Efficiency", "qat", "pandas")
    assert result["layers_executed"] == LAYERS and result["duration_seconds"] > 0
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", result["run_id"])
    assert live == [False]  # the hook ran before the run's last layer was written: live delivery
    assert last_layer.exists()
    check_payloads(seen)
    # the demo's data fails three WARN checks (a quarantine, a drop, a warn): one check_failure each
    checks = [(p["table"], p["check"], p["severity"]) for e, p in seen if e == "check_failure"]
    assert sorted(checks) == [("bronze.sensor_readings", "not_null__fuel_kg", "WARN"),
                              ("bronze.sensor_readings", "range__steam_kg", "WARN"),
                              ("silver.sensor_readings", "range__flue_temp_c", "WARN")]
    seen = [(e, p) for e, p in seen if e != "check_failure"]  # the seed's events, in the seed's order
    names = [event for event, _ in seen]
    assert names[0] == "orchestrator_run_start" and names[-1] == "orchestrator_run_end"
    assert names[1:3] == ["bronze_start", "bronze_end"]
    layer_events = [(e, p["layer"]) for e, p in seen if e.startswith("layer_")]
    assert layer_events == [(f"layer_{w}", layer) for layer in LAYERS[1:] for w in ("start", "end")]
    bronze_end = next(p for e, p in seen if e == "bronze_end")
    assert bronze_end["status"] == "success" and bronze_end["sources_processed"] == 4
    assert sorted(p["transformation_id"] for e, p in seen if e == "transform_success") == sorted([
        "energy-sensor-readings-silver", "energy-boiler-assets-silver", "energy-boiler-daily-silver",
        "energy-plant-daily-gold", "energy-plant-summary-gold"])
    assert sum(e == "transform_start" for e in names) == sum(e == "transform_success" for e in names) == 5
    end = seen[-1][1]
    assert (end["status"], end["layers_executed"]) == ("success", LAYERS)


def test_failing_transformation(project_writer, tmp_path, monkeypatch):
    monkeypatch.setenv("ODIBI_STORAGE_ROOT", str(tmp_path / "storage"))
    hooks, seen = recorder()
    result = run_project("Test Project", project_dir=failing_project(project_writer, retries=1), hooks=hooks)
    assert result["status"] == "failed" and result["failed"] == ["t-flaky"]
    assert "t-flaky: ValueError: sensor feed corrupt" in result["error"]
    check_payloads(seen)
    retry = next(p for e, p in seen if e == "transform_retry")
    assert (retry["transformation_id"], retry["attempt"], retry["max_retries"]) == ("t-flaky", 1, 1)
    assert retry["error"] == "ValueError: sensor feed corrupt"  # the cause, not Dagster's retry wrapper
    failure = next(p for e, p in seen if e == "transform_failure")
    assert (failure["attempt"], failure["error"]) == (2, "ValueError: sensor feed corrupt")
    ends = {p["layer"]: p for e, p in seen if e in ("layer_end", "bronze_end")}
    assert ends["Silver"]["status"] == "failed" and "sensor feed corrupt" in ends["Silver"]["error"]
    assert ends["Gold"]["status"] == "skipped" and ends["Bronze"]["status"] == "success"
    run_end = seen[-1][1]
    assert run_end["status"] == "failed" and "sensor feed corrupt" in run_end["error"]
    assert run_end["layers_executed"] == ["Bronze", "Silver"]


class ListSink(BaseLogSink):
    def __init__(self):
        self.records = []

    def write(self, records):
        self.records.extend(records)


class BrokenSink(BaseLogSink):
    def write(self, records):
        raise ConnectionError("log database down")


def test_log_sinks_get_one_record_per_finished_transformation(demo_cwd, tmp_path, caplog):
    sink = ListSink()
    assert run_project("Energy Efficiency", log_sink=sink)["status"] == "success"
    assert sorted(r["transformation_id"] for r in sink.records) == sorted([
        "src-plants", "src-boilers", "src-sensor-readings", "src-weather",  # bronze sources are logged too
        "energy-sensor-readings-silver", "energy-boiler-assets-silver", "energy-boiler-daily-silver",
        "energy-plant-daily-gold", "energy-plant-summary-gold"])
    assert {r["status"] for r in sink.records} == {"SUCCESS"}
    gold = next(r for r in sink.records if r["transformation_id"] == "energy-plant-summary-gold")
    assert (gold["plant"], gold["rows_out"], gold["layer"]) == ("combined", 4, "Gold_2")
    path = tmp_path / "logs" / "log.csv"
    for _ in range(2):
        assert run_project("Energy Efficiency", log_sink=FileLogSink(path))["status"] == "success"
    with open(path) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 18 and len({r["run_id"] for r in rows}) == 2  # appended, not overwritten
    result = run_project("Energy Efficiency", log_sink=BrokenSink())
    assert result["status"] == "success"  # a sink failure never fails the run
    assert "still failing at the run's end: log sink BrokenSink failed; 9 record(s) not written" in caplog.text


class RecoveringSink(ListSink):
    """Down while the run goes on, back at its end: what it missed must arrive then, once."""

    def __init__(self):
        super().__init__()
        self.down = True
        self.refused = 0

    def write(self, records):
        if self.down:
            self.refused += len(records)
            raise ConnectionError("log database down")
        super().write(records)


def test_a_sink_that_recovers_gets_each_missed_record_once_at_the_run_end(demo_cwd, home, caplog, monkeypatch):
    from odibi_dagster.orchestration import live

    monkeypatch.setenv("DAGSTER_HOME", home["DAGSTER_HOME"])
    sink = RecoveringSink()
    original = live.deliver

    def deliver(sinks, records, report):  # the sink comes back for the delivery at the run's end
        if report is not live._retry_later:
            sink.down = False
        return original(sinks, records, report)

    monkeypatch.setattr(live, "deliver", deliver)
    with caplog.at_level(logging.ERROR, logger="odibi_dagster"):
        result = run_project("Energy Efficiency", log_sink=sink)
    assert result["status"] == "success"
    assert sink.refused == 9  # every record failed while the run went on
    ids = [record["transformation_id"] for record in sink.records]
    assert len(ids) == len(set(ids)) == 9  # each arrived at the end, once
    assert "retrying at the run's end" in caplog.text and "still failing" not in caplog.text
    with dg.DagsterInstance.get() as instance:  # and each transformation ran once
        starts = [entry for entry in instance.all_logs(result["run_id"]) if entry.dagster_event is not None
                  and entry.dagster_event.event_type_value == "STEP_START"]
    assert len(starts) == 9


def test_target_layers_and_bad_arguments(demo_cwd):
    hooks, seen = recorder()
    result = run_project("Energy Efficiency", target_layers=["Bronze", "Silver_1"], hooks=hooks)
    assert result["layers_executed"] == ["Bronze", "Silver_1"]
    assert seen[0][1]["target_layers"] == ["Bronze", "Silver_1"]
    with pytest.raises(ValueError, match=r"target_layers \['Silver_9'\] are not layers"):
        run_project("Energy Efficiency", target_layers=["Silver_9"])
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['colour'\]"):
        run_project("Energy Efficiency", colour="blue")
    with pytest.raises(FileNotFoundError, match="project 'Nope' not found"):
        run_project("Nope")


def test_dagsters_console_shows_warnings_and_errors_unless_log_level_asks_for_more(project_writer, tmp_path,
                                                                                  monkeypatch, capfd, caplog):
    monkeypatch.setenv("ODIBI_STORAGE_ROOT", str(tmp_path / "storage"))
    project_dir = failing_project(project_writer, retries=1)
    assert run_project("Test Project", project_dir=project_dir, quiet=True)["status"] == "failed"
    printed = capfd.readouterr().err
    assert " - DEBUG - " not in printed and "RUN_START" not in printed  # 80-odd lines a run before
    assert " - ERROR - " in printed and "sensor feed corrupt" in printed
    # Dagster logs a retry at DEBUG: run_project says so itself (a WARNING, which Python prints by default)
    assert [(r.levelname, r.getMessage()) for r in caplog.records if r.name.startswith("odibi_dagster")] == [
        ("WARNING", "'t-flaky' failed (attempt 1 of 2), retrying: ValueError: sensor feed corrupt")]
    for level in ("debug", logging.DEBUG, "NOTSET"):
        run_project("Test Project", project_dir=project_dir, quiet=True, log_level=level)
        assert " - DEBUG - " in capfd.readouterr().err
    with pytest.raises(ValueError, match="log_level 'loud' is not a logging level"):
        run_project("Test Project", project_dir=project_dir, log_level="loud")
    from odibi_dagster.orchestration.api import _log_level

    assert [_log_level(level) for level in (0, 15, 25, 50, 99, "warn")] == [
        "DEBUG", "INFO", "WARNING", "CRITICAL", "CRITICAL", "WARNING"]


def test_runs_are_stored_on_the_dagster_home_instance(demo_cwd, tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    result = run_project("Energy Efficiency", target_layers=["Bronze"])
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_run_by_id(result["run_id"])
        assert run.status == dg.DagsterRunStatus.SUCCESS and run.tags["odibi/project"] == "energy_efficiency"


def test_orchestrator_and_runner_classes(demo_cwd):
    hooks, seen = recorder()
    result = GenericProjectOrchestrator("Energy Efficiency", env="qat", engine="pandas", hooks=hooks).run(
        target_layers=["Bronze", "Silver_1"])
    assert result["status"] == "success" and result["layers_executed"] == ["Bronze", "Silver_1"]
    runner = TransformationRunnerFromConfig(sql_provider=None, project="Energy Efficiency", env="qat", max_workers=2,
                                            layer="Silver_2", engine="pandas", hooks=hooks)
    assert runner.run_parallel()["layers_executed"] == ["Silver_2"]
    assert [p["layer"] for e, p in seen if e == "layer_start"] == ["Silver_1", "Silver_2"]  # both got the hooks


def test_auth_provider_spark_session_and_sql_provider(demo_cwd, tmp_path, spark):
    """The sql_provider stands in for the user's SQL Server provider (none can run here): it answers
    the original's read() call from real config tables in SQLite, with real rows (pyspark Row)."""
    import pandas as pd
    import sqlalchemy as sa
    from pyspark.sql import Row

    from odibi_dagster.config import export_project

    url = f"sqlite:///{tmp_path / 'config.db'}"
    export_project(demo_cwd / "projects" / "energy_efficiency", url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # disable one row in the tables only: the run must follow the tables
        conn.execute(sa.text('UPDATE "TransformationRegistry" SET enabled = 0 WHERE transformation_id = :t'),
                     {"t": "energy-plant-summary-gold"})
    engine.dispose()
    calls = []

    class Rows:
        def __init__(self, frame):
            self.frame = frame

        def collect(self):
            return [Row(**record) for record in self.frame.to_dict("records")]

    class SqlProvider:
        def read(self, data_type, container, path_prefix, object_name, spark):
            calls.append((data_type.value, object_name, spark is not None))
            with sa.create_engine(url).connect() as conn:
                return Rows(pd.read_sql_query(sa.text(object_name), conn).astype(object).where(lambda f: f.notna(), None))

    from odibi_dagster.engines.spark_session import SparkSettings, adopt_session, get_session

    provided = spark.newSession()  # a session of the provider's own, distinct from the package's
    provided.conf.set("odibi.test.provider", "yes")

    def auth_provider(env, repo_path, logger_metadata):
        assert (env, logger_metadata) == ("qat", {"project": "Energy Efficiency", "stage": "Bootstrap"})
        return {"spark": provided, "sql_provider": SqlProvider()}

    hooks, seen = recorder()
    sink = ListSink()
    try:
        result = run_project("Energy Efficiency", engine="spark", hooks=hooks, auth_provider=auth_provider,
                             log_sink=sink)
        used = get_session(SparkSettings())  # the session every Spark step of the run asked for
        assert used is provided and used.conf.get("odibi.test.provider") == "yes"
    finally:
        adopt_session(spark)  # the package's session again, for the tests that follow
    assert result["status"] == "success" and result["engine"] == "spark", result
    assert calls == [("sql", "SELECT * FROM IngestionSourceConfig", True),
                     ("sql", "SELECT * FROM TransformationRegistry", True)]
    ran = [p["transformation_id"] for e, p in seen if e == "transform_success"]
    assert "energy-plant-summary-gold" not in ran and len(ran) == 4
    assert {p["engine"] for e, p in seen if e == "transform_success"} == {"spark"}
    assert result["layers_executed"] == ["Bronze", "Silver_1", "Silver_2", "Gold_1"]
    # a two-output step's record counts both tables, although Spark counts each as it is written
    [record] = [r for r in sink.records if r["transformation_id"] == "energy-plant-daily-gold"]
    written = [read_frame(TableLocation(tmp_path / "storage", "qat", "energy_efficiency", "Gold_1", table))
               for table in ("gold.plant_daily_efficiency", "gold.efficiency_alerts")]
    assert all(len(frame) for frame in written)
    assert record["rows_out"] == sum(len(frame) for frame in written)


WHICH_THREAD = """
import threading

def which_thread():
    return pd.DataFrame({"thread": [threading.get_ident()]})
"""


@pytest.mark.parametrize("instance", ["in memory", "DAGSTER_HOME"])
def test_hooks_run_on_the_callers_thread_not_on_the_runs(instance, project_writer, home, monkeypatch):
    """A slow or raising hook holds up or breaks only the caller, never the run's own thread (the
    in-memory instance hands its events over from the run's thread; DAGSTER_HOME's log is tailed)."""
    monkeypatch.setenv("ODIBI_STORAGE_ROOT", home["ODIBI_STORAGE_ROOT"])
    if instance == "DAGSTER_HOME":
        monkeypatch.setenv("DAGSTER_HOME", home["DAGSTER_HOME"])
    root = project_writer.write(functions=WHICH_THREAD, transformations=[
        {"transformation_id": "t-thread", "layer": "Silver", "function": "which_thread",
         "outputs": [{"table": "silver.thread"}]}])
    hooks, on_threads = HookManager(), []
    hooks.register("transform_start", lambda payload: on_threads.append(threading.get_ident()))
    hooks.register("transform_success", lambda payload: on_threads.append(threading.get_ident()))
    assert run_project("Test Project", project_dir=root, hooks=hooks, quiet=True)["status"] == "success"
    location = TableLocation(Path(home["ODIBI_STORAGE_ROOT"]), "qat", "test_project", "Silver", "silver.thread")
    run_thread = int(read_frame(location)["thread"].iloc[0])
    assert on_threads == [threading.get_ident()] * 2 and run_thread != threading.get_ident()


SLOW_CHAIN = """
import os, time
from pathlib import Path

def slow(inputs):
    Path(os.environ["ODIBI_TEST_STARTED"]).touch()
    time.sleep(2)  # long enough for the caller to be interrupted while this step runs
    return inputs["bronze.readings"]

def after(inputs):
    return inputs["silver.slow"]
"""


def write_slow_chain(project_writer, manifest=None) -> Path:
    """bronze.readings -> t-slow (2 s, touches ODIBI_TEST_STARTED first) -> t-after."""
    return project_writer.write(
        manifest=manifest, sources=[{"source_id": "s1", "source_name": "bronze.readings", "file_format": "csv",
                                     "source_path_or_query": "r.csv"}],
        data={"r.csv": "a\n1\n2\n"}, functions=SLOW_CHAIN, transformations=[
            {"transformation_id": "t-slow", "layer": "Silver", "function": "slow", "inputs": ["bronze.readings"],
             "outputs": [{"table": "silver.slow"}]},
            {"transformation_id": "t-after", "layer": "Gold", "function": "after", "inputs": ["silver.slow"],
             "outputs": [{"table": "gold.after"}]}])


def interrupting_hooks(home, monkeypatch, again=None) -> HookManager:
    """Hooks that raise KeyboardInterrupt at t-slow's transform_start once its function is running
    (``again``: called just before, e.g. to send the second interrupt)."""
    started = Path(home["ODIBI_STORAGE_ROOT"]).parent / "slow_started"
    monkeypatch.setenv("ODIBI_TEST_STARTED", str(started))
    hooks = HookManager()

    def interrupt(payload):
        if payload["transformation_id"] == "t-slow":
            deadline = time.time() + 10
            while not started.exists() and time.time() < deadline:  # the step's function is running
                time.sleep(0.01)
            if again is not None:
                again()
            raise KeyboardInterrupt

    hooks.register("transform_start", interrupt)
    return hooks


@pytest.mark.parametrize(("instance", "retry"), [("in memory", 0), ("DAGSTER_HOME", 0), ("DAGSTER_HOME", 3)])
def test_an_interrupted_caller_stops_the_run_before_its_next_step(instance, retry, project_writer, home,
                                                                  monkeypatch):
    """Ctrl-C (here: a hook raising KeyboardInterrupt, which arrives the same way) reaches the
    caller while the run's thread is in a step: that step ends and is written, the steps after it
    neither run nor wait for retries (under a retry policy too), the run ends as canceled, and the
    interrupt is raised once the run's thread is done."""
    from odibi_dagster.assets import stopping

    monkeypatch.setenv("ODIBI_STORAGE_ROOT", home["ODIBI_STORAGE_ROOT"])
    if instance == "DAGSTER_HOME":
        monkeypatch.setenv("DAGSTER_HOME", home["DAGSTER_HOME"])
    root = write_slow_chain(project_writer, {"retry": {"max_retries": retry, "delay": 30}})
    hooks, sink, seen = interrupting_hooks(home, monkeypatch), ListSink(), []
    # registered after the interrupting hook: the interrupt must not cost them the event it came in
    for event in ("transform_start", "transform_success", "transform_failure", "orchestrator_run_end"):
        hooks.register(event, lambda payload, event=event: seen.append((event, payload)))
    with pytest.raises(KeyboardInterrupt):
        run_project("Test Project", project_dir=root, hooks=hooks, log_sink=sink, quiet=True)
    assert not [t for t in threading.enumerate() if t.name.startswith("odibi-run-")]  # the run's thread ended
    assert stopping._REQUESTED == set()
    # what the run did after the interrupt still reached the hooks and the sink
    assert [(r["transformation_id"], r["status"]) for r in sink.records] == [("s1", "SUCCESS"), ("t-slow", "SUCCESS")]
    assert [(event, p.get("transformation_id") or p["status"]) for event, p in seen] == [
        ("transform_start", "t-slow"), ("transform_success", "t-slow"), ("transform_start", "t-after"),
        ("transform_failure", "t-after"), ("orchestrator_run_end", "failed")]
    storage = Path(home["ODIBI_STORAGE_ROOT"])
    assert read_frame(TableLocation(storage, "qat", "test_project", "Silver", "silver.slow"))["a"].tolist() == [1, 2]
    assert TableLocation(storage, "qat", "test_project", "Gold", "gold.after").stored_format() is None
    if instance == "DAGSTER_HOME":
        with dg.DagsterInstance.get() as dagster_instance:
            [run] = dagster_instance.get_runs()
            assert run.status == dg.DagsterRunStatus.CANCELED
            kinds = [r.event_log_entry.dagster_event_type for r in dagster_instance.get_records_for_run(run.run_id).records
                     if r.event_log_entry.is_dagster_event]
            assert dg.DagsterEventType.STEP_UP_FOR_RETRY not in kinds
            assert kinds.count(dg.DagsterEventType.STEP_FAILURE) == 1  # t-after, stopped before it ran


def test_an_interrupt_after_the_run_ended_leaves_the_run_as_it_ended(project_writer, home, monkeypatch):
    from odibi_dagster.assets import stopping

    monkeypatch.setenv("ODIBI_STORAGE_ROOT", home["ODIBI_STORAGE_ROOT"])
    monkeypatch.setenv("DAGSTER_HOME", home["DAGSTER_HOME"])
    root = project_writer.write(functions=WHICH_THREAD, transformations=[
        {"transformation_id": "t-thread", "layer": "Silver", "function": "which_thread",
         "outputs": [{"table": "silver.thread"}]}])
    hooks = HookManager()

    def interrupt(payload):
        raise KeyboardInterrupt

    hooks.register("orchestrator_run_end", interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_project("Test Project", project_dir=root, hooks=hooks, quiet=True)
    assert stopping._REQUESTED == set()
    with dg.DagsterInstance.get() as instance:
        [run] = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.SUCCESS


def test_a_second_interrupt_marks_the_run_canceling_at_once(project_writer, home, monkeypatch):
    """The caller is interrupted again while it waits for the running step (a real SIGINT to this
    process): the run on DAGSTER_HOME is marked canceling at once instead of staying STARTED should
    the process end; if the process goes on, the run's thread starts no other step and ends the
    run as canceled, once."""
    import os
    import signal

    monkeypatch.setenv("ODIBI_STORAGE_ROOT", home["ODIBI_STORAGE_ROOT"])
    monkeypatch.setenv("DAGSTER_HOME", home["DAGSTER_HOME"])
    root = write_slow_chain(project_writer)
    hooks = interrupting_hooks(home, monkeypatch, again=lambda: threading.Timer(  # while the caller waits
        0.5, os.kill, (os.getpid(), signal.SIGINT)).start())
    with pytest.raises(KeyboardInterrupt):
        run_project("Test Project", project_dir=root, hooks=hooks, quiet=True)
    with dg.DagsterInstance.get() as instance:
        [run] = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.CANCELING  # at once, while t-slow still runs
    from odibi_dagster.assets import stopping

    # this process goes on, so the abandoned thread goes on with the run: wait for its last step's
    # end and its forgetting the stop request (not Thread.join: on CPython 3.11 a join that was
    # interrupted once reports the thread ended too early)
    ended = {dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}
    deadline, last = time.time() + 30, []
    while time.time() < deadline and (not last or stopping._REQUESTED):
        with dg.DagsterInstance.get() as instance:
            last = [r.event_log_entry.dagster_event_type for r in instance.get_records_for_run(run.run_id).records
                    if r.event_log_entry.step_key == "test_project__t_after"
                    and r.event_log_entry.dagster_event_type in ended]
        time.sleep(0.1)
    assert last == [dg.DagsterEventType.STEP_FAILURE]  # stopped before it ran
    assert stopping._REQUESTED == set()
    run_ends = {dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE, dg.DagsterEventType.RUN_CANCELED}
    with dg.DagsterInstance.get() as instance:
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.CANCELED
        assert [r.event_log_entry.dagster_event_type for r in instance.get_records_for_run(run.run_id).records
                if r.event_log_entry.dagster_event_type in run_ends] == [dg.DagsterEventType.RUN_CANCELED]
    storage = Path(home["ODIBI_STORAGE_ROOT"])
    assert TableLocation(storage, "qat", "test_project", "Gold", "gold.after").stored_format() is None


def wait_for_run_threads(seconds: float = 30) -> None:
    """Until the run's thread (and the one releasing its instance) have ended."""
    deadline = time.time() + seconds
    while time.time() < deadline and [t for t in threading.enumerate() if t.name.startswith("odibi-run-")]:
        time.sleep(0.05)


def test_a_ctrl_c_during_a_sink_write_loses_no_record(project_writer, home, monkeypatch):
    """A real SIGINT to this process while the caller's log sink writes a record: the write ends,
    the interrupt is raised right after it (the run stops before its next step), and each record
    reaches the sink once; before, the interrupt landed inside the write and the record was lost."""
    import os
    import signal

    monkeypatch.setenv("ODIBI_STORAGE_ROOT", home["ODIBI_STORAGE_ROOT"])
    started = Path(home["ODIBI_STORAGE_ROOT"]).parent / "slow_started"
    monkeypatch.setenv("ODIBI_TEST_STARTED", str(started))
    root = write_slow_chain(project_writer)

    class CtrlCWhileWriting(ListSink):
        def write(self, records):
            if not self.records:  # s1's record, once t-slow's function runs
                deadline = time.time() + 10
                while not started.exists() and time.time() < deadline:
                    time.sleep(0.01)
                os.kill(os.getpid(), signal.SIGINT)  # Python runs its handler before the next line
            super().write(records)

    sink = CtrlCWhileWriting()
    with pytest.raises(KeyboardInterrupt):
        run_project("Test Project", project_dir=root, log_sink=sink, quiet=True)
    assert [(r["transformation_id"], r["status"]) for r in sink.records] == [("s1", "SUCCESS"), ("t-slow", "SUCCESS")]
    storage = Path(home["ODIBI_STORAGE_ROOT"])
    assert TableLocation(storage, "qat", "test_project", "Gold", "gold.after").stored_format() is None


def test_a_second_interrupt_leaves_an_in_memory_run_its_instance(project_writer, home, monkeypatch):
    """Without DAGSTER_HOME, a second interrupt returns at once while the run's thread is still in
    a step: the in-memory instance stays open until that thread ends, so the step still writes its
    table and the run starts no other step (before, the instance was closed under the step)."""
    import os
    import signal

    from odibi_dagster.assets import stopping

    monkeypatch.setenv("ODIBI_STORAGE_ROOT", home["ODIBI_STORAGE_ROOT"])
    root = write_slow_chain(project_writer)
    hooks = interrupting_hooks(home, monkeypatch, again=lambda: threading.Timer(  # while the caller waits
        0.5, os.kill, (os.getpid(), signal.SIGINT)).start())
    made, ephemeral = [], dg.DagsterInstance.ephemeral
    monkeypatch.setattr(dg.DagsterInstance, "ephemeral", staticmethod(lambda: made.append(ephemeral()) or made[-1]))
    with pytest.raises(KeyboardInterrupt):
        run_project("Test Project", project_dir=root, hooks=hooks, quiet=True)
    assert [t for t in threading.enumerate() if t.name.startswith("odibi-run-")]  # at once: t-slow still runs
    wait_for_run_threads()
    assert not [t for t in threading.enumerate() if t.name.startswith("odibi-run-")]
    assert stopping._REQUESTED == set()
    storage = Path(home["ODIBI_STORAGE_ROOT"])
    assert read_frame(TableLocation(storage, "qat", "test_project", "Silver", "silver.slow"))["a"].tolist() == [1, 2]
    assert TableLocation(storage, "qat", "test_project", "Gold", "gold.after").stored_format() is None
    [instance] = made  # still open: the run's thread ended the run in it
    try:
        [run] = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.CANCELED
    finally:
        instance.dispose()


def test_a_second_ctrl_c_during_a_hanging_sink_write_does_not_wait(project_writer, home, monkeypatch):
    """The first Ctrl-C is held while the sink writes; a second one before the write ends (a sink
    that hangs) cuts the write and abandons the run at once: marked canceling, not waited for."""
    import os
    import signal

    from odibi_dagster.orchestration.live import RunAbandoned

    monkeypatch.setenv("ODIBI_STORAGE_ROOT", home["ODIBI_STORAGE_ROOT"])
    monkeypatch.setenv("DAGSTER_HOME", home["DAGSTER_HOME"])
    monkeypatch.setenv("ODIBI_TEST_STARTED", str(Path(home["ODIBI_STORAGE_ROOT"]).parent / "slow_started"))
    root = write_slow_chain(project_writer)
    cut, again = [], []

    class Hanging(ListSink):
        def write(self, records):
            os.kill(os.getpid(), signal.SIGINT)  # held: the write goes on
            try:
                again.append(time.time())
                os.kill(os.getpid(), signal.SIGINT)  # again, while the write hangs
                time.sleep(30)
            except KeyboardInterrupt as interrupt:
                cut.append(interrupt)
                raise
            super().write(records)

    with pytest.raises(KeyboardInterrupt) as raised:
        run_project("Test Project", project_dir=root, log_sink=Hanging(), quiet=True)
    assert time.time() - again[0] < 1.5  # neither the write (30 s) nor t-slow (2 s) was waited for
    assert isinstance(raised.value, RunAbandoned)
    assert len(cut) == 1
    with dg.DagsterInstance.get() as instance:
        [run] = instance.get_runs()
        assert run.status in (dg.DagsterRunStatus.CANCELING, dg.DagsterRunStatus.CANCELED)
    wait_for_run_threads()
    storage = Path(home["ODIBI_STORAGE_ROOT"])
    assert TableLocation(storage, "qat", "test_project", "Gold", "gold.after").stored_format() is None


def test_two_ctrl_c_after_the_run_ended_abandon_nothing(project_writer, home, monkeypatch):
    """Both interrupts come while the sink writes the last record, the run already ended: a plain
    interrupt, not RunAbandoned (the run stays a success, its instance is disposed as usual)."""
    import os
    import signal

    from odibi_dagster.assets import stopping
    from odibi_dagster.orchestration.live import RunAbandoned

    monkeypatch.setenv("ODIBI_STORAGE_ROOT", home["ODIBI_STORAGE_ROOT"])
    monkeypatch.setenv("DAGSTER_HOME", home["DAGSTER_HOME"])
    monkeypatch.setenv("ODIBI_TEST_STARTED", str(Path(home["ODIBI_STORAGE_ROOT"]).parent / "slow_started"))
    root = write_slow_chain(project_writer)

    class TwiceAtTheEnd(ListSink):
        def write(self, records):
            if records[-1]["transformation_id"] == "t-after":
                wait_for_run_threads()
                os.kill(os.getpid(), signal.SIGINT)
                os.kill(os.getpid(), signal.SIGINT)
            super().write(records)

    with pytest.raises(KeyboardInterrupt) as raised:
        run_project("Test Project", project_dir=root, log_sink=TwiceAtTheEnd(), quiet=True)
    assert not isinstance(raised.value, RunAbandoned)
    assert stopping._REQUESTED == set()
    with dg.DagsterInstance.get() as instance:
        [run] = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.SUCCESS
