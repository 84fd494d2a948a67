"""Fixtures of the Spark Connect suite: a real pysail server (Spark Connect with native Delta)."""

import os

import pytest

if not os.environ.get("ODIBI_SPARK_CONNECT_SUITE"):
    pytest.skip("run through engines/test_spark_connect.py", allow_module_level=True)


@pytest.fixture(scope="session")
def sail_url():
    from pysail.spark import SparkConnectServer

    server = SparkConnectServer(ip="127.0.0.1", port=0)
    server.start(background=True)
    _, port = server.listening_address
    yield f"sc://127.0.0.1:{port}"
    from odibi_dagster.engines.spark_session import stop_sessions

    stop_sessions()  # before the server goes: a Connect session cannot stop without it
    server.stop()
