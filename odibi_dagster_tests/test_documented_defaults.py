"""What the README says happens when nothing is named: each documented default, shown by loading
or running for real (no default is read back from the code that sets it)."""

from pathlib import Path

import dagster as dg
import pytest

from odibi_dagster.cli.main import main
from odibi_dagster.config import export_project, load_project_folder, load_project_from_environment
from odibi_dagster.config.settings import storage_root
from odibi_dagster.orchestration import run_project
from odibi_dagster.orchestration.discovery import find_project
from odibi_dagster_tests.conftest import DEMO_DIR, dagster

FUNCS = "def passthrough(inputs):\n    return next(iter(inputs.values()))\n"
UNSET = ("DAGSTER_HOME", "ODIBI_PROJECT_DIR", "ODIBI_CONFIG_DB", "ODIBI_PROJECT", "ODIBI_ENV", "ODIBI_ENGINE",
         "ODIBI_STORAGE_ROOT")


@pytest.fixture
def nothing_set(monkeypatch, tmp_path):
    for name in UNSET:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def small_project(project_writer) -> Path:
    return project_writer.write(
        sources=[{"source_id": "s1", "source_name": "bronze.a", "file_format": "csv", "source_path_or_query": "a.csv"}],
        transformations=[{"transformation_id": "t1", "layer": "Silver", "function": "passthrough",
                          "inputs": ["bronze.a"], "outputs": [{"table": "silver.a"}]},
                         {"transformation_id": "t2", "layer": "Gold", "function": "passthrough",
                          "inputs": ["silver.a"], "outputs": [{"table": "gold.a"}]}],
        functions=FUNCS, data={"a.csv": "x\n1\n2\n"})


def test_the_bundled_demo_is_loaded_when_no_project_is_named(nothing_set):
    project = load_project_from_environment()
    assert (project.name, project.env, project.root) == ("Energy Efficiency", "qat", DEMO_DIR)


def test_tables_go_to_odibi_storage_under_the_working_directory(nothing_set, project_writer):
    assert storage_root() == nothing_set / "odibi_storage"
    result = run_project("Test Project", engine="pandas", project_dir=small_project(project_writer), quiet=True)
    assert result["status"] == "success"
    assert (nothing_set / "odibi_storage/qat/test_project/Gold/gold.a/data.parquet").is_file()


def test_run_project_finds_its_project_each_documented_way(nothing_set, project_writer, monkeypatch):
    root = small_project(project_writer)
    monkeypatch.setenv("ODIBI_PROJECT_DIR", str(root))
    assert find_project("Test Project", None).origin == load_project_folder(root).origin
    assert run_project("Test Project", engine="pandas", quiet=True)["status"] == "success"
    monkeypatch.delenv("ODIBI_PROJECT_DIR")
    url = f"sqlite:///{nothing_set / 'config.db'}"
    export_project(root, url)
    monkeypatch.setenv("ODIBI_CONFIG_DB", url)
    from_sql = find_project("Test Project", None)
    assert from_sql.origin.startswith("sqlite:///") and [t.transformation_id for t in from_sql.transformations] == [
        "t1", "t2"]
    monkeypatch.delenv("ODIBI_CONFIG_DB")
    by_manifest = find_project("Test Project", None, manifest_path=root / "manifest.yaml")
    assert by_manifest.root == root
    with pytest.raises(FileNotFoundError, match="manifest_path '.*nowhere.yaml' does not exist"):
        find_project("Test Project", None, manifest_path=root / "nowhere.yaml")


def test_the_log_command_shows_the_last_n_runs(nothing_set, project_writer, home, monkeypatch, capsys):
    monkeypatch.setenv("DAGSTER_HOME", home["DAGSTER_HOME"])
    root = small_project(project_writer)
    for _ in range(2):
        assert run_project("Test Project", engine="pandas", project_dir=root, quiet=True)["status"] == "success"
    capsys.readouterr()
    assert main(["log", "--project", "Test Project", "--last", "2"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines()[1:] if line.strip()]
    assert len(lines) == 2 and "t2" in lines[-1].split()  # the newest last: the second run's gold step
    assert main(["log", "--project", "Test Project"]) == 0
    assert len([line for line in capsys.readouterr().out.splitlines()[1:] if line.strip()]) == 6


def test_a_layer_job_and_a_group_selection_run_that_layer_only(project_writer, home, tmp_path):
    root = small_project(project_writer)
    env = {**home, "ODIBI_PROJECT_DIR": str(root)}
    assert dagster("asset", "materialize", "-m", "odibi_dagster.definitions", "--select", "group:Bronze",
                   env=env, cwd=tmp_path).returncode == 0
    done = dagster("job", "execute", "-m", "odibi_dagster.definitions", "-j", "test_project__Silver", env=env,
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    with dg.DagsterInstance.from_config(home["DAGSTER_HOME"]) as instance:
        materialized = {key.to_user_string() for key in instance.get_asset_keys()
                        if instance.get_latest_materialization_event(key) is not None}
    assert materialized == {"test_project/bronze/a", "test_project/silver/a"}  # gold never ran
