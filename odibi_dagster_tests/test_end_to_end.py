"""End to end through the dagster CLI, as users and CI run it: validate, list, materialize.

Each command runs in a fresh process with ODIBI_* variables, a DAGSTER_HOME and a storage root
of its own; results are read back from the instance and the stored tables.
"""

import itertools
import shutil
from pathlib import Path

import dagster as dg
import pytest

from odibi_dagster.config.sql import export_project
from odibi_dagster.engines.arrow_tables import read_frame
from odibi_dagster.engines.storage import TableLocation
from odibi_dagster_tests.conftest import dagster

pytestmark = pytest.mark.slow
RETAIL = Path(__file__).resolve().parent / "projects" / "retail_sales"


def materialized_keys(home: dict[str, str]) -> set[str]:
    with dg.DagsterInstance.from_config(home["DAGSTER_HOME"]) as instance:
        return {key.to_user_string() for key in instance.get_asset_keys()
                if instance.get_latest_materialization_event(key)}


def test_demo_through_the_cli(demo_dir, home, tmp_path):
    env = {**home, "ODIBI_PROJECT_DIR": str(demo_dir)}
    validated = dagster("definitions", "validate", "-m", "odibi_dagster.definitions", env=env, cwd=tmp_path)
    assert validated.returncode == 0, validated.stderr
    listed = dagster("asset", "list", "-m", "odibi_dagster.definitions", env=env, cwd=tmp_path)
    assert listed.returncode == 0 and "energy_efficiency/gold/plant_summary" in listed.stdout.split()
    done = dagster("asset", "materialize", "-m", "odibi_dagster.definitions", "--select", "*", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(materialized_keys(home)) == 11  # 10 tables and the quarantine table of bronze.sensor_readings
    summary = read_frame(TableLocation(Path(home["ODIBI_STORAGE_ROOT"]), "qat", "energy_efficiency", "Gold_2",
                                       "gold.plant_summary"))
    assert len(summary) == 4


def test_another_project_written_from_design_and_its_prod_rows(home, tmp_path):
    project = tmp_path / "retail_sales"
    shutil.copytree(RETAIL, project)
    env = {**home, "ODIBI_PROJECT_DIR": str(project)}
    done = dagster("asset", "materialize", "-m", "odibi_dagster.definitions", "--select", "*", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert materialized_keys(home) == {
        "retail_sales/raw/orders", "retail_sales/raw/stores", "retail_sales/clean/orders",
        "retail_sales/clean/stores_open", "retail_sales/clean/stores_closed", "retail_sales/mart/sales_by_store"}
    storage = Path(home["ODIBI_STORAGE_ROOT"])
    sales = read_frame(TableLocation(storage, "dev", "retail_sales", "Gold", "mart.sales_by_store"))
    assert dict(zip(sales["store_id"], sales["revenue"])) == {"S1": 24.5, "S2": 10.0}  # S2's n/a order dropped

    done = dagster("asset", "materialize", "-m", "odibi_dagster.definitions", "--select", "*",
                   env={**env, "ODIBI_ENV": "prod"}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    targets = read_frame(TableLocation(storage, "prod", "retail_sales", "Gold", "mart.sales_vs_target"))
    assert dict(zip(targets["store_id"], targets["met"])) == {"S1": True, "S2": True}
    assert set(targets["env"]) == {"prod"}


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_project_from_sql_tables(demo_dir, home, tmp_path, request, database):
    url = f"sqlite:///{tmp_path / 'config.db'}" if database == "sqlite" else request.getfixturevalue("postgres_url")
    export_project(demo_dir, url)
    env = {**home, "ODIBI_CONFIG_DB": url, "ODIBI_PROJECT": "energy efficiency", "ODIBI_ENV": "prod"}
    done = dagster("asset", "materialize", "-m", "odibi_dagster.definitions", "--select", "*", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    keys = materialized_keys(home)
    assert len(keys) == 12 and "energy_efficiency/gold/plant_summary_export" in keys


def test_config_error_stops_the_code_location(project_writer, home, tmp_path):
    root = project_writer.write(transformations=[{"transformation_id": "t1", "layer": "Silver", "fuction": "f",
                                                  "outputs": [{"table": "s.a"}]}])
    done = dagster("definitions", "validate", "-m", "odibi_dagster.definitions",
                   env={**home, "ODIBI_PROJECT_DIR": str(root)}, cwd=tmp_path)
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "row 't1', field 'fuction': unknown key 'fuction' (did you mean 'function'?)" in output


MP_FUNCS = """
import time

def slow(constants):
    start = time.time()
    time.sleep(3)  # longer than the spread of the worker processes' start-up
    return pd.DataFrame({"start": [start], "end": [time.time()]})
"""


def overlapping_steps(project_writer, home: dict[str, str], tmp_path: Path, max_workers: int) -> list[bool]:
    """Run three 3-second steps of one layer with ``max_workers`` through the CLI on ``home``'s
    instance; whether each step (by start time) overlapped the next."""
    rows = [{"transformation_id": f"t{n}", "layer": "Silver", "function": "slow", "constants": {"n": n},
             "outputs": [{"table": f"silver.t{n}"}]} for n in range(3)]
    root = project_writer.write(functions=MP_FUNCS, transformations=rows, manifest={
        "executor": "multiprocess", "layers": {"Silver": {"max_workers": max_workers}}})
    done = dagster("job", "execute", "-m", "odibi_dagster.definitions", "-j", "test_project",
                   env={**home, "ODIBI_PROJECT_DIR": str(root)}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    storage = Path(home["ODIBI_STORAGE_ROOT"])
    spans = sorted(
        tuple(read_frame(TableLocation(storage, "qat", "test_project", "Silver", f"silver.t{n}")).iloc[0])
        for n in range(3))
    return [earlier[1] > later[0] for earlier, later in itertools.pairwise(spans)]


@pytest.mark.parametrize("max_workers", [1, 3])
def test_max_workers_is_enforced_by_the_multiprocess_executor(project_writer, home, tmp_path, max_workers):
    """One worker: the layer's steps never overlap; three: they run in parallel (the positive control
    that the executor is multiprocess at all)."""
    overlapping = overlapping_steps(project_writer, home, tmp_path, max_workers)
    assert any(overlapping) == (max_workers > 1), overlapping
