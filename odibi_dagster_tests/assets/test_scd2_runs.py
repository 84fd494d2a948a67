"""An scd2 output in real Dagster runs: the example project's meter register keeps its history,
the materialization and the log record count the versions, and a failing check writes nothing."""

import shutil

import dagster as dg
import pytest
from deltalake import DeltaTable

from odibi_dagster.demo import READINGS_PROJECT_DIR
from odibi_dagster.logging import read_transformation_log
from odibi_dagster_tests.partitions.test_partitioned_runs import error_text, materialize

METERS = ["plant_readings/bronze/meters", "plant_readings/silver/meters"]


def test_the_meter_register_keeps_its_history(tmp_path):
    root = tmp_path / "plant_readings"
    shutil.copytree(READINGS_PROJECT_DIR, root, ignore=shutil.ignore_patterns("__pycache__"))
    storage = tmp_path / "storage"
    table = storage / "qat/plant_readings/Silver_1/silver.meters"
    with dg.instance_for_test() as instance:
        assert materialize(root, storage, instance, selection=METERS).success
        # M2 moves to the night tariff, M4 leaves the register, M5 joins it
        (root / "data/meters.csv").write_text(
            "meter,plant,tariff,changed_at\nM1,Argo,standard,2024-01-01 00:00:00\n"
            "M2,Argo, NIGHT ,2024-02-01 00:00:00\nM3,Birch,night,2024-01-01 00:00:00\n"
            "M5,Cedar,peak,2024-02-01 00:00:00\n")
        assert materialize(root, storage, instance, selection=METERS).success
        event = instance.get_latest_materialization_event(dg.AssetKey(["plant_readings", "silver", "meters"]))
        metadata = event.asset_materialization.metadata
        assert [metadata[f"odibi/scd2_{name}"].value for name in ("inserted", "closed", "unchanged")] == [2, 2, 2]
        log = read_transformation_log("Plant Readings", instance)
        last = log[log["transformation_id"] == "meters-dimension-silver"].iloc[-1]
        assert (last["scd2_inserted"], last["scd2_closed"], last["scd2_unchanged"]) == (2, 2, 2)
        assert last["rows_out"] == 4  # the function's rows (M1, M2, M3, M5), not the versions inserted
        version = DeltaTable(str(table)).version()
        # a tariff the check does not accept: the run fails before the merge, the table keeps its history
        (root / "data/meters.csv").write_text("meter,plant,tariff,changed_at\nM1,Argo,bogus,2024-03-01 00:00:00\n")
        result = materialize(root, storage, instance, selection=METERS)
        assert not result.success and "accepted_values__tariff" in error_text(result)
    assert DeltaTable(str(table)).version() == version
    history = DeltaTable(str(table)).to_pandas().sort_values(["meter", "valid_from"])
    rows = [(r.meter, r.tariff, str(r.valid_from)[:10], None if r.is_current else str(r.valid_to)[:10])
            for r in history.itertuples()]
    assert rows == [("M1", "standard", "2024-01-01", None), ("M2", "standard", "2024-01-01", "2024-02-01"),
                    ("M2", "night", "2024-02-01", None), ("M3", "night", "2024-01-01", None),
                    ("M4", "standard", "2024-01-01", rows[4][3]), ("M5", "peak", "2024-02-01", None)]
    assert rows[4][3] is not None  # M4 closed at the run's time


@pytest.mark.parametrize("engine", ["pandas", "spark"])
def test_an_scd2_records_rows_out_is_the_functions_rows_on_either_engine(engine, project_writer, tmp_path, request):
    """Spark counts a table's rows as it writes it; for scd2 that write counts the versions it
    inserted, which must not become the record's rows_out (pandas counts the function's frame)."""
    if engine == "spark":
        request.getfixturevalue("spark")
    root = project_writer.write(
        sources=[{"source_id": "s1", "source_name": "bronze.meters", "file_format": "csv",
                  "source_path_or_query": "meters.csv"}],
        data={"meters.csv": "meter,tariff\nM1,standard\nM2,night\nM3,peak\n"},
        functions="def same(inputs):\n    return inputs['bronze.meters']\n",
        transformations=[{"transformation_id": "t-meters", "layer": "Silver", "function": "same",
                          "inputs": ["bronze.meters"],
                          "outputs": [{"table": "silver.meters", "mode": "scd2", "merge_keys": ["meter"]}]}])
    run_config = {"resources": {"odibi_engine": {"config": {"engine": engine}}}}
    with dg.instance_for_test() as instance:
        for _ in range(2):  # three new keys, then the same rows again: nothing inserted
            assert materialize(root, tmp_path / "storage", instance, run_config=run_config).success
        log = read_transformation_log("Test Project", instance)
    runs = log[log["transformation_id"] == "t-meters"]
    assert [(r.rows_out, r.scd2_inserted, r.scd2_unchanged) for r in runs.itertuples()] == [(3, 3, 0), (3, 0, 3)]
