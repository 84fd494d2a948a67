"""``init`` / ``initialize_project``: a new project that validates and materializes as created."""

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from odibi_dagster.assets import build_definitions
from odibi_dagster.cli.main import main
from odibi_dagster.config import load_project_folder
from odibi_dagster.engines.arrow_tables import read_frame
from odibi_dagster.engines.storage import TableLocation
from odibi_dagster.scaffold import PROJECT_TYPES, initialize_project
from odibi_dagster_tests.conftest import dagster


def expected_group_totals(project: Path) -> dict[str, float]:
    """What gold.group_summary must hold, computed straight from the sample files."""
    readings = pd.read_csv(project / "data" / "readings.csv")
    entities = pd.DataFrame(json.loads((project / "data" / "entities.json").read_text()))
    kept = readings[readings["value"].notna() & (readings["value"] >= 0) & (readings["status"] == "ok")]
    totals = kept.merge(entities, on="entity_id").groupby("group")["value"].sum()
    return {group: round(total, 6) for group, total in totals.items()}


@pytest.mark.parametrize("project_type", list(PROJECT_TYPES))
def test_every_type_validates_and_materializes(project_type, tmp_path):
    made = initialize_project(f"Sample {project_type}", project_type, tmp_path)
    root = Path(made["project_path"])
    assert root == tmp_path / f"sample_{project_type}"
    assert sorted(p.relative_to(root).as_posix() for p in map(Path, made["created_files"])) == sorted([
        "manifest.yaml", "sources.yaml", "transformations.yaml", f"sample_{project_type}_functions.py",
        "README.md", "data/readings.csv", "data/entities.json", ".odibi/schema/manifest.schema.json",
        ".odibi/schema/sources.schema.json", ".odibi/schema/transformations.schema.json"])
    project = load_project_folder(root)
    layers, labels = PROJECT_TYPES[project_type]
    assert project.manifest.layer_order == made["layer_order"] == layers
    assert project.manifest.entity_labels == labels and project.manifest.project_type == project_type
    assert project.layers_in_use() == layers  # every layer holds an asset
    defs = build_definitions(project, storage_root_dir=tmp_path / "storage")
    with dg.instance_for_test() as instance:
        assert defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance).success
    summary = read_frame(TableLocation(tmp_path / "storage", "qat", project.slug, layers[-1], "gold.group_summary"))
    assert {g: round(t, 6) for g, t in zip(summary["group"], summary["total"])} == expected_group_totals(root)
    assert list(summary["rank"]) == [1, 2, 3]


def test_readme_walks_through_the_project(tmp_path):
    made = initialize_project("Line Speeds", "manufacturing", tmp_path)
    readme = (Path(made["project_path"]) / "README.md").read_text()
    assert readme.startswith("# Line Speeds\n")
    assert f"python -m odibi_dagster validate --project-dir {made['project_path']}" in readme
    assert "line_speeds_functions.py" in readme and "Bronze, Silver_1, Silver_2, Gold_1, Gold_2" in readme
    assert "$" + "{" not in readme  # every placeholder filled


def test_a_name_starting_with_a_digit_gets_an_importable_module(tmp_path):
    made = initialize_project("2026 Plan", "analytics", tmp_path)
    project = load_project_folder(made["project_path"])
    assert project.slug == "2026_plan"
    assert {row.module for row in project.transformations} == {"project_2026_plan_functions"}


def test_bad_input_is_refused_and_nothing_is_overwritten(tmp_path, capsys):
    assert main(["init", "Sales", "--dir", str(tmp_path)]) == 0
    manifest = tmp_path / "sales" / "manifest.yaml"
    manifest.write_text(manifest.read_text() + "# my edit\n")
    capsys.readouterr()
    assert main(["init", "Sales", "--dir", str(tmp_path)]) == 1
    assert f"'{tmp_path / 'sales'}' already exists and is not empty" in capsys.readouterr().err
    assert manifest.read_text().endswith("# my edit\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["init", "Other", "--dir", str(tmp_path), "--type", "factory"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'factory' (choose from 'manufacturing', 'analytics'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown project type 'factory'; choose one of manufacturing"):
        initialize_project("Other", "factory", tmp_path)
    with pytest.raises(ValueError, match="a project needs a name"):
        initialize_project("  ", "custom", tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sales"]


@pytest.mark.slow
def test_init_then_validate_then_dagster_materialize(home, tmp_path):
    """The newcomer's path through the real commands, each in a fresh process."""
    cli = [sys.executable, "-m", "odibi_dagster"]
    made = subprocess.run([*cli, "init", "Boiler Room", "--dir", str(tmp_path / "projects"), "--type",
                           "manufacturing"], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert made.returncode == 0, made.stderr
    root = tmp_path / "projects" / "boiler_room"
    assert f"created project 'Boiler Room' (manufacturing) in {root}" in made.stdout
    validated = subprocess.run([*cli, "validate", "--project-dir", str(root)], capture_output=True, text=True,
                               cwd=tmp_path, check=False)
    assert validated.returncode == 0 and "6 assets from 2 sources and 4 transformations" in validated.stdout
    done = dagster("asset", "materialize", "-m", "odibi_dagster.definitions", "--select", "*",
                   env={**home, "ODIBI_PROJECT_DIR": str(root)}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    with dg.DagsterInstance.from_config(home["DAGSTER_HOME"]) as instance:
        assert {key.to_user_string() for key in instance.get_asset_keys()} == {
            "boiler_room/bronze/readings", "boiler_room/bronze/entities", "boiler_room/silver/readings_clean",
            "boiler_room/silver/readings_enriched", "boiler_room/gold/daily_totals", "boiler_room/gold/group_summary"}
    summary = read_frame(TableLocation(Path(home["ODIBI_STORAGE_ROOT"]), "qat", "boiler_room", "Gold_2",
                                       "gold.group_summary"))
    assert {g: round(t, 6) for g, t in zip(summary["group"], summary["total"])} == expected_group_totals(root)
