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
import gc, os, sys
if os.environ.get("COLLECTOR_OFF"):
    gc.disable()
try:
    import odibi_dagster.definitions as location
    outcome = ["loaded", str(len(location.defs.resolve_all_asset_specs()))]
except Exception as error:
    outcome = ["refused", type(error).__name__]
running = gc.isenabled()
gc.unfreeze()  # what the code location froze must hold no garbage: frozen objects are never collected
print(*outcome, running, gc.collect() < 10_000)
"""
# cyclic garbage made while the functions module is imported, as a module building a lookup may leave
GARBAGE = """
class Node:
    def __init__(self):
        self.me = self

for _ in range(100_000):
    Node()

def passthrough(inputs):
    return next(iter(inputs.values()))
"""


@pytest.mark.parametrize(("valid", "collector_off"), [(True, False), (False, False), (True, True)])
def test_the_code_location_module_restores_the_collector_and_freezes_no_garbage(project_writer, valid,
                                                                                 collector_off, tmp_path):
    root = project_writer.write(
        sources=[{"source_id": "s1", "source_name": "bronze.a", "file_format": "csv", "source_path_or_query": "a.csv"}],
        transformations=[{"transformation_id": "t1", "layer": "Silver", "function": "passthrough",
                          "inputs": ["bronze.a" if valid else "bronze.missing"], "outputs": [{"table": "silver.a"}]}],
        functions=GARBAGE, data={"a.csv": "x\n1\n"})
    env = {"PATH": "/usr/bin:/bin", "ODIBI_PROJECT_DIR": str(root), "HOME": str(tmp_path)}
    if collector_off:
        env["COLLECTOR_OFF"] = "1"
    done = subprocess.run([sys.executable, "-c", LOAD], capture_output=True, text=True, cwd=tmp_path, check=True,
                          env=env)
    outcome = ["loaded", "2"] if valid else ["refused", "ConfigError"]
    assert done.stdout.split() == [*outcome, str(not collector_off), "True"], done.stderr[-2000:]


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
