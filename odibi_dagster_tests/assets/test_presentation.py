"""What the UI shows of an asset: markdown description, kinds, code references, column schemas."""

import inspect
from pathlib import Path

import dagster as dg
import pytest

from odibi_dagster.assets import build_definitions
from odibi_dagster.config import ConfigError, load_project_folder
from odibi_dagster.functions.modules import import_project_module


@pytest.fixture
def specs(demo_dir, storage):
    defs = build_definitions(load_project_folder(demo_dir), storage_root_dir=storage)
    return {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}


def markdown_rows(description: str) -> dict[str, str]:
    """The ``| **name** | value |`` rows of a description's table."""
    rows = {}
    for line in description.splitlines():
        if line.startswith("| **"):
            name, value = line.strip("| ").split(" | ", 1)
            rows[name.strip("*")] = value
    return rows


def test_transformation_description_is_markdown_with_what_runs(specs):
    description = specs["energy_efficiency/gold/efficiency_alerts"].description
    assert description.startswith("Plant-day efficiency with weather, and boiler-days far below their rating.\n\n")
    assert markdown_rows(description) == {
        "Transformation": "`energy-plant-daily-gold`",
        "Layer": "Gold_1",
        "Function": "`energy_functions.plant_daily_efficiency`",
        "Inputs": "`silver.boiler_daily`, `bronze.weather`",
        "Constants": "`alert_gap` = `0.08`",
        "Plant": "combined",
        "Output": "`gold.efficiency_alerts` (overwrite)",
    }
    merged = markdown_rows(specs["energy_efficiency/silver/boiler_daily"].description)
    assert merged["Output"] == "`silver.boiler_daily` (merge; keys boiler_id, date)"
    assert merged["Asset"] == "all boilers" and merged["Constants"] == "none"


def test_source_description_never_shows_connection_settings(project_writer, storage, monkeypatch):
    monkeypatch.setenv("ODIBI_TEST_DB_PASSWORD", "s3cret-pw")
    root = project_writer.write(sources=[{
        "source_id": "s|1", "source_name": "bronze.orders", "source_type": "sql", "file_format": "sql",
        "source_path_or_query": "SELECT a | b FROM orders",
        "source_options": {"header": True, "spark": {"fetchsize": 500, "password": "option-pw",
                                                     "Authorization": "Bearer literal-token", "sas": "sig=literal-sas"},
                           "pandas": {"storage_options": {"token": "nested-token"}}},
        "connection_config": {"url": "postgresql://etl:${ODIBI_TEST_DB_PASSWORD}@db/ops", "password": "literal-pw"}}])
    defs = build_definitions(load_project_folder(root), storage_root_dir=storage)
    spec = next(iter(defs.resolve_all_asset_specs()))
    text = spec.description + repr(spec.metadata)
    for secret in ("s3cret-pw", "literal-pw", "ODIBI_TEST_DB_PASSWORD", "option-pw", "literal-token", "literal-sas",
                   "nested-token"):
        assert secret not in text
    rows = markdown_rows(spec.description)
    assert rows["Source"] == "`s\\|1`" and rows["Path or query"] == "`SELECT a \\| b FROM orders`"  # pipes escaped
    assert rows["Options"] == ('`{"header": true, "spark": {"fetchsize": 500, "password": "***", "Authorization": '
                               '"***", "sas": "***"}, "pandas": {"storage_options": "***"}}`')
    assert spec.kinds == {"pandas", "parquet", "sql"}


def test_code_references_point_at_each_engines_function_and_the_config(specs, demo_dir):
    energy_functions = import_project_module("energy_functions", demo_dir)  # this copy's own module

    refs = specs["energy_efficiency/gold/plant_summary"].metadata["dagster/code_references"].code_references
    by_label = {ref.label: ref for ref in refs}
    assert set(by_label) == {"plant_summary (pandas)", "plant_summary (spark)", "transformations.yaml"}
    pandas_ref = by_label["plant_summary (pandas)"]
    assert pandas_ref.file_path == inspect.getsourcefile(energy_functions)
    assert pandas_ref.line_number == inspect.getsourcelines(energy_functions.plant_summary)[1]  # its decorator
    assert by_label["plant_summary (spark)"].line_number > pandas_ref.line_number  # the Spark variant, further down
    assert Path(by_label["transformations.yaml"].file_path) == demo_dir / "transformations.yaml"
    source_refs = specs["energy_efficiency/bronze/plants"].metadata["dagster/code_references"].code_references
    assert [(Path(ref.file_path), ref.label) for ref in source_refs] == [(demo_dir / "sources.yaml", "sources.yaml")]


def test_declared_columns_become_the_column_schema(specs):
    schema = specs["energy_efficiency/gold/plant_summary"].metadata["dagster/column_schema"]
    columns = {column.name: (column.type, column.description) for column in schema.columns}
    assert columns["rank"] == ("int64", "1 = the most efficient plant")
    assert columns["plant_id"] == ("?", "Plant identifier, as in the plant register")
    assert "dagster/column_schema" not in specs["energy_efficiency/gold/efficiency_alerts"].metadata


def test_materialized_schema_keeps_the_declared_descriptions(demo_dir, storage):
    defs = build_definitions(load_project_folder(demo_dir), storage_root_dir=storage)
    key = dg.AssetKey(["energy_efficiency", "gold", "plant_summary"])
    with dg.instance_for_test() as instance:
        assert defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance).success
        metadata = instance.get_latest_materialization_event(key).asset_materialization.metadata
    columns = {column.name: column for column in metadata["dagster/column_schema"].schema.columns}
    assert columns["rank"].type == "int64" and columns["rank"].description == "1 = the most efficient plant"
    assert columns["fuel_kg"].type == "double" and columns["fuel_kg"].description is None  # undocumented


def test_a_bad_column_spec_names_row_and_field(project_writer):
    root = project_writer.write(transformations=[{
        "transformation_id": "t1", "layer": "Silver", "function": "f",
        "outputs": [{"table": "silver.a", "columns": {"x": {"typ": "int"}}}]}],
        functions="def f():\n    return pd.DataFrame({'x': [1]})\n")
    with pytest.raises(ConfigError) as error:
        load_project_folder(root)
    assert "row 't1', field 'outputs.0.columns.x.typ': unknown key 'typ' (did you mean 'type'?)" in str(error.value)
