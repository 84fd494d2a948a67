"""Hooks slower than Dagster's deadline for a sensor tick are still delivered exactly once.

A real ``dagster-daemon`` with a short tick deadline (``DAGSTER_SENSOR_GRPC_TIMEOUT_SECONDS=12``)
and a hook that sleeps 25 s per call: a tick that waited for it would time out before saving its
cursor, and every later tick would deliver the same events again.
"""

import os
import subprocess
import time
from collections import Counter

import pytest

from odibi_dagster_tests.conftest import BIN, REPO, dagster
from odibi_dagster_tests.hooks.test_sensors import events, step_sensor_cursor, wait_for, write_project

SLOW_HOOKS = """
import json, os, time

def register(hooks):
    def write(event):
        def callback(payload):
            with open(os.environ["ODIBI_TEST_HOOK_LOG"], "a") as handle:
                handle.write(json.dumps({"event": event, **payload}, default=str) + "\\n")
            if event == "transform_start":
                time.sleep(25)  # twice the tick's deadline
        return callback
    for event in ("orchestrator_run_start", "orchestrator_run_end", "layer_start", "layer_end", "transform_start",
                  "transform_success"):
        hooks.register(event, write(event))
"""


@pytest.mark.slow
def test_hooks_slower_than_the_tick_deadline_are_delivered_once(project_writer, home, tmp_path):
    root = write_project(project_writer, hooks_code=SLOW_HOOKS)
    log = tmp_path / "hooks.jsonl"
    env = {**home, "ODIBI_PROJECT_DIR": str(root), "ODIBI_TEST_HOOK_LOG": str(log),
           "DAGSTER_SENSOR_GRPC_TIMEOUT_SECONDS": "12"}
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ODIBI_")} | env
    daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")],
                              env=full_env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: step_sensor_cursor(home["DAGSTER_HOME"]) is not None, 120, "the step sensor's first tick")
        done = dagster("asset", "materialize", "-m", "odibi_dagster.definitions", "--select", "*", env=env,
                       cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
        wait_for(lambda: {"orchestrator_run_start", "orchestrator_run_end"} <= {e["event"] for e in events(log)} and
                 sum(e["event"] == "transform_success" for e in events(log)) == 2, 150, "the run's hook events")
        delivered = step_sensor_cursor(home["DAGSTER_HOME"])
        wait_for(lambda: step_sensor_cursor(home["DAGSTER_HOME"]) != delivered, 60, "one more tick")
        time.sleep(12)  # and more ticks of every sensor: nothing may come again
    finally:
        daemon.terminate()
        daemon.wait(30)
    assert Counter(e["event"] for e in events(log)) == {
        "orchestrator_run_start": 1, "layer_start": 2, "layer_end": 2, "transform_start": 2,
        "transform_success": 2, "orchestrator_run_end": 1}
