"""Dagster's instance on PostgreSQL (docs/dagster_postgres.yaml through dagster-postgres, a fresh
database per test on the machine's server; mandatory in CI): a CLI run, ``run_project``, the log
reader and a layer's concurrency limit work as on SQLite. The hook sensors and a schedule under
the daemon on this instance: ``test_daemon.py``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import dagster as dg
import pytest

from odibi_dagster.cli.main import main
from odibi_dagster.hooks import EVENTS, HookManager
from odibi_dagster.logging import read_transformation_log
from odibi_dagster.orchestration import run_project
from odibi_dagster_tests.conftest import dagster
from odibi_dagster_tests.test_end_to_end import overlapping_steps

FUNCS = """
def clean(inputs):
    return inputs["bronze.readings"].assign(ok=inputs["bronze.readings"]["a"] > 1)
"""


def write_project(project_writer) -> Path:
    return project_writer.write(
        sources=[{"source_id": "s1", "source_name": "bronze.readings", "file_format": "csv",
                  "source_path_or_query": "r.csv"}],
        data={"r.csv": "a\n1\n2\n3\n"}, functions=FUNCS, transformations=[
            {"transformation_id": "t-clean", "layer": "Silver", "function": "clean", "inputs": ["bronze.readings"],
             "outputs": [{"table": "silver.readings"}]}])


@pytest.fixture
def on_postgres(postgres_home, monkeypatch) -> dict[str, str]:
    """This process uses the PostgreSQL instance too (DagsterInstance.get(), the log reader)."""
    for name, value in postgres_home.items():
        monkeypatch.setenv(name, value)
    for name in ("ODIBI_PROJECT_DIR", "ODIBI_CONFIG_DB", "ODIBI_ENGINE"):
        monkeypatch.delenv(name, raising=False)
    return postgres_home


def test_a_cli_run_lands_in_postgres_and_the_log_reader_reads_it_back(project_writer, on_postgres, tmp_path,
                                                                       capsys):
    root = write_project(project_writer)
    done = dagster("asset", "materialize", "-m", "odibi_dagster.definitions", "--select", "*",
                   env={**on_postgres, "ODIBI_PROJECT_DIR": str(root)}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        (record,) = instance.get_run_records()
        assert record.dagster_run.status == dg.DagsterRunStatus.SUCCESS
        logged = read_transformation_log("Test Project", instance)
    assert list(zip(logged["transformation_id"], logged["status"], logged["rows_out"])) == [
        ("s1", "SUCCESS", 3), ("t-clean", "SUCCESS", 3)]
    assert set(logged["run_id"]) == {record.dagster_run.run_id}
    assert not (Path(on_postgres["DAGSTER_HOME"]) / "history").exists()  # nothing went to SQLite files
    capsys.readouterr()
    assert main(["log", "--project", "Test Project"]) == 0  # the log command reads the same instance
    lines = [line.split() for line in capsys.readouterr().out.splitlines()[1:] if line.strip()]
    assert [[word for word in line if word in ("s1", "t-clean", "SUCCESS")] for line in lines] == [
        ["s1", "SUCCESS"], ["t-clean", "SUCCESS"]]


def test_run_project_runs_on_the_postgres_instance_with_its_hooks(project_writer, on_postgres):
    root = write_project(project_writer)
    hooks, seen = HookManager(), []
    for event in EVENTS:
        hooks.register(event, lambda payload, event=event: seen.append(event))
    result = run_project("Test Project", project_dir=root, engine="pandas", hooks=hooks, quiet=True)
    assert result["status"] == "success" and result["failed"] == []
    assert Counter(seen) == {"orchestrator_run_start": 1, "bronze_start": 1, "bronze_end": 1, "layer_start": 1,
                             "layer_end": 1, "transform_start": 1, "transform_success": 1,
                             "orchestrator_run_end": 1}
    with dg.DagsterInstance.get() as instance:
        (record,) = instance.get_run_records()
        assert record.dagster_run.run_id == result["run_id"]
        logged = read_transformation_log("Test Project", instance)
    assert list(logged["transformation_id"]) == ["s1", "t-clean"] and set(logged["run_id"]) == {result["run_id"]}


def test_a_layers_max_workers_holds_on_the_postgres_instance(project_writer, postgres_home, tmp_path):
    """One worker: the steps never overlap (that three overlap is shown on SQLite, test_end_to_end.py)."""
    assert overlapping_steps(project_writer, postgres_home, tmp_path, max_workers=1) == [False, False]
