import shutil

import pytest


@pytest.fixture
def demo_cwd(demo_dir, tmp_path, monkeypatch):
    """A working directory holding projects/energy_efficiency, as the original's layout expects."""
    work = tmp_path / "work"
    shutil.copytree(demo_dir, work / "projects" / "energy_efficiency")
    monkeypatch.chdir(work)
    for name in ("DAGSTER_HOME", "ODIBI_PROJECT_DIR", "ODIBI_CONFIG_DB", "ODIBI_ENGINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ODIBI_STORAGE_ROOT", str(tmp_path / "storage"))
    return work
