"""The demo through Dagster on Spark: the engine switch, parity with pandas, cross-engine inputs,
per-row overrides, cache_plan, and Spark that cannot start."""

import dagster as dg
import pytest

from odibi_dagster.assets import build_definitions
from odibi_dagster.config import load_project_folder
from odibi_dagster.engines import spark_engine
from odibi_dagster.engines.arrow_tables import read_frame
from odibi_dagster.engines.storage import TableLocation
from odibi_dagster_tests.assets.test_runs import failures, materialization, run
from odibi_dagster_tests.parity import assert_same_gold

SPARK = {"resources": {"odibi_engine": {"config": {"engine": "spark"}}}}


@pytest.fixture
def instance():
    with dg.instance_for_test() as test_instance:
        yield test_instance


def test_engine_set_only_in_run_config_writes_delta(demo_dir, storage, instance, spark):
    defs = build_definitions(load_project_folder(demo_dir), storage_root_dir=storage)  # default: pandas
    assert run(defs, instance, run_config=SPARK).success
    meta = materialization(instance, "energy_efficiency/gold/plant_summary").metadata
    assert (meta["engine"].value, meta["format"].value, meta["delta_version"].value) == ("spark", "delta", 0)
    gold = storage / "qat" / "energy_efficiency" / "Gold_2" / "gold.plant_summary"
    assert (gold / "_delta_log").is_dir() and not (gold / "data.parquet").exists()
    assert meta["dagster/row_count"].value == 4


def test_parity_pandas_and_spark(demo_dir, tmp_path, instance, spark):
    project = load_project_folder(demo_dir)
    pandas_root, spark_root = tmp_path / "on_pandas", tmp_path / "on_spark"
    assert run(build_definitions(project, storage_root_dir=pandas_root, engine="pandas"), instance).success
    assert run(build_definitions(project, storage_root_dir=spark_root, engine="spark"), instance).success
    # the second run really ran on Spark: its tables are Delta and its metadata names the engine
    meta = materialization(instance, "energy_efficiency/gold/plant_summary").metadata
    assert (meta["engine"].value, meta["format"].value) == ("spark", "delta")
    assert (spark_root / "qat" / "energy_efficiency" / "Gold_2" / "gold.plant_summary" / "_delta_log").is_dir()
    assert_same_gold(pandas_root, spark_root)


def test_cross_engine_inputs_in_both_directions(demo_dir, storage, instance, spark):
    defs = build_definitions(load_project_folder(demo_dir), storage_root_dir=storage)
    gold = ["energy_efficiency/gold/plant_daily_efficiency", "energy_efficiency/gold/efficiency_alerts",
            "energy_efficiency/gold/plant_summary"]
    assert run(defs, instance).success  # everything on pandas: silver is parquet
    assert run(defs, instance, selection=gold, run_config=SPARK).success  # gold on Spark reads pandas' silver
    assert materialization(instance, gold[2]).metadata["engine"].value == "spark"
    silver = [key for key in (s.key.to_user_string() for s in defs.resolve_all_asset_specs()) if "/silver/" in key]
    assert run(defs, instance, selection=silver, run_config=SPARK).success  # silver on Spark (Delta)
    assert run(defs, instance, selection=gold).success  # gold on pandas reads Spark's silver
    summary = read_frame(TableLocation(storage, "qat", "energy_efficiency", "Gold_2", "gold.plant_summary"))
    assert sorted(summary["rank"]) == [1, 2, 3, 4]


OVERRIDE = """
def on_spark(inputs, spark, engine):
    frame = inputs["bronze.good"]
    assert engine == "spark" and spark is not None and type(frame).__module__.startswith("pyspark")
    return frame.withColumnRenamed("a", "b")

def on_pandas(inputs, engine):
    assert engine == "pandas"
    return inputs["silver.s"].assign(c=1)
"""


def test_per_row_engine_override(project_writer, storage, instance, spark):
    root = project_writer.write(
        sources=[{"source_id": "s1", "source_name": "bronze.good", "file_format": "csv",
                  "source_path_or_query": "good.csv"}],
        data={"good.csv": "a\n1\n2\n"}, functions=OVERRIDE, transformations=[
            {"transformation_id": "t-spark", "layer": "Silver", "function": "on_spark", "inputs": ["bronze.good"],
             "constants": {"engine": "spark"}, "outputs": [{"table": "silver.s"}]},
            {"transformation_id": "t-pandas", "layer": "Gold", "function": "on_pandas", "inputs": ["silver.s"],
             "outputs": [{"table": "gold.p"}]}])
    result = run(build_definitions(load_project_folder(root), storage_root_dir=storage), instance)
    assert result.success, failures(result)
    assert materialization(instance, "test_project/silver/s").metadata["engine"].value == "spark"
    assert materialization(instance, "test_project/gold/p").metadata["engine"].value == "pandas"
    assert read_frame(TableLocation(storage, "qat", "test_project", "Gold", "gold.p")).to_dict("list") == {
        "b": [1, 2], "c": [1, 1]}


def test_cache_plan_on_spark_and_the_pandas_warning(demo_dir, storage, instance, spark):
    defs = build_definitions(load_project_folder(demo_dir), storage_root_dir=storage)
    result = run(defs, instance, run_config=SPARK)
    assert result.success
    cached = [key for key in spark_engine.CACHED if key[0] == result.run_id]
    assert [key[1].rsplit("/", 1)[1] for key in cached] == ["silver.boiler_daily"]  # cached once, reused
    frame = spark_engine.CACHED[cached[0]]
    assert frame.is_cached

    result = run(defs, instance)  # pandas
    assert result.success
    warnings = [e.message for e in instance.all_logs(result.run_id)
                if e.level == 30 and "Caching not supported" in (e.message or "")]
    assert warnings and all(w.endswith("Caching not supported for pandas engine. Skipping cache for Silver_2")
                            for w in warnings)


def test_unreachable_spark_remote_fails_fast(demo_dir, storage, instance):
    defs = build_definitions(load_project_folder(demo_dir), storage_root_dir=storage)
    config = {"resources": {"odibi_engine": {"config": {"engine": "spark", "spark_remote": "sc://127.0.0.1:9"}}}}
    result = run(defs, instance, run_config=config)
    assert not result.success
    init = next(e for e in result.all_events if e.event_type_value == "RESOURCE_INIT_FAILURE")
    assert "cannot reach the Spark Connect server at 127.0.0.1:9 (spark_remote)" in init.event_specific_data.error.message


def test_the_demos_spark_ranking_keeps_its_partitions_and_ranks_like_pandas(demo_dir, spark):
    """Users copy the demo: its Spark functions must not move a whole table to one partition (a window
    without partitionBy does, with Spark's "No Partition Defined for Window operation" warning)."""
    import pandas as pd

    from odibi_dagster.functions.modules import import_project_module

    functions = import_project_module("energy_functions", demo_dir)
    daily = pd.DataFrame({"plant_id": ["P1", "P1", "P2", "P3", "P4"], "date": ["d1", "d2", "d1", "d1", "d1"],
                          "fuel_kg": [10.0, 10.0, 10.0, 10.0, 20.0], "steam_kg": [80.0, 90.0, 100.0, 100.0, 50.0],
                          "efficiency": [0.7, 0.8, 0.9, 0.9, 0.2], "avg_temp_c": [1.0, 2.0, 3.0, 4.0, 5.0]})
    ranked = functions.plant_summary_spark({"gold.plant_daily_efficiency": spark.createDataFrame(daily)})
    plan = ranked._jdf.queryExecution().executedPlan().toString()
    assert "SinglePartition" not in plan, plan
    expected = functions.plant_summary({"gold.plant_daily_efficiency": daily})
    got = ranked.toPandas().sort_values("plant_id").reset_index(drop=True)
    assert dict(zip(got["plant_id"], got["rank"])) == dict(zip(expected["plant_id"], expected["rank"])) == {
        "P1": 3, "P2": 1, "P3": 1, "P4": 4}  # ties share the lower rank ("min")


def test_checks_on_spark_write_the_rows_and_quarantine_pandas_writes(demo_dir, tmp_path, instance, spark):
    """The demo's checks (a quarantine, a drop, a warn) through Dagster on both engines: the same
    bronze table, the same quarantined readings, the same check results."""
    project = load_project_folder(demo_dir)
    roots = {engine: tmp_path / engine for engine in ("pandas", "spark")}
    results = {}
    for engine, root in roots.items():
        result = run(build_definitions(project, storage_root_dir=root, engine=engine), instance)
        assert result.success
        results[engine] = {(e.asset_check_evaluation_data.check_name, e.asset_check_evaluation_data.passed,
                            e.asset_check_evaluation_data.metadata["failed_rows"].value)
                           for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
                           and "failed_rows" in e.asset_check_evaluation_data.metadata}
    assert results["spark"] == results["pandas"]
    assert ("not_null__fuel_kg", False, 18) in results["pandas"]  # the demo data's readings without fuel
    tables = {}
    for engine, root in roots.items():
        quarantine = read_frame(TableLocation(root, "qat", "energy_efficiency", "Bronze",
                                              "bronze.sensor_readings_quarantine"))
        bronze = read_frame(TableLocation(root, "qat", "energy_efficiency", "Bronze", "bronze.sensor_readings"))
        tables[engine] = (sorted(quarantine["reading_id"]), sorted(bronze["reading_id"]),
                          set(quarantine["_failed_checks"]))
    assert tables["spark"] == tables["pandas"]
    assert tables["pandas"][2] == {"not_null__fuel_kg"}
    assert (roots["spark"] / "qat" / "energy_efficiency" / "Bronze" / "bronze.sensor_readings_quarantine"
            / "_delta_log").is_dir()  # stored like any Spark table: Delta


CACHE_FUNCS = """
def daily(inputs):
    return next(iter(inputs.values()))

def first(inputs):
    return next(iter(inputs.values()))

def second(inputs):
    return next(iter(inputs.values()))
"""


@pytest.mark.parametrize("cached", [True, False])
def test_a_cached_table_is_read_once_for_all_its_consumers(project_writer, storage, instance, spark, monkeypatch,
                                                          cached):
    """Two consumers of a cache_plan table: one read from storage; without cache_plan (the positive
    control), one read per consumer. The storage reads are counted with a pass-through spy."""
    from odibi_dagster.engines import spark_tables

    root = project_writer.write(
        manifest={"cache_plan": {"Silver": ["silver.daily"]}} if cached else {},
        sources=[{"source_id": "s1", "source_name": "bronze.good", "file_format": "csv",
                  "source_path_or_query": "good.csv"}],
        data={"good.csv": "a\n1\n2\n"}, functions=CACHE_FUNCS, transformations=[
            {"transformation_id": "t-daily", "layer": "Silver", "function": "daily", "inputs": ["bronze.good"],
             "outputs": [{"table": "silver.daily"}]},
            {"transformation_id": "t-first", "layer": "Gold", "function": "first", "inputs": ["silver.daily"],
             "outputs": [{"table": "gold.first"}]},
            {"transformation_id": "t-second", "layer": "Gold", "function": "second", "inputs": ["silver.daily"],
             "outputs": [{"table": "gold.second"}]}])
    reads = []
    original = spark_tables.read_table

    def counting(spark_session, location, *args, **kwargs):
        reads.append(location.table)
        return original(spark_session, location, *args, **kwargs)

    monkeypatch.setattr(spark_tables, "read_table", counting)
    result = run(build_definitions(load_project_folder(root), storage_root_dir=storage), instance, run_config=SPARK)
    assert result.success, failures(result)
    assert reads.count("silver.daily") == (1 if cached else 2)
    for table in ("gold.first", "gold.second"):
        assert sorted(read_frame(TableLocation(storage, "qat", "test_project", "Gold", table))["a"]) == [1, 2]


def test_failure_semantics_on_spark(project_writer, storage, instance, spark):
    """As on pandas: the failing step is retried, its attempts logged, downstream never starts, the
    rest is written."""
    from odibi_dagster.logging import read_transformation_log
    from odibi_dagster_tests.assets.test_runs import started
    from odibi_dagster_tests.conftest import failing_project

    root = failing_project(project_writer, retries=1)
    result = run(build_definitions(load_project_folder(root), storage_root_dir=storage), instance, run_config=SPARK)
    assert not result.success
    assert "ValueError: sensor feed corrupt" in failures(result)["test_project__t_flaky"]
    assert "test_project__t_after" not in started(result) and "test_project__t_ok" in started(result)
    assert materialization(instance, "test_project/silver/ok").metadata["engine"].value == "spark"
    assert materialization(instance, "test_project/gold/after") is None
    log = read_transformation_log("Test Project", instance)
    # the reader keeps each run's last attempt: the failed second one
    flaky = log[log["transformation_id"] == "t-flaky"]
    assert (flaky["status"].tolist(), flaky["attempt"].tolist(), flaky["engine"].tolist()) == (
        ["FAILED"], [2], ["spark"])
    retries = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert [e.step_key for e in retries] == ["test_project__t_flaky"]


SPARK_APPENDING = """
from pyspark.sql import functions as F

def grow(constants, spark):
    frame = spark.createDataFrame([(1,), (2,)], "a long")
    if constants.get("extra"):
        frame = frame.withColumn("b", F.lit("x"))
    return frame
"""


def test_append_refusal_and_schema_evolution_in_a_spark_run(project_writer, storage, instance, spark):
    def write(extra, evolve=False):
        output = {"table": "silver.hist", "mode": "append", "schema_evolution": evolve}
        return project_writer.write(functions=SPARK_APPENDING, transformations=[
            {"transformation_id": "t-grow", "layer": "Silver", "function": "grow", "constants": {"extra": extra},
             "outputs": [output]}])

    location = TableLocation(storage, "qat", "test_project", "Silver", "silver.hist")
    root = write(False)
    for _ in range(2):
        assert run(build_definitions(load_project_folder(root), storage_root_dir=storage), instance,
                   run_config=SPARK).success
    assert len(read_frame(location)) == 4
    root = write(True)
    result = run(build_definitions(load_project_folder(root), storage_root_dir=storage), instance, run_config=SPARK)
    message = failures(result)["test_project__t_grow"]
    assert "append into 'silver.hist' refused" in message and "new columns ['b']" in message
    assert sorted(read_frame(location)["a"]) == [1, 1, 2, 2] and "b" not in read_frame(location)
    root = write(True, evolve=True)
    assert run(build_definitions(load_project_folder(root), storage_root_dir=storage), instance,
               run_config=SPARK).success
    assert sorted(read_frame(location)["b"].fillna("")) == ["", "", "", "", "x", "x"]


SPARK_SELF_MANAGED = """
import pathlib
from pyspark.sql import functions as F

def legacy(inputs, context):
    path = pathlib.Path(context.table_path("silver.legacy"))
    path.mkdir(parents=True, exist_ok=True)
    frame = inputs["bronze.good"].withColumn("doubled", F.col("a") * 2)
    frame.toPandas().to_parquet(path / "data.parquet", index=False)

def downstream(inputs):
    return inputs["silver.legacy"]

def queried(inputs):
    return inputs["numbers"]
"""


def test_self_managed_and_query_inputs_on_spark(project_writer, storage, instance, spark):
    """A function that writes its own table, read downstream on Spark; a Spark SQL query input."""
    root = project_writer.write(
        sources=[{"source_id": "s1", "source_name": "bronze.good", "file_format": "csv",
                  "source_path_or_query": "good.csv"}],
        data={"good.csv": "a\n1\n2\n3\n"}, functions=SPARK_SELF_MANAGED, transformations=[
            {"transformation_id": "t-legacy", "layer": "Silver", "function": "legacy", "io": "self_managed",
             "inputs": ["bronze.good"], "outputs": [{"table": "silver.legacy"}]},
            {"transformation_id": "t-down", "layer": "Gold", "function": "downstream", "inputs": ["silver.legacy"],
             "outputs": [{"table": "gold.down"}]},
            {"transformation_id": "t-query", "layer": "Gold", "function": "queried",
             "inputs": [{"type": "query", "name": "numbers", "sql": "SELECT id * 10 AS n FROM range(3)"}],
             "outputs": [{"table": "gold.numbers"}]}])
    result = run(build_definitions(load_project_folder(root), storage_root_dir=storage), instance, run_config=SPARK)
    assert result.success, failures(result)
    meta = materialization(instance, "test_project/silver/legacy").metadata
    assert meta["dagster/row_count"].value == 3 and meta["odibi/io"].value == "self_managed"
    down = read_frame(TableLocation(storage, "qat", "test_project", "Gold", "gold.down"))
    assert sorted(down["doubled"]) == [2, 4, 6]
    numbers = read_frame(TableLocation(storage, "qat", "test_project", "Gold", "gold.numbers"))
    assert sorted(numbers["n"]) == [0, 10, 20]
    assert materialization(instance, "test_project/gold/numbers").metadata["engine"].value == "spark"


def test_a_subset_of_a_multi_output_row_on_spark(demo_dir, storage, instance, spark):
    defs = build_definitions(load_project_folder(demo_dir), storage_root_dir=storage)
    assert run(defs, instance, run_config=SPARK).success
    before = materialization(instance, "energy_efficiency/gold/plant_daily_efficiency").metadata["delta_version"]
    result = run(defs, instance, selection=["energy_efficiency/gold/efficiency_alerts"], run_config=SPARK)
    assert result.success
    assert [e.asset_key.to_user_string() for e in result.get_asset_materialization_events()] == [
        "energy_efficiency/gold/efficiency_alerts"]
    after = materialization(instance, "energy_efficiency/gold/plant_daily_efficiency").metadata["delta_version"]
    assert after.value == before.value  # the other output of the row was not rewritten


def test_a_bad_file_on_spark_fails_once_with_sparks_message_not_its_stack_trace(project_writer, storage, instance,
                                                                                 spark):
    """Two files whose headers order the columns differently: Spark fails the read as it writes the
    bronze table. The step fails once (a retry would read the same files), and the error, the
    record and Dagster's failure carry Spark's messages, not 10-20 KB of Java stack frames."""
    from odibi_dagster.logging import read_transformation_log

    root = project_writer.write(
        manifest={"retry": {"max_retries": 2, "delay": 0}},
        sources=[{"source_id": "s1", "source_name": "bronze.orders", "file_format": "csv",
                  "source_path_or_query": "data/*.csv"}],
        data={"data/a.csv": "id,v\n1,x\n", "data/b.csv": "v,id\ny,2\n"})
    defs = build_definitions(load_project_folder(root), storage_root_dir=storage, engine="spark")
    result = run(defs, instance)
    assert not result.success
    assert [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"] == []
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "\tat " not in failure.step_failure_data.error.to_string()  # nor is the Java error kept as a cause
    for text in (failure.step_failure_data.error.message,
                 read_transformation_log("Test Project", instance)["error_message"].iloc[0]):
        assert "\tat " not in text and len(text) < 2000, text[:3000]
        assert "b.csv" in text and "CSV header does not conform to the schema" in text


def test_a_spark_error_in_a_function_is_retried_and_summarized(project_writer, storage, instance, spark):
    from odibi_dagster.logging import read_transformation_log

    root = project_writer.write(
        manifest={"retry": {"max_retries": 1, "delay": 0}},
        sources=[{"source_id": "s1", "source_name": "bronze.a", "file_format": "csv", "source_path_or_query": "a.csv"}],
        data={"a.csv": "id\n1\n"},
        functions="def broken(inputs, spark):\n    return spark.sql('SELECT no_such_column FROM range(1)')\n",
        transformations=[{"transformation_id": "t1", "layer": "Silver", "function": "broken", "inputs": ["bronze.a"],
                          "outputs": [{"table": "silver.t1"}]}])
    result = run(build_definitions(load_project_folder(root), storage_root_dir=storage, engine="spark"), instance)
    assert not result.success
    errors = [e.event_specific_data.error for e in result.all_events
              if e.event_type_value in ("STEP_UP_FOR_RETRY", "STEP_FAILURE") and e.step_key.endswith("t1")]
    assert len(errors) == 2  # a query that fails may succeed the next time (a table being replaced): retried
    for error in errors:
        assert "\tat " not in error.to_string() and "no_such_column" in error.to_string()
    log = read_transformation_log("Test Project", instance)
    message = log.loc[log["transformation_id"] == "t1", "error_message"].iloc[0]
    assert "no_such_column" in message and "\tat " not in message and len(message) < 2000


UDF_FUNCTIONS = """
from pyspark.sql import functions as F
from pyspark.sql.types import LongType


def _doubled(value):  # a UDF at the module's top level: Spark's workers must be able to run it
    return value * 2


doubled = F.udf(_doubled, LongType())


def double_ids(inputs, spark):
    from . import late  # a sibling imported once Spark runs: the workers cannot import it by name either

    frame = inputs["bronze.a"]
    thrice = F.udf(lambda value: late.triple(value), LongType())
    return frame.withColumn("twice", doubled(frame["id"])).withColumn("thrice", thrice(frame["id"]))
"""


def test_a_udf_defined_at_a_project_modules_top_level_runs_on_spark(project_writer, storage, instance, spark):
    """The project's modules live in a package of this process only; the workers get them by value."""
    root = project_writer.write(
        sources=[{"source_id": "s1", "source_name": "bronze.a", "file_format": "csv", "source_path_or_query": "a.csv"}],
        data={"a.csv": "id\n1\n2\n", "late.py": "def triple(value):\n    return value * 3\n"},
        functions=UDF_FUNCTIONS,
        transformations=[{"transformation_id": "t1", "layer": "Silver", "function": "double_ids",
                          "inputs": ["bronze.a"], "outputs": [{"table": "silver.t1"}]}])
    result = run(build_definitions(load_project_folder(root), storage_root_dir=storage, engine="spark"), instance)
    assert result.success, failures(result)
    stored = read_frame(TableLocation(storage, "qat", "test_project", "Silver", "silver.t1"))
    assert sorted(stored["twice"]) == [2, 4] and sorted(stored["thrice"]) == [3, 6]
