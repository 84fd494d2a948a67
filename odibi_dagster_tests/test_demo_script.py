"""The README's first command, ``bash scripts/demo.sh``, run as a user runs it: in a copy of the
repository (sharing this virtualenv, so its install step finds everything in place), with no
ODIBI_* or DAGSTER_HOME set."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from odibi_dagster.engines.arrow_tables import read_frame
from odibi_dagster.engines.storage import TableLocation
from odibi_dagster_tests.conftest import REPO, copy_checkout

pytestmark = pytest.mark.timeout(300)


def test_demo_sh_runs_the_demo_job_and_ends_with_a_summary(tmp_path):
    # demo.sh reinstalls when the virtualenv's stamp differs from pyproject.toml: from the copy, that
    # would point this shared virtualenv's editable install at a temporary folder
    stamp = REPO / ".venv" / ".odibi-installed"
    wanted = hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()
    if not stamp.is_file() or stamp.read_text().strip() != wanted:
        pytest.fail("the virtualenv is older than pyproject.toml: run `bash scripts/bootstrap.sh` (the test "
                    "command does) before this test")
    copy = copy_checkout(tmp_path / "checkout")
    (copy / ".venv").symlink_to(REPO / ".venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ODIBI_", "DAGSTER_"))}
    done = subprocess.run(["bash", "scripts/demo.sh"], cwd=copy, env=env, capture_output=True, text=True,
                          timeout=280, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    home = copy / ".dagster_home"
    assert f"running the demo's job (Dagster's event stream goes to {home / 'demo_run.log'})" in out
    assert "DEBUG" in (home / "demo_run.log").read_text() and "DEBUG" not in out  # the stream went to the file
    assert f"Open the UI on it:  DAGSTER_HOME={home} .venv/bin/dagster dev" in out
    storage = copy / "odibi_storage" / "qat" / "energy_efficiency"
    stored = {path.name: path for path in storage.glob("*/*") if path.is_dir()}
    assert len(stored) == 11, sorted(stored)  # the demo's tables in qat, under ./odibi_storage
    # the summary: one line per table written, "table rows format path", matching what is stored
    summary = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("  ") and
               line.split()[0] in stored}
    assert set(summary) == set(stored)
    for table, (_, rows, table_format, path) in summary.items():
        location = TableLocation(copy / "odibi_storage", "qat", "energy_efficiency", stored[table].parent.name, table)
        assert (Path(path), table_format) == (stored[table], location.stored_format())
        assert int(rows) == len(read_frame(location)), table
