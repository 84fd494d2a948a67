"""The Component as a Dagster user meets it: a project made by the real ``create-dagster``, then
``dg list components``, ``dg scaffold defs``, ``dg check yaml`` / ``dg check defs``, ``dg list defs``
and ``dg launch --assets``, each a subprocess in a temporary folder (``dg`` runs in this
virtualenv, as ENV-activated, with the new project on PYTHONPATH instead of installed)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

BIN = Path(sys.executable).parent

pytestmark = pytest.mark.timeout(300)


def run(*args: str, cwd: Path, env: dict[str, str], ok: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([str(BIN / args[0]), *args[1:]], check=False, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=240)
    if ok:
        assert done.returncode == 0, f"{args} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def dg_project(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    base = tmp_path_factory.mktemp("dg")
    env = {**os.environ, "VIRTUAL_ENV": str(BIN.parent), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(base / "plantops" / "src"), "DAGSTER_HOME": str(base / "home"),
           "NO_COLOR": "1", "COLUMNS": "200"}
    env = {key: value for key, value in env.items() if not key.startswith("ODIBI_")}
    (base / "home").mkdir()
    run("create-dagster", "project", "plantops", "--no-uv-sync", cwd=base, env=env)
    return base / "plantops", env


def test_dg_finds_scaffolds_checks_lists_and_launches_a_project(dg_project):
    root, env = dg_project
    listed = run("dg", "list", "components", "--json", cwd=root, env=env).stdout
    assert "odibi_dagster.OdibiProjectComponent" in {entry["key"] for entry in json.loads(listed)["items"]}

    run("dg", "scaffold", "defs", "odibi_dagster.OdibiProjectComponent", "energy", cwd=root, env=env)
    component = root / "src" / "plantops" / "defs" / "energy"
    assert yaml.safe_load((component / "defs.yaml").read_text()) == {
        "type": "odibi_dagster.OdibiProjectComponent", "attributes": {"project_dir": "energy"}}
    # a check on a source and automation, so that every kind of definition is there to list
    sources = yaml.safe_load((component / "energy" / "sources.yaml").read_text())
    sources[0]["checks"] = [{"type": "row_count", "min": 1}]
    (component / "energy" / "sources.yaml").write_text(yaml.safe_dump(sources))
    manifest = yaml.safe_load((component / "energy" / "manifest.yaml").read_text())
    (component / "energy" / "manifest.yaml").write_text(yaml.safe_dump({**manifest, "automation": {"Gold": "eager"}}))

    assert "All component YAML validated successfully" in run("dg", "check", "yaml", cwd=root, env=env).stdout
    assert "All definitions loaded successfully" in run("dg", "check", "defs", cwd=root, env=env).stdout
    defs = json.loads(run("dg", "list", "defs", "--json", cwd=root, env=env).stdout)
    assert {"energy/bronze/readings", "energy/bronze/entities", "energy/gold/daily_totals"} <= {
        asset["asset_key"] for asset in defs["assets"]}
    assert [check["key"] for check in defs["asset_checks"]] == ["energy/bronze/readings:row_count"]
    assert {"energy", "energy__Bronze", "energy__Silver", "energy__Gold"} <= {job["name"] for job in defs["jobs"]}
    assert [schedule["name"] for schedule in defs["schedules"]] == [f"energy__{manifest['schedules'][0]['name']}"]
    assert {"energy_automation", "energy_hooks_steps"} <= {sensor["name"] for sensor in defs["sensors"]}

    launched = run("dg", "launch", "--assets", "key:energy/bronze/*", cwd=root, env=env)
    assert "RUN_SUCCESS" in launched.stderr + launched.stdout
    bronze = root / "odibi_storage" / "qat" / "energy" / "Bronze"
    assert sorted(path.name for path in bronze.iterdir()) == ["bronze.entities", "bronze.readings"]


def test_dg_check_reports_a_bad_attribute_with_a_caret_and_a_bad_row_with_file_row_and_field(dg_project):
    root, env = dg_project
    component = root / "src" / "plantops" / "defs" / "broken"
    run("dg", "scaffold", "defs", "odibi_dagster.OdibiProjectComponent", "broken", cwd=root, env=env)
    good = (component / "defs.yaml").read_text()
    try:
        (component / "defs.yaml").write_text(good.replace("  project_dir: broken\n",
                                                          "  project_dir: broken\n  storage_rot: /data\n"))
        # with a path: dg 1.13.27's `check yaml` keeps one defs.yaml per component type, so with two
        # odibi components (energy, broken) a plain `dg check yaml` checks only one of them
        checked = run("dg", "check", "yaml", str(component), cwd=root, env=env, ok=False)
        assert checked.returncode != 0
        text = checked.stdout + checked.stderr
        assert "storage_rot: /data" in text and "^ Additional properties are not allowed ('storage_rot' was " \
                                                "unexpected)" in text

        (component / "defs.yaml").write_text(good)
        rows = yaml.safe_load((component / "broken" / "transformations.yaml").read_text())
        rows[0]["layer"] = "Silvr"
        (component / "broken" / "transformations.yaml").write_text(yaml.safe_dump(rows))
        checked = run("dg", "check", "defs", cwd=root, env=env, ok=False)
        assert checked.returncode != 0
        assert f"transformations.yaml:1, row '{rows[0]['transformation_id']}', field 'layer': layer 'Silvr' is not " \
               f"in layer_order" in checked.stdout + checked.stderr
    finally:  # the module's other test lists this project's definitions: leave no broken component
        shutil.rmtree(component)
