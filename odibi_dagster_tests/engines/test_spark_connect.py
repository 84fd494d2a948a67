"""Runs the Spark Connect suite (``odibi_dagster_tests/spark_connect``) in its own pytest process.

pyspark switches ``pyspark.sql.functions`` to Spark Connect for a whole process once a Connect
session exists, so these tests cannot share a process with the local Spark session of the rest.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

SUITE = Path(__file__).resolve().parents[1] / "spark_connect"


@pytest.mark.slow
def test_spark_connect_suite(tmp_path):
    env = {**os.environ, "ODIBI_SPARK_CONNECT_SUITE": "1"}
    # in a folder of its own: the server's catalog tables go to ./spark-warehouse, never the checkout
    done = subprocess.run([sys.executable, "-m", "pytest", str(SUITE), "-q", "-p", "no:cacheprovider"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " passed" in done.stdout.splitlines()[-1] and "skipped" not in done.stdout.splitlines()[-1]
