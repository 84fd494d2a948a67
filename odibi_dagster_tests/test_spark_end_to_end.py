"""The Spark engine from the dagster CLI and in fresh processes: switching, sessions, no Java."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import pytest

from odibi_dagster_tests.conftest import BIN, dagster

pytestmark = pytest.mark.slow


def latest(home: dict, key: str):
    with dg.DagsterInstance.from_config(home["DAGSTER_HOME"]) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey.from_user_string(key))
        return event.asset_materialization.metadata


def check_spark_run(done, home):
    assert done.returncode == 0, done.stderr[-3000:]
    meta = latest(home, "energy_efficiency/gold/plant_summary")
    assert (meta["engine"].value, meta["format"].value) == ("spark", "delta")
    assert (Path(meta["path"].value) / "_delta_log").is_dir()


def test_odibi_engine_spark_from_the_environment(demo_dir, home, tmp_path):
    env = {**home, "ODIBI_PROJECT_DIR": str(demo_dir), "ODIBI_ENGINE": "spark"}
    done = dagster("asset", "materialize", "-m", "odibi_dagster.definitions", "--select", "*", env=env, cwd=tmp_path)
    check_spark_run(done, home)


def test_engine_spark_only_in_the_run_config(demo_dir, home, tmp_path):
    config = json.dumps({"resources": {"odibi_engine": {"config": {"engine": "spark"}}}})
    env = {**home, "ODIBI_PROJECT_DIR": str(demo_dir)}
    done = dagster("asset", "materialize", "-m", "odibi_dagster.definitions", "--select", "*", "--config-json",
                   config, env=env, cwd=tmp_path)
    check_spark_run(done, home)


def test_no_java_fails_fast_and_says_so(demo_dir, home, tmp_path):
    env = {**home, "ODIBI_PROJECT_DIR": str(demo_dir), "ODIBI_ENGINE": "spark", "PATH": str(BIN), "JAVA_HOME": ""}
    done = dagster("asset", "materialize", "-m", "odibi_dagster.definitions", "--select", "*", env=env, cwd=tmp_path)
    assert done.returncode != 0
    assert "the spark engine needs Java 17+: no 'java' on PATH and JAVA_HOME is not set" in done.stdout + done.stderr
    with dg.DagsterInstance.from_config(home["DAGSTER_HOME"]) as instance:
        assert not any(instance.get_latest_materialization_event(key) for key in instance.get_asset_keys())


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=300, check=False)


def test_a_pandas_run_never_loads_spark(demo_dir, tmp_path):
    done = run_python(f"""
        import sys, dagster as dg
        from odibi_dagster.assets import build_definitions
        from odibi_dagster.config import load_project_folder
        defs = build_definitions(load_project_folder({str(demo_dir)!r}), storage_root_dir={str(tmp_path)!r})
        with dg.instance_for_test() as instance:
            assert defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance).success
        print("pyspark loaded:", "pyspark" in sys.modules)
    """)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "pyspark loaded: False" in done.stdout


def test_spark_master_setting_and_clean_stop():
    done = run_python("""
        from odibi_dagster.engines.spark_session import SparkSettings, get_session, stop_sessions
        spark = get_session(SparkSettings(master="local[2]", conf=(("spark.sql.shuffle.partitions", "3"),)))
        print("master:", spark.sparkContext.master, "partitions:", spark.conf.get("spark.sql.shuffle.partitions"))
        assert get_session(SparkSettings(master="local[2]", conf=(("spark.sql.shuffle.partitions", "3"),))) is spark
        stop_sessions()
        print("stopped:", spark.sparkContext._jsc is None)
    """)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "master: local[2] partitions: 3" in done.stdout and "stopped: True" in done.stdout
