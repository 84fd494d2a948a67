"""Partitions and incremental loads on Spark (the shared local session; Delta through Arrow, as
on these machines): the same windows, the same one-partition replace, the same refusal of rows
outside the window, the same high-water marks as on pandas."""

import dagster as dg
import pytest
from deltalake import DeltaTable

from odibi_dagster_tests.partitions.test_partitioned_runs import (
    DAILY,
    day_file,
    error_text,
    materialize,
    partition_rows,
)

SPARK = {"resources": {"odibi_engine": {"config": {"engine": "spark"}}}}
FUNCS = """
from pyspark.sql import functions as F

def tag_window(inputs, partition, constants):
    frame = inputs["bronze.readings"].withColumn("window", F.lit(partition.key))
    if constants.get("shift"):
        frame = frame.withColumn("reading_time", F.col("reading_time") + F.expr("INTERVAL 1 DAY"))
    return frame
"""


@pytest.fixture
def instance():
    with dg.instance_for_test() as test_instance:
        yield test_instance


def spark_project(project_writer, shift=False):
    return project_writer.write(
        manifest={"partitions": DAILY, "default_engine": "spark"},
        sources=[
            {"source_id": "src-readings", "source_name": "bronze.readings", "file_format": "csv",
             "source_path_or_query": "data/readings/{partition_key}.csv", "partition_column": "reading_time",
             "source_options": {"schema": {"reading_time": "timestamp"}}},
            {"source_id": "src-events", "source_name": "bronze.events", "file_format": "csv",
             "source_path_or_query": "data/events.csv", "incremental": {"column": "updated_at"},
             "source_options": {"schema": {"updated_at": "timestamp"}}}],
        transformations=[{"transformation_id": "readings-silver", "layer": "Silver", "function": "tag_window",
                          "inputs": ["bronze.readings"], "constants": {"shift": shift},
                          "outputs": [{"table": "silver.readings", "partition_column": "reading_time"}]}],
        functions=FUNCS,
        data={**{f"data/readings/2024-01-0{day}.csv": day_file(f"2024-01-0{day}") for day in (1, 2, 3)},
              "data/events.csv": "id,updated_at\n1,2024-01-01 00:00:00\n2,2024-01-02 00:00:00\n"})


def silver(storage):
    frame = DeltaTable(str(storage / "qat/test_project/Silver/silver.readings")).to_pandas()
    return frame.groupby(frame["reading_time"].dt.strftime("%Y-%m-%d"))["window"].agg(
        lambda windows: (len(windows), sorted(set(windows)))).to_dict()


READINGS = ["test_project/bronze/readings", "test_project/silver/readings"]


def test_spark_replaces_one_partition_and_a_range_like_pandas(project_writer, storage, instance, spark):
    root = spark_project(project_writer)
    for day in ("2024-01-01", "2024-01-02"):
        assert materialize(root, storage, instance, partition=day, selection=READINGS, run_config=SPARK).success
    (root / "data/readings/2024-01-02.csv").write_text(day_file("2024-01-02", rows=1))
    assert materialize(root, storage, instance, partition="2024-01-02", selection=READINGS, run_config=SPARK).success
    assert silver(storage) == {"2024-01-01": (3, ["2024-01-01"]), "2024-01-02": (1, ["2024-01-02"])}
    result = materialize(root, storage, instance, partition_range=("2024-01-02", "2024-01-03"), selection=READINGS,
                         run_config=SPARK)
    assert result.success, error_text(result)
    assert silver(storage) == {"2024-01-01": (3, ["2024-01-01"]), "2024-01-02": (1, ["2024-01-02...2024-01-03"]),
                               "2024-01-03": (3, ["2024-01-02...2024-01-03"])}
    assert partition_rows(result, "silver") == {"2024-01-02": (1, 1, 7), "2024-01-03": (3, 3, 7)}


def test_spark_refuses_rows_outside_the_partition(project_writer, storage, instance, spark):
    root = spark_project(project_writer, shift=True)
    result = materialize(root, storage, instance, partition="2024-01-01", selection=READINGS, run_config=SPARK)
    assert not result.success
    assert "3 row(s) lie outside partition 2024-01-01" in error_text(result)
    assert not (storage / "qat/test_project/Silver/silver.readings").exists()


def test_spark_reads_an_incremental_file_past_its_mark(project_writer, storage, instance, spark):
    root = spark_project(project_writer)
    events = ["test_project/bronze/events"]
    assert materialize(root, storage, instance, selection=events, run_config=SPARK).success
    with (root / "data/events.csv").open("a") as handle:
        handle.write("3,2024-01-03 00:00:00\n")
    assert materialize(root, storage, instance, selection=events, run_config=SPARK).success
    stored = DeltaTable(str(storage / "qat/test_project/Bronze/bronze.events")).to_pandas()
    assert sorted(stored["id"]) == [1, 2, 3]
    event = instance.get_latest_materialization_event(dg.AssetKey(["test_project", "bronze", "events"]))
    assert event.asset_materialization.metadata["odibi/high_water_mark"].value.startswith("2024-01-03T00:00:00")
    assert materialize(root, storage, instance, selection=events, run_config=SPARK).success
    event = instance.get_latest_materialization_event(dg.AssetKey(["test_project", "bronze", "events"]))
    assert event.asset_materialization.metadata["odibi/load"].value == "nothing new"


def test_rows_are_counted_per_partition_on_spark_as_on_pandas(spark):
    import pandas as pd

    from odibi_dagster.engines import arrow_windows, spark_windows
    from odibi_dagster.partitions.window import PartitionWindow

    frame = pd.DataFrame({"t": pd.to_datetime(["2024-01-01 05:00", "2024-01-02 01:00", "2024-01-02 23:59", None]),
                          "v": [1, 2, 3, 4]})
    window = PartitionWindow.of(dg.DailyPartitionsDefinition(start_date="2024-01-01"),
                                dg.PartitionKeyRange("2024-01-01", "2024-01-03"))
    expected = {"2024-01-01": 1, "2024-01-02": 2, "2024-01-03": 0}
    assert arrow_windows.count_per_partition(frame, "t", window, "here") == expected
    assert spark_windows.count_per_partition(spark.createDataFrame(frame), "t", window, "here") == expected
