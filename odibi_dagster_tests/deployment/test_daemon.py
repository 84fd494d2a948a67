"""A real ``dagster-daemon`` on SQLite and on PostgreSQL at once: it fires a manifest schedule (a
cron at the coming minute, bronze only), the automation sensor then requests the eager silver
layer (and never the unautomated gold), and the hook sensors deliver each run's events exactly once."""

from __future__ import annotations

import os
import subprocess
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import pytest

from odibi_dagster_tests.conftest import BIN, REPO
from odibi_dagster_tests.hooks.test_sensors import events
from odibi_dagster_tests.hooks.test_sensors import write_project as write_sensor_project

SILVER = dg.AssetKey(["test_project", "silver", "readings"])
GOLD = dg.AssetKey(["test_project", "gold", "summary"])


def coming_minute() -> str:
    """A cron that fires once while the test waits: the next whole minute at least 50 s away (UTC).
    The daemons must be up by then (a schedule never fires for a minute before its first tick), and
    with the suite's other worker busy beside them they can take longer than 20 s to start."""
    at = datetime.now(timezone.utc) + timedelta(seconds=110)
    return f"{at.minute} {at.hour} * * *"


def write_project(project_writer) -> Path:
    """test_sensors' project (bronze, silver, gold, hooks), with a schedule of bronze at the coming
    minute and eager automation of silver."""
    return write_sensor_project(project_writer, manifest={
        "automation": {"Silver": "eager"},
        "schedules": [{"name": "soon", "cron": coming_minute(), "layers": ["Bronze"], "default_status": "running"}]})


class Daemon:
    """One instance's daemon and what the test reads from that instance."""

    def __init__(self, name: str, home: dict[str, str], root: Path, tmp_path: Path):
        self.name, self.log = name, tmp_path / f"hooks_{name}.jsonl"
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith(("ODIBI_", "DAGSTER_"))}, **home,
                    "ODIBI_PROJECT_DIR": str(root), "ODIBI_TEST_HOOK_LOG": str(self.log)}
        self.process = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")],
                                        env=self.env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                                        stderr=open(tmp_path / f"daemon_{name}.log", "w"))  # noqa: SIM115

    def runs(self) -> list[dg.DagsterRun]:
        saved = {name: os.environ.get(name) for name in self.env if name.startswith("DAGSTER_")}
        os.environ.update({k: v for k, v in self.env.items() if k.startswith("DAGSTER_")})
        try:
            with dg.DagsterInstance.get() as instance:
                return [record.dagster_run for record in instance.get_run_records()]
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def done(self) -> tuple[dg.DagsterRun, dg.DagsterRun] | None:
        """The successful schedule run and automation run, once both runs' hooks arrived (the
        payloads carry no run id: the run end events are counted)."""
        runs = self.runs()
        scheduled = [run for run in runs if run.tags.get("dagster/schedule_name") == "soon"
                     and run.status == dg.DagsterRunStatus.SUCCESS]
        automated = [run for run in runs if run.asset_selection and SILVER in run.asset_selection
                     and run.status == dg.DagsterRunStatus.SUCCESS]
        ended = sum(event["event"] == "orchestrator_run_end" for event in events(self.log))
        if scheduled and automated and ended == 2:
            return scheduled[-1], automated[-1]
        return None

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(60)


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_the_daemon_fires_the_schedule_then_automation_and_delivers_hooks_once(project_writer, home, postgres_home,
                                                                               tmp_path):
    root = write_project(project_writer)
    daemons = [Daemon("sqlite", home, root, tmp_path), Daemon("postgres", postgres_home, root, tmp_path)]
    results: dict[str, tuple[dg.DagsterRun, dg.DagsterRun]] = {}
    try:
        deadline = time.time() + 300  # the next minute, a run, an automation tick (30 s) and a run
        while time.time() < deadline and len(results) < len(daemons):
            for daemon in daemons:
                if daemon.name not in results and (found := daemon.done()):
                    results[daemon.name] = found
            time.sleep(2)
        time.sleep(6)  # one more sensor interval: anything delivered twice would show now
    finally:
        for daemon in daemons:
            daemon.stop()
    for daemon in daemons:
        assert daemon.name in results, f"{daemon.name}: no scheduled and automated run with hooks in 300 s: " \
                                       f"{[(r.tags, r.status) for r in daemon.runs()]}"
        scheduled, automated = results[daemon.name]
        assert scheduled.job_name == "test_project__soon_job"  # the schedule's job: layer Bronze only
        assert GOLD not in automated.asset_selection
        assert all(GOLD not in (run.asset_selection or set()) for run in daemon.runs())
        assert len(daemon.runs()) == 2  # the schedule fired once, the automation requested silver once
        delivered = events(daemon.log)
        assert Counter(e["event"] for e in delivered) == {
            "orchestrator_run_start": 2, "bronze_start": 1, "bronze_end": 1, "layer_start": 1, "transform_start": 1,
            "transform_success": 1, "layer_end": 1, "orchestrator_run_end": 2}, daemon.name
        ends = [e for e in delivered if e["event"] == "orchestrator_run_end"]
        assert sorted((e["status"], e["layers_executed"]) for e in ends) == [
            ("success", ["Bronze"]), ("success", ["Silver"])], daemon.name
