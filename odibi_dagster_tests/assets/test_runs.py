"""Real Dagster runs of built definitions on a test instance: data, metadata and failures."""

import logging

import dagster as dg
import pandas as pd
import pytest

from odibi_dagster.assets import build_definitions
from odibi_dagster.config import load_project_folder
from odibi_dagster.engines.arrow_tables import read_frame
from odibi_dagster.engines.storage import TableLocation
from odibi_dagster_tests.conftest import failing_project


def run(defs, instance, selection=None, run_config=None):
    job = defs.resolve_implicit_global_asset_job_def()
    keys = [dg.AssetKey.from_user_string(s) for s in selection] if selection else None
    return job.execute_in_process(instance=instance, asset_selection=keys, run_config=run_config,
                                  raise_on_error=False)


def materialization(instance, key):
    event = instance.get_latest_materialization_event(dg.AssetKey.from_user_string(key))
    return event.asset_materialization if event else None


def failures(result):
    """Step key -> every message of the error chain (Dagster wraps user errors in a step error)."""
    out = {}
    for event in result.get_step_failure_events():
        error, messages = event.step_failure_data.error, []
        while error is not None:
            messages.append(error.message)
            error = error.cause
        out[event.step_key] = "".join(messages)
    return out


def started(result):
    return {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}


@pytest.fixture
def instance():
    with dg.instance_for_test() as test_instance:
        yield test_instance


def test_demo_materializes_every_asset_with_metadata(demo_dir, storage, instance):
    project = load_project_folder(demo_dir)
    defs = build_definitions(project, storage_root_dir=storage)
    result = run(defs, instance)
    assert result.success
    assert len(result.get_asset_materialization_events()) == 11  # with bronze.sensor_readings_quarantine
    meta = materialization(instance, "energy_efficiency/silver/sensor_readings").metadata
    assert meta["engine"].value == "pandas" and meta["format"].value == "parquet"
    path = storage / "qat" / "energy_efficiency" / "Silver_1" / "silver.sensor_readings"
    assert meta["path"].value == str(path) and (path / "data.parquet").is_file()
    stored = read_frame(TableLocation(storage, "qat", "energy_efficiency", "Silver_1", "silver.sensor_readings"))
    assert meta["dagster/row_count"].value == len(stored) > 0
    assert [c.name for c in meta["dagster/column_schema"].schema.columns] == list(stored.columns)
    bronze = materialization(instance, "energy_efficiency/bronze/sensor_readings").metadata
    # its checks: readings without fuel quarantined, negative steam dropped; the rest written
    quarantined = read_frame(TableLocation(storage, "qat", "energy_efficiency", "Bronze",
                                           "bronze.sensor_readings_quarantine"))
    assert bronze["odibi/log/rows_in"].value == 2_000 and bronze["odibi/log/rows_quarantined"].value == len(
        quarantined) > 0 and quarantined["fuel_kg"].isna().all()
    assert bronze["rows_written"].value == bronze["dagster/row_count"].value == 2_000 - len(quarantined) - bronze[
        "odibi/log/rows_dropped"].value
    assert bronze["odibi/log/rows_dropped"].value > 0
    assert stored["fuel_kg"].notna().all() and (stored["steam_kg"] >= 0).all()
    summary = read_frame(TableLocation(storage, "qat", "energy_efficiency", "Gold_2", "gold.plant_summary"))
    assert sorted(summary["plant_id"]) == ["P01", "P02", "P03", "P04"] and sorted(summary["rank"]) == [1, 2, 3, 4]
    weather = read_frame(TableLocation(storage, "qat", "energy_efficiency", "Bronze", "bronze.weather"))
    assert len(weather) == 40  # 4 plants x 10 days from the SQLite table

    daily = materialization(instance, "energy_efficiency/silver/boiler_daily").metadata
    assert daily["format"].value == "delta" and daily["delta_version"].value == 0
    assert run(defs, instance).success  # the merge output is upserted, not duplicated
    again = materialization(instance, "energy_efficiency/silver/boiler_daily").metadata
    assert again["delta_version"].value == 1 and again["dagster/row_count"].value == daily["dagster/row_count"].value


def test_subset_of_a_multi_output_transformation(demo_dir, storage, instance):
    defs = build_definitions(load_project_folder(demo_dir), storage_root_dir=storage)
    assert run(defs, instance, selection=None).success
    result = run(defs, instance, selection=["energy_efficiency/gold/efficiency_alerts"])
    assert result.success
    assert [e.asset_key.to_user_string() for e in result.get_asset_materialization_events()] == [
        "energy_efficiency/gold/efficiency_alerts"]


SOURCES = [
    {"source_id": "s-good", "source_name": "bronze.good", "file_format": "csv", "source_path_or_query": "good.csv"},
    {"source_id": "s-missing", "source_name": "bronze.missing", "file_format": "csv",
     "source_path_or_query": "data/missing.csv"},
]


def test_missing_source_file_fails_its_asset_only(project_writer, storage, instance):
    root = project_writer.write(sources=SOURCES, data={"good.csv": "a\n1\n"})
    result = run(build_definitions(load_project_folder(root), storage_root_dir=storage), instance)
    assert not result.success
    message = failures(result)["test_project__source__s_missing"]
    assert "source 's-missing': no file found at" in message and str(root / "data" / "missing.csv") in message
    assert materialization(instance, "test_project/bronze/good").metadata["dagster/row_count"].value == 1


def test_failing_transformation_skips_downstream_only(project_writer, storage, instance):
    root = failing_project(project_writer)
    result = run(build_definitions(load_project_folder(root), storage_root_dir=storage), instance)
    assert not result.success
    assert ("TransformationError: transformation 't-flaky' failed: ValueError: sensor feed corrupt"
            in failures(result)["test_project__t_flaky"])
    assert materialization(instance, "test_project/silver/ok").metadata["dagster/row_count"].value == 1  # good.csv
    assert {"test_project__t_ok", "test_project__t_flaky"} <= started(result)
    assert "test_project__t_after" not in started(result)  # downstream of the failure: never started
    assert materialization(instance, "test_project/gold/after") is None


APPENDING = """
def grow(constants):
    frame = pd.DataFrame({"a": [1, 2]})
    if constants.get("extra"):
        frame["b"] = "x"
    return frame
"""


def test_append_with_mismatched_schema_fails_and_keeps_table(project_writer, storage, instance):
    def write(extra, evolve=False):
        output = {"table": "silver.hist", "mode": "append", "schema_evolution": evolve}
        return project_writer.write(functions=APPENDING, transformations=[
            {"transformation_id": "t-grow", "layer": "Silver", "function": "grow", "constants": {"extra": extra},
             "outputs": [output]}])

    root = write(False)
    location = TableLocation(storage, "qat", "test_project", "Silver", "silver.hist")
    for _ in range(2):
        assert run(build_definitions(load_project_folder(root), storage_root_dir=storage), instance).success
    assert len(read_frame(location)) == 4
    root = write(True)
    result = run(build_definitions(load_project_folder(root), storage_root_dir=storage), instance)
    message = failures(result)["test_project__t_grow"]
    assert "append into 'silver.hist' refused" in message and "new columns ['b']" in message
    assert read_frame(location)["a"].tolist() == [1, 2, 1, 2]
    root = write(True, evolve=True)
    assert run(build_definitions(load_project_folder(root), storage_root_dir=storage), instance).success
    assert read_frame(location)["b"].tolist() == [None] * 4 + ["x", "x"]


SELF_MANAGED = """
import pyarrow as pa, pyarrow.parquet as pq, pathlib

def legacy(inputs, context):
    path = pathlib.Path(context.table_path("silver.legacy"))
    path.mkdir(parents=True, exist_ok=True)
    frame = inputs["bronze.good"].assign(doubled=lambda f: f["a"] * 2)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path / "data.parquet")

def downstream(inputs):
    return inputs["silver.legacy"]
"""


def test_self_managed_function_reports_what_it_wrote(project_writer, storage, instance):
    root = project_writer.write(sources=SOURCES[:1], data={"good.csv": "a\n1\n2\n3\n"}, functions=SELF_MANAGED,
                                transformations=[
        {"transformation_id": "t-legacy", "layer": "Silver", "function": "legacy", "io": "self_managed",
         "inputs": ["bronze.good"], "outputs": [{"table": "silver.legacy"}]},
        {"transformation_id": "t-down", "layer": "Gold", "function": "downstream", "inputs": ["silver.legacy"],
         "outputs": [{"table": "gold.down"}]}])
    assert run(build_definitions(load_project_folder(root), storage_root_dir=storage), instance).success
    meta = materialization(instance, "test_project/silver/legacy").metadata
    assert meta["dagster/row_count"].value == 3 and meta["odibi/io"].value == "self_managed"
    down = read_frame(TableLocation(storage, "qat", "test_project", "Gold", "gold.down"))
    assert down["doubled"].tolist() == [2, 4, 6]


CONVENTION = """
from odibi_dagster import odibi_function

@odibi_function(engine="pandas")
def inspect_call(inputs, constants, outputs, context, env, engine, spark):
    return pd.DataFrame({
        "inputs": [",".join(inputs)], "threshold": [constants["threshold"]], "out": [outputs[0]["table"]],
        "env": [env], "engine": [engine], "spark": [spark is None], "project": [context.project],
        "layer": [context.layer], "tid": [context.transformation_id], "plant": [context.plant],
        "rows": [len(inputs["bronze.b"]) + len(inputs["weather_q"])],
    })
"""


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_calling_convention_in_a_run(project_writer, storage, instance, request, database):
    """Every argument a function may declare, with a query input on SQLite and on PostgreSQL."""
    import sqlalchemy as sa
    if database == "sqlite":
        (project_writer.root).mkdir(parents=True)
        url = f"sqlite:///{project_writer.root / 'q.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = sa.create_engine(url)
    pd.DataFrame({"t": [1, 2, 3]}).to_sql("odibi_test_weather", engine, index=False)
    engine.dispose()
    sources = [{**SOURCES[0], "source_id": f"s-{n}", "source_name": f"bronze.{n}", "source_path_or_query": "good.csv"}
               for n in ("b", "a")]
    root = project_writer.write(sources=sources, data={"good.csv": "a\n1\n"}, functions=CONVENTION, transformations=[
        {"transformation_id": "t-inspect", "layer": "Silver", "function": "inspect_call", "entity_1": "Argo",
         "inputs": ["bronze.b", {"type": "query", "name": "weather_q",
                                 "sql": "SELECT t FROM odibi_test_weather WHERE t > 1", "connection": url},
                    {"table": "bronze.a"}],
         "constants": {"threshold": 7}, "outputs": [{"table": "silver.inspect"}]}])
    assert run(build_definitions(load_project_folder(root), storage_root_dir=storage), instance).success
    row = read_frame(TableLocation(storage, "qat", "test_project", "Silver", "silver.inspect")).iloc[0].to_dict()
    assert row == {"inputs": "bronze.b,weather_q,bronze.a", "threshold": 7, "out": "silver.inspect", "env": "qat",
                   "engine": "pandas", "spark": True, "project": "Test Project", "layer": "Silver",
                   "tid": "t-inspect", "plant": "Argo", "rows": 3}


def test_unknown_engine_in_run_config_fails_with_choices(demo_dir, storage, instance):
    defs = build_definitions(load_project_folder(demo_dir), storage_root_dir=storage)
    result = run(defs, instance, selection=["energy_efficiency/bronze/plants"],
                 run_config={"resources": {"odibi_engine": {"config": {"engine": "sparkk"}}}})
    assert not result.success
    assert started(result) == set()  # fails at resource start-up: no step runs, nothing is retried
    init = next(e for e in result.all_events if e.event_type_value == "RESOURCE_INIT_FAILURE")
    assert "unknown engine 'sparkk'; choose one of pandas, spark" in init.event_specific_data.error.message


def test_a_project_whose_slug_is_taken_cannot_write_into_the_other_projects_folder(tmp_path, storage, instance):
    from odibi_dagster_tests.conftest import ProjectWriter

    def project(name, value):
        writer = ProjectWriter(tmp_path / name.replace(" ", "_"))
        return load_project_folder(writer.write(
            manifest={"project_name": name}, data={"a.csv": f"x\n{value}\n"},
            sources=[{"source_id": "s1", "source_name": "bronze.a", "file_format": "csv",
                      "source_path_or_query": "a.csv"}]))

    assert run(build_definitions(project("Sales EU", 1), storage_root_dir=storage), instance).success
    other = run(build_definitions(project("sales-eu", 2), storage_root_dir=storage), instance)
    assert not other.success
    message = failures(other)["sales_eu__source__s1"]
    assert f"storage folder {storage / 'qat' / 'sales_eu'} belongs to project 'Sales EU'; project 'sales-eu' " \
           f"has the same slug 'sales_eu'" in message
    assert read_frame(TableLocation(storage, "qat", "sales_eu", "Bronze", "bronze.a"))["x"].tolist() == [1]
    assert run(build_definitions(project("SALES EU", 3), storage_root_dir=storage), instance).success  # same name


def test_an_append_table_whose_layer_was_renamed_warns_that_the_old_rows_are_no_longer_read(project_writer, storage,
                                                                                          instance):
    def write(layer):
        return project_writer.write(manifest={"layer_order": ["Bronze", layer, "Gold"]}, functions=APPENDING,
                                    transformations=[{"transformation_id": "t-grow", "layer": layer, "function": "grow",
                                                      "outputs": [{"table": "silver.hist", "mode": "append"}]}])

    assert run(build_definitions(load_project_folder(write("Silver")), storage_root_dir=storage), instance).success
    result = run(build_definitions(load_project_folder(write("Silver_1")), storage_root_dir=storage), instance)
    assert result.success
    old = storage / "qat" / "test_project" / "Silver" / "silver.hist"
    warnings = [entry.user_message for entry in instance.all_logs(result.run_id) if entry.level == logging.WARNING]
    assert [message for message in warnings if "starts anew" in message] == [
        (f"table 'silver.hist' (append) starts anew under layer 'Silver_1', but data of this table is stored under "
        f"layer 'Silver' ({old}): it is no longer read (was the layer renamed? move that folder to keep its rows)")]
    assert len(read_frame(TableLocation(storage, "qat", "test_project", "Silver_1", "silver.hist"))) == 2
    assert len(read_frame(TableLocation(storage, "qat", "test_project", "Silver", "silver.hist"))) == 2  # left as is
