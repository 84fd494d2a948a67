"""Loading a folder project: the demo, YAML/JSON variants, environments, disabled rows."""

import json
import sys

import pytest

from odibi_dagster.config import ConfigError, load_project_folder
from odibi_dagster.functions.modules import project_package


def test_demo_project_loads_with_every_field(demo_dir):
    project = load_project_folder(demo_dir)
    assert project.name == "Energy Efficiency" and project.slug == "energy_efficiency"
    assert project.env == "qat"
    assert project.manifest.layer_order == ["Bronze", "Silver_1", "Silver_2", "Gold_1", "Gold_2"]
    assert project.manifest.layers["Silver_1"].max_workers == 2
    assert {s.file_format for s in project.sources} == {"csv", "json", "parquet", "sql"}
    ids = [t.transformation_id for t in project.transformations]
    assert "energy-plant-summary-prod-export" not in ids  # prod row
    assert "energy-legacy-dryers-silver" not in ids  # disabled and broken on purpose
    multi = next(t for t in project.transformations if len(t.outputs) == 2)
    assert multi.output_tables == ["gold.plant_daily_efficiency", "gold.efficiency_alerts"]
    merge = next(o for t in project.transformations for o in t.outputs if o.mode == "merge")
    assert merge.merge_keys == ["boiler_id", "date"]
    assert project.table_layers["silver.boiler_daily"] == "Silver_2"
    assert project.table_layers["bronze.weather"] == "Bronze"


def test_env_selects_rows(demo_dir):
    prod = load_project_folder(demo_dir, env="prod")
    assert prod.env == "prod"
    assert "energy-plant-summary-prod-export" in [t.transformation_id for t in prod.transformations]


def test_json_files_and_wrapped_lists_are_accepted(project_writer):
    root = project_writer.write(
        transformations=[{"transformation_id": "t1", "layer": "Silver", "function": "f", "inputs": ["bronze.a"],
                          "outputs": [{"table": "silver.a"}]}],
        sources=[{"source_id": "s1", "source_name": "bronze.a", "file_format": "csv",
                  "source_path_or_query": "a.csv"}],
        functions="def f(inputs):\n    return inputs['bronze.a']\n",
    )
    (root / "manifest.yaml").rename(root / "manifest.json")
    (root / "manifest.json").write_text(json.dumps({"project_name": "Json Project",
                                                     "layer_order": ["Bronze", "Silver"]}))
    sources = (root / "sources.yaml").read_text()
    (root / "sources.yaml").write_text("sources:\n" + "".join(f"  {line}\n" for line in sources.splitlines()))
    project = load_project_folder(root)
    assert project.name == "Json Project"
    assert [s.source_id for s in project.sources] == ["s1"]


def test_the_folders_modules_load_under_the_projects_own_package(project_writer):
    root = project_writer.write(
        transformations=[{"transformation_id": "t1", "layer": "Silver", "function": "double",
                          "inputs": [], "outputs": [{"table": "silver.a"}]}],
        functions="def double(constants):\n    return pd.DataFrame({'x': [constants['x'] * 2]})\n",
    )
    load_project_folder(root)
    assert str(root.resolve()) not in sys.path  # never on sys.path: projects cannot shadow each other
    assert project_writer.module not in sys.modules
    assert f"{project_package(root)}.{project_writer.module}" in sys.modules


def test_json_text_fields_are_parsed(project_writer):
    root = project_writer.write(
        transformations=[{"transformation_id": "t1", "layer": "Silver", "function": "f", "inputs": "[]",
                          "constants": '{"threshold": 3}', "outputs": '[{"table": "silver.a", "mode": "append"}]'}],
        functions="def f():\n    return pd.DataFrame({'x': [1]})\n",
    )
    row = load_project_folder(root).transformations[0]
    assert row.constants == {"threshold": 3}
    assert row.outputs[0].mode == "append"


def test_missing_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_project_folder(tmp_path / "nope")
