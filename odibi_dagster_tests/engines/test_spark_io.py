"""Spark tables at the shared locations through the local session (Delta through deltalake and
Arrow: no Delta jars here). The native format("delta") path runs the same checks in
spark_connect/test_native_delta.py against a Spark Connect server."""

import pytest

from odibi_dagster.engines.base import WriteSpec
from odibi_dagster.engines.spark_engine import SparkBackend
from odibi_dagster.engines.spark_session import SparkSettings
from odibi_dagster_tests.spark_table_cases import *
from odibi_dagster_tests.spark_table_cases import frame, stored


@pytest.fixture
def backend(spark):
    backend = SparkBackend(SparkSettings(), delta="auto")
    assert not backend.native_delta  # no Delta jars in the local session: auto chooses deltalake
    return backend


def test_append_with_schema_evolution(backend, location):
    backend.write_table(location, frame(backend, [1]), WriteSpec())
    backend.write_table(location, frame(backend, [2], extra=["x"]), WriteSpec(mode="append", schema_evolution=True))
    assert stored(location)["extra"].tolist() == [None, "x"]


def test_parquet_output_on_spark(backend, location):
    result = backend.write_table(location, frame(backend, [1, 2]), WriteSpec(format="parquet"))
    assert result.format == "parquet" and location.parquet_file.is_file() and result.row_count == 2
