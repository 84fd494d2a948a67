"""The code passes the project's linter (ruff, configured in pyproject.toml)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_ruff_passes():
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "odibi_dagster", "odibi_dagster_tests", "benchmarks",
                           "--output-format", "concise"], cwd=REPO, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
