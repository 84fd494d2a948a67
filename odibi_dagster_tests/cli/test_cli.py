"""``python -m odibi_dagster validate | export``."""

import subprocess
import sys
from pathlib import Path

import pytest

from odibi_dagster.cli.main import main

RETAIL = Path(__file__).resolve().parents[1] / "projects" / "retail_sales"


def test_validate_prints_assets_per_layer(demo_dir, capsys):
    assert main(["validate", "--project-dir", str(demo_dir)]) == 0
    out = capsys.readouterr().out
    assert "project 'Energy Efficiency' (env qat)" in out and "11 assets from 4 sources and 5 transformations" in out
    assert "  Gold_1: 2 assets" in out and out.strip().endswith("OK")
    assert main(["validate", "--project-dir", str(demo_dir), "--env", "prod"]) == 0
    assert "  Gold_2: 2 assets" in capsys.readouterr().out


def test_validate_lists_every_error_and_exits_1(project_writer, capsys):
    root = project_writer.write(transformations=[
        {"transformation_id": "t1", "layer": "Silvr", "fuction": "f", "outputs": [{"table": "s.a"}]},
        {"transformation_id": "t2", "layer": "Silver", "function": "f", "inputs": ["nope.x"],
         "outputs": [{"table": "s.b"}]}])
    assert main(["validate", "--project-dir", str(root)]) == 1
    err = capsys.readouterr().err
    assert "configuration error(s)" in err
    assert "row 't1', field 'fuction': unknown key 'fuction' (did you mean 'function'?)" in err
    assert "row 't1', field 'function': missing required field" in err
    assert "row 't2', field 'inputs': input 'nope.x' is not provided" in err


def test_export_then_validate_from_the_database(demo_dir, tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'config.db'}"
    assert main(["export", "--project-dir", str(demo_dir), "--config-db", url]) == 0
    assert main(["validate", "--config-db", url, "--project", "Energy Efficiency", "--env", "prod"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("exported project 'Energy Efficiency' from ") and "config tables" in lines[0]
    assert lines[1] == "  ODIBI_CONFIG_DB='<url>' ODIBI_PROJECT='Energy Efficiency'"  # the URL is not echoed
    assert lines[2] == (f"project 'Energy Efficiency' (env prod) from {url}: 12 assets from 4 sources and 6 "
                        f"transformations")
    assert lines[3:] == ["  Bronze: 5 assets", "  Silver_1: 2 assets", "  Silver_2: 1 assets", "  Gold_1: 2 assets",
                         "  Gold_2: 2 assets", "OK"]


def test_export_refuses_a_broken_project(project_writer, tmp_path, capsys):
    root = project_writer.write(transformations=[{"transformation_id": "t1", "layer": "Nope", "function": "f",
                                                  "outputs": [{"table": "s.a"}]}])
    assert main(["export", "--project-dir", str(root), "--config-db", f"sqlite:///{tmp_path / 'c.db'}"]) == 1
    assert "layer 'Nope' is not in layer_order" in capsys.readouterr().err
    assert not (tmp_path / "c.db").exists()


def test_sql_config_needs_a_project_name(tmp_path, capsys):
    assert main(["validate", "--config-db", f"sqlite:///{tmp_path / 'c.db'}"]) == 1
    assert "needs a project name (ODIBI_PROJECT)" in capsys.readouterr().err


@pytest.mark.slow
def test_module_and_console_script(tmp_path):
    for command in ([sys.executable, "-m", "odibi_dagster"], [str(Path(sys.executable).parent / "odibi-dagster")]):
        done = subprocess.run([*command, "validate", "--project-dir", str(RETAIL)], capture_output=True, text=True,
                              check=False)
        assert done.returncode == 0, done.stderr
        assert "project 'Retail Sales' (env dev)" in done.stdout


def test_a_config_db_without_a_project_never_shows_its_password(capsys):
    url = "postgresql+psycopg2://postgres:CfgSecret99@127.0.0.1:5432/test"
    assert main(["validate", "--config-db", url]) == 1
    err = capsys.readouterr().err
    assert "a SQL config database needs a project name (ODIBI_PROJECT)" in err and "CfgSecret99" not in err
    assert main(["validate", "--config-db", "postgresql+psycopg2://u:p@ss:word99@h/x", "--project", "P"]) == 1
    err = capsys.readouterr().err
    assert "cannot be parsed" in err and "word99" not in err


def test_summary_takes_the_short_run_id_it_prints_and_fails_on_an_unknown_one(demo_dir, tmp_path, monkeypatch,
                                                                               capsys):
    import dagster as dg

    from odibi_dagster.assets import build_definitions
    from odibi_dagster.config import load_project_folder

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dg.DagsterInstance.get() as instance:
        result = build_definitions(load_project_folder(demo_dir), storage_root_dir=tmp_path / "s"
                                   ).resolve_implicit_global_asset_job_def().execute_in_process(instance=instance)
    assert main(["summary", "--run-id", result.run_id[:8]]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"run {result.run_id[:8]} of __ASSET_JOB: SUCCESS")
    assert "gold.plant_summary" in out and len(out.strip().splitlines()) == 13  # status, header, 11 tables
    assert main(["summary", "--run-id", "nope"]) == 1
    assert "no run nope on this instance" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["summary"], ["log", "--project", "x"], ["status", "--project", "x"],
                                     ["failed", "--project", "x"]])
def test_a_log_command_without_dagster_home_says_what_to_set(command, monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert main(command) == 2
    assert capsys.readouterr().err == f"{command[0]}: DAGSTER_HOME is not set; set it to the instance folder your " \
                                      f"runs used (scripts/demo.sh uses .dagster_home)\n"
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "typo"))  # Dagster's own error is a traceback
    assert main(command) == 2
    assert capsys.readouterr().err == f"{command[0]}: DAGSTER_HOME is {tmp_path / 'typo'}, which is not a folder; " \
                                      f"set it to the instance folder your runs used (scripts/demo.sh uses " \
                                      f".dagster_home)\n"
