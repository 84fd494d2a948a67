"""The transformation log in materialization metadata, read back from the instance."""

import re
from datetime import datetime

import dagster as dg
import pytest

from odibi_dagster.assets import build_definitions
from odibi_dagster.cli.main import main
from odibi_dagster.config import load_project_folder
from odibi_dagster.engines.arrow_tables import read_frame
from odibi_dagster.engines.storage import TableLocation
from odibi_dagster.logging import RECORD_FIELDS, read_transformation_log
from odibi_dagster_tests.conftest import failing_project


def run(defs, instance):
    return defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance, raise_on_error=False)


@pytest.fixture
def home_instance(tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        yield instance


def test_every_materialization_carries_its_record_and_the_reader_returns_one_row_per_run(
        demo_dir, storage, home_instance):
    defs = build_definitions(load_project_folder(demo_dir), storage_root_dir=storage)
    results = [run(defs, home_instance) for _ in range(2)]
    assert all(result.success for result in results)
    event = home_instance.get_latest_materialization_event(
        dg.AssetKey(["energy_efficiency", "silver", "sensor_readings"]))
    meta = event.asset_materialization.metadata
    assert meta["odibi/log/status"].value == "SUCCESS" and meta["odibi/log/run_id"].value == results[1].run_id
    stored = read_frame(TableLocation(storage, "qat", "energy_efficiency", "Silver_1", "silver.sensor_readings"))
    assert meta["odibi/log/rows_out"].value == meta["dagster/row_count"].value == len(stored)
    bronze_rows = home_instance.get_latest_materialization_event(dg.AssetKey(
        ["energy_efficiency", "bronze", "sensor_readings"])).asset_materialization.metadata["dagster/row_count"].value
    assert meta["odibi/log/rows_in"].value == bronze_rows

    log = read_transformation_log("Energy Efficiency", home_instance)
    assert list(log.columns) == list(RECORD_FIELDS)
    assert len(log) == 18 and set(log["status"]) == {"SUCCESS"}  # (4 sources + 5 transformations) x 2 runs
    assert log.groupby("run_id").size().to_dict() == {results[0].run_id: 9, results[1].run_id: 9}
    bronze = log[log["transformation_id"] == "src-sensor-readings"].iloc[-1]
    assert (bronze["layer"], bronze["rows_in"]) == ("Bronze", 2_000)
    assert bronze["rows_out"] == bronze_rows == 2_000 - bronze["rows_dropped"] - bronze["rows_quarantined"]
    multi = log[log["transformation_id"] == "energy-plant-daily-gold"].iloc[-1]
    tables = [read_frame(TableLocation(storage, "qat", "energy_efficiency", "Gold_1", t))
              for t in ("gold.plant_daily_efficiency", "gold.efficiency_alerts")]
    assert multi["rows_out"] == sum(len(t) for t in tables)
    assert (multi["plant"], multi["engine"], multi["attempt"], multi["layer"]) == ("combined", "pandas", 1, "Gold_1")
    assert (log["end_time"] >= log["start_time"]).all()
    assert read_transformation_log("Energy Efficiency", home_instance, since=datetime.now()).empty


def test_a_failed_run_keeps_its_record(project_writer, storage, home_instance, capsys):
    defs = build_definitions(load_project_folder(failing_project(project_writer, retries=1)), storage_root_dir=storage)
    assert not run(defs, home_instance).success
    log = read_transformation_log("Test Project", home_instance)
    failed = log[log["status"] == "FAILED"]
    assert failed["transformation_id"].tolist() == ["t-flaky"] and failed["attempt"].tolist() == [2]
    assert "ValueError: sensor feed corrupt" in failed["error_message"].iloc[0]
    assert log[log["transformation_id"] == "t-ok"]["status"].tolist() == ["SUCCESS"]

    assert main(["log", "--project", "Test Project", "--status", "failed"]) == 0
    out = capsys.readouterr().out
    assert "t-flaky" in out and "FAILED" in out and "t-ok" not in out
    header, row = out.splitlines()  # one line a run, each column left-aligned under its name
    assert row.index("t-flaky") == header.index("transformation_id")
    assert row.index("FAILED") == header.index("status")
    assert row[header.index("error_message"):] == "transformation 't-flaky' failed: ValueError: sensor feed corrupt"


def test_status_and_failed_commands(project_writer, storage, home_instance, capsys):
    defs = build_definitions(load_project_folder(failing_project(project_writer)), storage_root_dir=storage)
    assert not run(defs, home_instance).success
    assert main(["status", "--project", "Test Project"]) == 0
    out = capsys.readouterr().out
    assert "project 'Test Project' (all time): 3 transformation runs" in out  # a source and two transformations
    assert "  FAILED: 1" in out and "  SUCCESS: 2" in out and "average duration:" in out
    assert main(["failed", "--project", "Test Project", "--hours", "1"]) == 0
    out = capsys.readouterr().out
    assert "t-ok" not in out
    heading, message = out.splitlines()  # a block per failure, its message whole and left-aligned
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+00:00  t-flaky  \(layer Silver, attempt 1, run [0-9a-f-]{36}\)",
                        heading)
    assert message == "    transformation 't-flaky' failed: ValueError: sensor feed corrupt"
    # a project the instance has no assets of (a typo, or another DAGSTER_HOME): said so, exit 1
    for command in ("status", "failed", "log"):
        assert main([command, "--project", "Test Projcet"]) == 1
        assert (f"{command}: project 'Test Projcet' has no assets in the DAGSTER_HOME instance"
                in capsys.readouterr().err)
    assert "projects there: ['test_project']" in (main(["log", "--project", "Nobody"]), capsys.readouterr().err)[1]
    for bad in (["log", "--last", "0"], ["log", "--last", "-3"], ["failed", "--project", "Test Project", "--hours", "0"]):
        with pytest.raises(SystemExit):
            main(bad)
        assert "must be above 0" in capsys.readouterr().err


def test_the_reader_keeps_a_records_last_stored_copy():
    """A two-output step's record travels on both materializations; on Spark the first carries only
    the rows written so far. The reader keeps the copy stored last (whatever the keys' order)."""
    from datetime import timezone

    from odibi_dagster.logging.records import build_record, record_metadata

    now = datetime.now(timezone.utc)
    with dg.instance_for_test() as instance:
        for key, rows_out in ((["p", "a_written_first"], 120), (["p", "b_written_last"], 144)):
            record = build_record(transformation_id="t-two", project="P", env="qat", layer="Gold", engine="spark",
                                  labels=None, run_id="r1", start_time=now, end_time=now, status="SUCCESS",
                                  rows_out=rows_out, attempt=1)
            instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key,
                                                                        metadata=record_metadata(record)))
        log = read_transformation_log("P", instance)
    assert log["rows_out"].tolist() == [144]


def test_a_failed_attempts_record_names_the_tables_it_wrote_before_failing(project_writer, storage, home_instance):
    """Two outputs; the second's write fails (its folder is taken by a plain file) after the first
    was written: the table written stays, and the FAILED record says so."""
    root = project_writer.write(
        sources=[{"source_id": "s1", "source_name": "bronze.good", "file_format": "csv",
                  "source_path_or_query": "good.csv"}],
        data={"good.csv": "a\n1\n2\n3\n"},
        functions="def two(inputs):\n    frame = inputs['bronze.good']\n"
                  "    return {'silver.first': frame, 'silver.second': frame.head(1)}\n",
        transformations=[{"transformation_id": "t-two", "layer": "Silver", "function": "two",
                          "inputs": ["bronze.good"], "outputs": [{"table": "silver.first"}, {"table": "silver.second"}]}])
    blocked = TableLocation(storage, "qat", "test_project", "Silver", "silver.second").path
    blocked.parent.mkdir(parents=True)
    blocked.write_text("not a table")
    defs = build_definitions(load_project_folder(root), storage_root_dir=storage)
    assert not run(defs, home_instance).success
    assert len(read_frame(TableLocation(storage, "qat", "test_project", "Silver", "silver.first"))) == 3
    log = read_transformation_log("Test Project", home_instance)
    [failed] = log[log["transformation_id"] == "t-two"].itertuples()
    assert failed.status == "FAILED" and "silver.second" in failed.error_message
    assert failed.error_message.endswith("(written before the failure, and kept: silver.first)")
    # silver.first's materialization carries the record as it stood (SUCCESS); the FAILED record follows it
    first = dg.AssetKey(["test_project", "silver", "first"])
    [materialization] = home_instance.fetch_materializations(first, limit=10).records
    [observation] = home_instance.fetch_observations(first, limit=10).records
    assert materialization.asset_materialization.metadata["odibi/log/status"].value == "SUCCESS"
    assert observation.asset_observation.metadata["odibi/log/status"].value == "FAILED"
    assert observation.storage_id > materialization.storage_id
