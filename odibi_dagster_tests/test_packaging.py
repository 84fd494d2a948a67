"""A plain (non-editable) install stands on its own: the bundled demo loads and runs from any folder."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from odibi_dagster_tests.conftest import BIN, copy_checkout

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The package built as a wheel from a copy of the checkout (a stale build/ in the checkout cannot
    leak into it) and installed (without dependencies) into a folder of its own."""
    work = tmp_path_factory.mktemp("wheel")
    source = copy_checkout(work / "checkout")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w",
                    str(work / "dist"), str(source)], check=True, capture_output=True)
    wheel = next((work / "dist").glob("odibi_dagster-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(work / "site"),
                    str(wheel)], check=True, capture_output=True)
    return work / "site"


def run(args: list[str], site: Path, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ODIBI_", "DAGSTER_HOME"))}
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, check=False,
                          env={**clean, "PYTHONPATH": str(site), **env})


def test_the_installed_package_holds_the_demo_and_its_data(installed, tmp_path):
    code = ("import odibi_dagster.demo as d; print(d.__file__); "
            "print(sorted(p.name for p in (d.DEMO_PROJECT_DIR / 'data').iterdir()))")
    done = run([sys.executable, "-c", code], installed, tmp_path)
    assert done.returncode == 0, done.stderr
    where, files = done.stdout.splitlines()
    assert Path(where).is_relative_to(installed)  # not the checkout
    assert files == "['boilers.json', 'energy.db', 'plants.csv', 'sensor_readings.parquet']"


def test_validate_and_materialize_the_bundled_demo_from_any_folder(installed, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    validated = run([sys.executable, "-m", "odibi_dagster", "validate"], installed, tmp_path)
    assert validated.returncode == 0, validated.stderr
    assert f"from {installed}" in validated.stdout and "11 assets from 4 sources and 5 transformations" in \
        validated.stdout
    done = run([str(BIN / "dagster"), "asset", "materialize", "-m", "odibi_dagster.definitions", "--select", "*"],
               installed, tmp_path, DAGSTER_HOME=str(home), ODIBI_STORAGE_ROOT=str(tmp_path / "storage"))
    assert done.returncode == 0, done.stderr[-3000:]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        summary = instance.get_latest_materialization_event(dg.AssetKey(["energy_efficiency", "gold", "plant_summary"]))
    assert summary.asset_materialization.metadata["dagster/row_count"].value == 4
    assert not list(installed.rglob("odibi_storage"))  # nothing is written into the installed package
