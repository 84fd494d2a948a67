"""The native Delta path (format("delta"), MERGE INTO) against a real Spark Connect server.

The same checks as engines/test_spark_io.py, so the code that runs on a cluster is tested too.
"""

import pandas as pd
import pytest

from odibi_dagster.engines.base import WriteSpec
from odibi_dagster.engines.pandas_tables import TableWriteError, read_frame, write_frame
from odibi_dagster.engines.spark_engine import SparkBackend
from odibi_dagster.engines.spark_session import SparkSettings, SparkUnavailable, get_session
from odibi_dagster.engines.storage import TableLocation


@pytest.fixture
def backend(sail_url):
    backend = SparkBackend(SparkSettings(remote=sail_url), delta="auto")
    assert backend.native_delta  # a Spark Connect session: auto chooses format("delta")
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
    assert backend.read_table(location).orderBy("id").toPandas()["value"].tolist() == [1.0, 5.0, 1.0, 5.0]


def test_merge_with_duplicate_or_missing_keys_keeps_table(backend, location):
    backend.write_table(location, frame(backend, [1, 2]), WriteSpec())
    with pytest.raises(TableWriteError, match=r"merge_keys \['id'\] are not unique in the new data"):
        backend.write_table(location, frame(backend, [3, 3]), WriteSpec(mode="merge", merge_keys=("id",)))
    with pytest.raises(TableWriteError, match="needs merge_keys"):
        backend.write_table(location, frame(backend, [3]), WriteSpec(mode="merge"))
    assert stored(location)["id"].tolist() == [1, 2]


def test_append_with_new_column_is_refused_and_table_intact(backend, location):
    backend.write_table(location, frame(backend, [1]), WriteSpec())
    with pytest.raises(TableWriteError, match=r"append to 'silver.t' refused.*new columns \['extra'\]"):
        backend.write_table(location, frame(backend, [2], extra=["x"]), WriteSpec(mode="append"))
    assert stored(location)["id"].tolist() == [1] and list(stored(location).columns) == ["id", "value"]


def test_cross_engine_tables(backend, location):
    write_frame(location, pd.DataFrame({"id": [1, 2], "ts": [pd.Timestamp("2026-01-01 06:00"), None]}))
    back = backend.read_table(location).orderBy("id").toPandas()
    assert back["id"].tolist() == [1, 2] and back["ts"].iloc[0] == pd.Timestamp("2026-01-01 06:00")
    backend.write_table(location, backend.read_table(location), WriteSpec())
    assert location.stored_format() == "delta" and not location.parquet_file.exists()
    assert stored(location)["id"].tolist() == [1, 2]


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
