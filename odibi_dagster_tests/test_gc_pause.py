"""The garbage collector is paused while a code location loads and builds, and always
running again afterwards (also when the config is refused)."""

import gc
import subprocess
import sys

import pytest

from odibi_dagster.gc_pause import collection_paused


def test_the_collector_is_paused_inside_the_block_and_running_after_it():
    assert gc.isenabled()
    with collection_paused():
        assert not gc.isenabled()
        with collection_paused():  # nested: still paused, and the outer block turns it back on
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError), collection_paused():
        raise ValueError("a config error")
    assert gc.isenabled()


def test_an_application_that_turned_the_collector_off_keeps_it_off():
    gc.disable()
    try:
        with collection_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


LOAD = """
import gc, sys
try:
    import odibi_dagster.definitions as location
    print("loaded", len(location.defs.resolve_all_asset_specs()), gc.isenabled())
except Exception as error:
    print("refused", type(error).__name__, gc.isenabled())
"""


@pytest.mark.parametrize("valid", [True, False])
def test_the_code_location_module_leaves_the_collector_running(project_writer, valid, tmp_path):
    root = project_writer.write(
        sources=[{"source_id": "s1", "source_name": "bronze.a", "file_format": "csv", "source_path_or_query": "a.csv"}],
        transformations=[{"transformation_id": "t1", "layer": "Silver", "function": "passthrough",
                          "inputs": ["bronze.a" if valid else "bronze.missing"], "outputs": [{"table": "silver.a"}]}],
        functions="def passthrough(inputs):\n    return next(iter(inputs.values()))\n", data={"a.csv": "x\n1\n"})
    done = subprocess.run([sys.executable, "-c", LOAD], capture_output=True, text=True, cwd=tmp_path, check=True,
                          env={"PATH": "/usr/bin:/bin", "ODIBI_PROJECT_DIR": str(root), "HOME": str(tmp_path)})
    assert done.stdout.split() == (["loaded", "2", "True"] if valid else ["refused", "ConfigError", "True"])


def test_run_project_leaves_the_collector_running(project_writer, tmp_path, monkeypatch):
    from odibi_dagster.config.errors import ConfigError
    from odibi_dagster.orchestration import run_project

    monkeypatch.setenv("ODIBI_STORAGE_ROOT", str(tmp_path / "storage"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    good = project_writer.write(
        sources=[{"source_id": "s1", "source_name": "bronze.a", "file_format": "csv", "source_path_or_query": "a.csv"}],
        transformations=[], functions="", data={"a.csv": "x\n1\n"})
    assert run_project("Test Project", engine="pandas", project_dir=good, quiet=True)["status"] == "success"
    assert gc.isenabled()
    (good / "sources.yaml").write_text("- {source_id: s1, source_name: bronze.a, file_format: csv, bogus: 1}\n")
    with pytest.raises(ConfigError):
        run_project("Test Project", engine="pandas", project_dir=good, quiet=True)
    assert gc.isenabled()
