"""The demo through Dagster on a Spark Connect server with native Delta, against a pandas run."""

import json
import shutil

import dagster as dg

from odibi_dagster.assets import build_definitions
from odibi_dagster.config import load_project_folder
from odibi_dagster.demo.generate_data import generate
from odibi_dagster.engines.arrow_tables import read_frame
from odibi_dagster.engines.storage import TableLocation
from odibi_dagster_tests.conftest import DEMO_DIR
from odibi_dagster_tests.parity import assert_same_gold


def test_demo_on_spark_connect_matches_pandas(sail_url, tmp_path):
    project_dir = tmp_path / "energy_efficiency"
    shutil.copytree(DEMO_DIR, project_dir, ignore=shutil.ignore_patterns("data", "__pycache__"))
    generate(2_000, project_dir / "data", days=10)
    # pysail reads JSON line by line and ignores multiLine (see the README): give it JSON lines
    boilers = project_dir / "data" / "boilers.json"
    boilers.write_text("\n".join(json.dumps(row) for row in json.loads(boilers.read_text())) + "\n")
    sources = project_dir / "sources.yaml"
    sources.write_text(sources.read_text().replace("multiline: true", "multiline: false"))
    defs = build_definitions(load_project_folder(project_dir), storage_root_dir=tmp_path / "native")
    job = defs.resolve_implicit_global_asset_job_def()
    config = {"resources": {"odibi_engine": {"config": {"engine": "spark", "spark_remote": sail_url}}}}
    with dg.instance_for_test() as instance:
        for _ in range(2):  # the second run MERGEs into silver.boiler_daily natively
            assert job.execute_in_process(instance=instance, run_config=config).success
        event = instance.get_latest_materialization_event(dg.AssetKey(["energy_efficiency", "silver", "boiler_daily"]))
        meta = event.asset_materialization.metadata
        assert (meta["engine"].value, meta["delta_version"].value) == ("spark", 1)
        pandas_defs = build_definitions(load_project_folder(project_dir), storage_root_dir=tmp_path / "pandas")
        assert pandas_defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance).success
    assert_same_gold(tmp_path / "pandas", tmp_path / "native")
    daily = read_frame(TableLocation(tmp_path / "native", "qat", "energy_efficiency", "Silver_2", "silver.boiler_daily"))
    assert not daily.duplicated(["boiler_id", "date"]).any()
