"""The benchmark script's quick mode runs and reports every key (no wall time is asserted here:
figures are recorded in benchmarks/RESULTS.md from full runs)."""

import json
import subprocess
import sys

import pytest

from odibi_dagster_tests.conftest import REPO

KEYS = {"pandas_overhead_ratio", "spark_overhead_ratio", "per_asset_overhead_ms", "parquet_io_ratio",
        "delta_io_vs_dagster_deltalake", "defs_load_s_1000", "defs_load_growth_5000_over_1000", "peak_rss_ratio",
        "hook_overhead_ratio", "per_asset_vs_bare_dagster", "defs_load_s_10000", "cli_vs_plain", "cli_ci_vs_plain",
        "cli_vs_bare_dagster", "bare_dagster_vs_plain", "bare_writing_vs_bare_dagster",
        "dq_overhead_ratio", "dq_overhead_ratio_spark", "partition_rerun_ratio", "partition_rerun_ratio_spark",
        "incremental_ratio", "scd2_ratio", "scd2_ratio_spark"}
# measured by full runs only: they install Odibi from PyPI into a virtualenv of its own
FULL_RUN_ONLY = {"cli_vs_odibi", "cli_ci_vs_odibi"}


@pytest.mark.slow
def test_quick_benchmarks_report_every_key():
    done = subprocess.run([sys.executable, "benchmarks/run.py", "--quick"], cwd=REPO, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(results) == KEYS and not set(results) & FULL_RUN_ONLY
    assert all(isinstance(value, (int, float)) and value > 0 for value in results.values()), results
