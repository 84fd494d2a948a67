"""Checks of a Spark backend's tables, shared by the local-session tests (engines/test_spark_io.py,
Delta through deltalake) and the Spark Connect tests (spark_connect/test_native_delta.py, native
Delta). Each importing module provides the ``backend`` fixture."""

import pandas as pd
import pytest

from odibi_dagster.engines.arrow_tables import TableWriteError, read_frame, write_frame
from odibi_dagster.engines.base import WriteSpec
from odibi_dagster.engines.storage import TableLocation


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
    with pytest.raises(TableWriteError, match=r"append into 'silver.t' refused.*new columns \['extra'\]"):
        backend.write_table(location, frame(backend, [2], extra=["x"]), WriteSpec(mode="append"))
    assert stored(location)["id"].tolist() == [1] and list(stored(location).columns) == ["id", "value"]


def test_cross_engine_tables(backend, location):
    write_frame(location, pd.DataFrame({"id": [1, 2], "ts": [pd.Timestamp("2026-01-01 06:00"), None]}))
    back = backend.read_table(location).orderBy("id").toPandas()
    assert back["id"].tolist() == [1, 2] and back["ts"].iloc[0] == pd.Timestamp("2026-01-01 06:00")
    backend.write_table(location, backend.read_table(location), WriteSpec())
    assert location.stored_format() == "delta" and not location.parquet_file.exists()
    assert stored(location)["id"].tolist() == [1, 2]


def test_lossy_casts_on_append_and_merge_are_refused(backend, location):
    """Native Delta judges by type (the data is not at hand), deltalake by value: both refuse these."""
    backend.write_table(location, frame(backend, [1, 2]), WriteSpec(mode="merge", merge_keys=("id",)))
    floats = backend.spark.createDataFrame(pd.DataFrame({"id": [3.5], "value": [1.0]}))
    for spec in (WriteSpec(mode="append"), WriteSpec(mode="merge", merge_keys=("id",))):
        with pytest.raises(TableWriteError, match=rf"{spec.mode} into 'silver.t' refused: column 'id' .*double.*int64"):
            backend.write_table(location, floats, spec)
    assert stored(location)["id"].tolist() == [1, 2]


def test_merge_with_new_column_or_null_keys_is_refused(backend, location):
    backend.write_table(location, frame(backend, [1, 2]), WriteSpec(mode="merge", merge_keys=("id",)))
    merge = WriteSpec(mode="merge", merge_keys=("id",))
    with pytest.raises(TableWriteError, match=r"merge into 'silver.t' refused: .*new columns \['extra'\]"):
        backend.write_table(location, frame(backend, [2], extra=["x"]), merge)
    nulls = backend.spark.createDataFrame(pd.DataFrame({"id": pd.array([None, 3], dtype="Int64"), "value": [7.0, 8.0]}))
    with pytest.raises(TableWriteError, match=r"1 rows have a null merge key \['id'\] \(e.g. \{'id': None, 'value': 7.0\}\)"):
        backend.write_table(location, nulls, merge)
    assert stored(location)["id"].tolist() == [1, 2]
    for _ in range(2):
        result = backend.write_table(location, nulls, WriteSpec(mode="merge", merge_keys=("id",), null_keys="skip"))
    assert result.extra == {"odibi/rows_skipped_null_keys": 1}
    assert stored(location)[["id", "value"]].values.tolist() == [[1, 1.0], [2, 1.0], [3, 8.0]]


def test_a_partition_window_replaces_exactly_its_rows(backend, location):
    """Arrow path: a deltalake predicate overwrite; native path (Spark Connect): replaceWhere."""
    import datetime

    import dagster as dg

    from odibi_dagster.config.partitions import PartitionsConfig
    from odibi_dagster.partitions.definition import partitions_definition
    from odibi_dagster.partitions.window import PartitionWindow

    daily = partitions_definition(PartitionsConfig(type="daily", start="2024-01-01"))

    def window(first, last):
        return PartitionWindow.of(daily, dg.PartitionKeyRange(first, last))

    def rows(ids, day, value=1.0):
        return frame(backend, ids, value, day=[datetime.date.fromisoformat(day)] * len(ids))

    spec = WriteSpec(partition_column="day", window=window("2024-01-01", "2024-01-02"))
    backend.write_table(location, rows([1, 2], "2024-01-01").unionByName(rows([3], "2024-01-02")), spec)
    spec = WriteSpec(partition_column="day", window=window("2024-01-02", "2024-01-02"))
    result = backend.write_table(location, rows([4, 5], "2024-01-02", 9.0), spec)
    assert result.row_count == 4
    table = stored(location)
    assert table["id"].tolist() == [1, 2, 4, 5] and table["value"].tolist() == [1.0, 1.0, 9.0, 9.0]


def test_scd2_gives_the_table_pandas_gives(backend, location, tmp_path):
    """The same sequence of inputs on this backend and through pandas: the same versions (arrow path:
    deltalake MERGE; native path: MERGE INTO)."""
    import math

    spec = WriteSpec(mode="scd2", merge_keys=("id",), track_columns=("value", "seg"), scd2_deletes="close")
    twin = TableLocation(tmp_path / "pandas", "qat", "proj", "Silver", "silver.t")
    batches = [
        pd.DataFrame({"id": [1, 2, 3], "value": [1.0, math.nan, None], "seg": ["a", None, "c"], "note": ["x"] * 3}),
        pd.DataFrame({"id": [1, 2, 3], "value": [1.0, math.nan, None], "seg": ["a", None, "c"], "note": ["y"] * 3}),
        pd.DataFrame({"id": [1, 2, 4], "value": [1.5, math.nan, 4.0], "seg": ["a", "b", "d"], "note": ["z"] * 3}),
    ]
    counts = []
    for batch in batches:
        result = backend.write_table(location, backend.spark.createDataFrame(batch), spec)
        write_frame(twin, batch, mode="scd2", merge_keys=("id",), track_columns=("value", "seg"),
                    scd2_deletes="close")
        counts.append((result.extra["odibi/scd2_inserted"], result.extra["odibi/scd2_closed"],
                       result.extra["odibi/scd2_unchanged"]))
    assert counts == [(3, 0, 0), (0, 0, 3), (3, 3, 0)]

    def shape(where):
        table = read_frame(where).sort_values(["id", "valid_from"])
        return [(row.id, row.seg, row.valid_to is None or row.valid_to != row.valid_to, bool(row.is_current))
                for row in table.itertuples()]

    assert shape(location) == shape(twin) == [(1, "a", False, False), (1, "a", True, True), (2, None, False, False),
                                              (2, "b", True, True), (3, "c", False, False), (4, "d", True, True)]
