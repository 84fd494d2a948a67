"""Spark tables at the shared locations through the local session (Delta through deltalake and
Arrow: no Delta jars here). The native format("delta") path runs the same checks in
spark_connect/test_native_delta.py against a Spark Connect server."""

from datetime import datetime

import pandas as pd
import pytest

from odibi_dagster.engines.base import WriteSpec
from odibi_dagster.engines.pandas_tables import TableWriteError, read_frame, write_frame
from odibi_dagster.engines.spark_engine import SparkBackend
from odibi_dagster.engines.spark_session import SparkSettings
from odibi_dagster.engines.storage import TableLocation


@pytest.fixture
def backend(spark):
    backend = SparkBackend(SparkSettings(), delta="auto")
    assert not backend.native_delta  # no Delta jars in the local session: auto chooses deltalake
    return backend


@pytest.fixture
def location(tmp_path):
    return TableLocation(tmp_path, "qat", "proj", "Silver", "silver.t")


def frame(backend, ids, value=1.0, **extra):
    data = pd.DataFrame({"id": pd.Series(ids, dtype="int64"), "value": [float(value)] * len(ids), **extra})
    return backend.spark.createDataFrame(data)


def stored(location):
    return read_frame(location).sort_values("id").reset_index(drop=True)


def test_overwrite_append_merge(backend, location):
    result = backend.write_table(location, frame(backend, [1, 2]), WriteSpec())
    assert (result.format, result.row_count, result.delta_version) == ("delta", 2, 0)
    result = backend.write_table(location, frame(backend, [3]), WriteSpec(mode="append"))
    assert (result.row_count, result.delta_version) == (3, 1)
    result = backend.write_table(location, frame(backend, [2, 4], 5.0), WriteSpec(mode="merge", merge_keys=("id",)))
    assert (result.row_count, result.delta_version) == (4, 2)
    assert stored(location)[["id", "value"]].values.tolist() == [[1, 1.0], [2, 5.0], [3, 1.0], [4, 5.0]]
    back = backend.read_table(location).orderBy("id").toPandas()
    assert back["value"].tolist() == [1.0, 5.0, 1.0, 5.0]
    result = backend.write_table(location, frame(backend, [9]), WriteSpec())
    assert (result.row_count, stored(location)["id"].tolist()) == (1, [9])


def test_merge_with_duplicate_or_missing_keys_keeps_table(backend, location):
    backend.write_table(location, frame(backend, [1, 2]), WriteSpec())
    with pytest.raises(TableWriteError, match=r"merge_keys \['id'\] are not unique in the new data"):
        backend.write_table(location, frame(backend, [3, 3]), WriteSpec(mode="merge", merge_keys=("id",)))
    with pytest.raises(TableWriteError, match="needs merge_keys"):
        backend.write_table(location, frame(backend, [3]), WriteSpec(mode="merge"))
    assert stored(location)["id"].tolist() == [1, 2]


def test_append_with_new_column_is_refused_and_table_intact(backend, location):
    backend.write_table(location, frame(backend, [1]), WriteSpec())
    with pytest.raises(TableWriteError, match=r"append .*'silver.t' refused.*new columns|new columns.*refused"):
        backend.write_table(location, frame(backend, [2], extra=["x"]), WriteSpec(mode="append"))
    assert stored(location)["id"].tolist() == [1] and list(stored(location).columns) == ["id", "value"]


def test_append_with_schema_evolution(backend, location):
    backend.write_table(location, frame(backend, [1]), WriteSpec())
    backend.write_table(location, frame(backend, [2], extra=["x"]), WriteSpec(mode="append", schema_evolution=True))
    assert stored(location)["extra"].tolist() == [None, "x"]


def test_cross_engine_tables(backend, location):
    write_frame(location, pd.DataFrame({"id": [1, 2], "ts": [datetime(2026, 1, 1, 6), None]}))  # pandas parquet
    back = backend.read_table(location).orderBy("id").toPandas()
    assert back["id"].tolist() == [1, 2] and back["ts"].iloc[0] == pd.Timestamp("2026-01-01 06:00")
    backend.write_table(location, backend.read_table(location), WriteSpec())  # Spark rewrites it as Delta
    assert location.stored_format() == "delta" and not location.parquet_file.exists()
    again = stored(location)
    assert again["id"].tolist() == [1, 2] and pd.isna(again["ts"].iloc[1])


def test_parquet_output_on_spark(backend, location):
    result = backend.write_table(location, frame(backend, [1, 2]), WriteSpec(format="parquet"))
    assert result.format == "parquet" and location.parquet_file.is_file() and result.row_count == 2
