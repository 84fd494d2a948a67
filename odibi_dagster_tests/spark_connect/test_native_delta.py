"""The native Delta path (format("delta"), MERGE INTO) against a real Spark Connect server:
the shared table checks of spark_table_cases.py, so the code that runs on a cluster is tested too."""

import pytest

from odibi_dagster.engines.arrow_tables import TableWriteError
from odibi_dagster.engines.base import WriteSpec
from odibi_dagster.engines.spark_engine import SparkBackend
from odibi_dagster.engines.spark_session import SparkSettings, SparkUnavailable, get_session
from odibi_dagster_tests.spark_table_cases import *
from odibi_dagster_tests.spark_table_cases import frame, stored


@pytest.fixture
def backend(sail_url):
    backend = SparkBackend(SparkSettings(remote=sail_url), delta="auto")
    assert backend.native_delta  # a Spark Connect session: auto chooses format("delta")
    return backend


def test_a_local_session_cannot_join_a_connect_process(backend):
    backend.spark  # noqa: B018 - the Connect session exists
    with pytest.raises(SparkUnavailable, match="local Spark or Spark Connect, not both"):
        get_session(SparkSettings(master="local[1]"))


def test_catalog_tables(sail_url, location):
    backend = SparkBackend(SparkSettings(remote=sail_url), delta="auto", catalog=True)
    result = backend.write_table(location, frame(backend, [1, 2]), WriteSpec())
    assert result.extra == {"dagster/table_name": "silver.t"}
    backend.write_table(location, frame(backend, [2, 3], 7.0), WriteSpec(mode="merge", merge_keys=("id",)))
    by_name = backend.spark.table("silver.t").orderBy("id").toPandas()
    assert by_name["id"].tolist() == [1, 2, 3] and by_name["value"].tolist() == [1.0, 7.0, 7.0]
    assert stored(location)["id"].tolist() == [1, 2, 3]  # the same table at its path, for pandas
    assert backend.read_table(location).count() == 3


def test_catalog_tables_need_native_delta(backend, location):
    from odibi_dagster.engines.spark_tables import write_table

    with pytest.raises(TableWriteError, match="catalog tables need a session with native Delta"):
        write_table(backend.spark, location, frame(backend, [1]), WriteSpec(), native_delta=False, catalog=True)
    assert location.stored_format() is None


def test_spark_delta_log_sink_appends_to_a_catalog_table(backend):
    from datetime import datetime, timezone

    from odibi_dagster.logging import SparkDeltaLogSink, build_record

    now = datetime.now(timezone.utc)
    record = build_record(transformation_id="t1", project="P", env="qat", layer="Silver", engine="spark",
                          labels={"plant": "Argo"}, run_id="r1", start_time=now, end_time=now, status="SUCCESS",
                          rows_out=3, attempt=1)
    sink = SparkDeltaLogSink(backend.spark, "logs_schema.TransformationRunLog")
    sink.write([record])
    sink.write([{**record, "run_id": "r2"}])
    rows = backend.spark.table("logs_schema.TransformationRunLog").orderBy("run_id").toPandas()
    assert rows["run_id"].tolist() == ["r1", "r2"] and rows["plant"].tolist() == ["Argo", "Argo"]
    assert rows["rows_out"].tolist() == [3, 3]
