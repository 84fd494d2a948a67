"""Parquet and Delta tables written by pandas: modes, atomicity, schema checks, format switches."""

import pandas as pd
import pyarrow.parquet as pq
import pytest

from odibi_dagster.engines import arrow_tables
from odibi_dagster.engines.arrow_tables import TableWriteError, describe_stored, read_frame, write_frame
from odibi_dagster.engines.storage import TableLocation


@pytest.fixture
def location(tmp_path):
    return TableLocation(tmp_path, "qat", "proj", "Silver", "silver.boilers")


def frame(ids, value=1.0):
    return pd.DataFrame({"id": pd.Series(ids, dtype="int64"), "value": [float(value)] * len(ids)})


def test_location_path_and_safety(tmp_path):
    loc = TableLocation(tmp_path, "qat", "proj", "Silver", "silver.boilers")
    assert loc.path == tmp_path / "qat" / "proj" / "Silver" / "silver.boilers"
    for bad in ({"table": "../x"}, {"layer": "../.."}, {"env": ".."}, {"project_slug": "a/b"}):
        with pytest.raises(ValueError, match="not a safe storage name"):
            TableLocation(**{"root": tmp_path, "env": "qat", "project_slug": "p", "layer": "L", "table": "t", **bad})


def test_overwrite_and_append_parquet(location):
    result = write_frame(location, frame([1, 2]))
    assert (result.format, result.row_count, result.rows_written) == ("parquet", 2, 2)
    result = write_frame(location, frame([3]), mode="append")
    assert (result.row_count, result.rows_written) == (3, 1)
    assert read_frame(location)["id"].tolist() == [1, 2, 3]
    result = write_frame(location, frame([9]))
    assert read_frame(location)["id"].tolist() == [9] and result.row_count == 1
    assert [p.name for p in location.path.iterdir()] == ["data.parquet"]  # no temporary file left


def test_failed_overwrite_keeps_previous_version(location, monkeypatch):
    write_frame(location, frame([1, 2]))

    def broken(table, where, *args, **kwargs):
        with open(where, "wb") as handle:
            handle.write(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(arrow_tables.pq, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        write_frame(location, frame([7, 8, 9]))
    assert read_frame(location)["id"].tolist() == [1, 2]
    assert [p.name for p in location.path.iterdir()] == ["data.parquet"]


def test_append_with_other_schema_is_refused_and_table_intact(location):
    write_frame(location, frame([1, 2]))
    before = location.parquet_file.read_bytes()
    with pytest.raises(TableWriteError) as info:
        write_frame(location, frame([3]).assign(extra="x"), mode="append")
    message = str(info.value)
    assert "append to 'silver.boilers' refused" in message and "new columns ['extra']" in message
    assert "stored table is unchanged" in message
    with pytest.raises(TableWriteError, match=r"changed types \['id int64 -> string'\]"):
        write_frame(location, pd.DataFrame({"id": ["a"], "value": [1.0]}), mode="append")
    assert location.parquet_file.read_bytes() == before


def test_append_with_schema_evolution_adds_columns(location):
    write_frame(location, frame([1]))
    write_frame(location, frame([2]).assign(extra="x"), mode="append", schema_evolution=True)
    result = read_frame(location)
    assert result["extra"].tolist() == [None, "x"]


def test_delta_overwrite_append_merge(location):
    result = write_frame(location, frame([1, 2], 1.0), format="delta")
    assert (result.format, result.delta_version, result.row_count) == ("delta", 0, 2)
    result = write_frame(location, frame([3], 1.0), mode="append")
    assert (result.format, result.delta_version, result.row_count) == ("delta", 1, 3)
    result = write_frame(location, frame([2, 4], 5.0), mode="merge", merge_keys=["id"])
    assert (result.delta_version, result.row_count, result.rows_written) == (2, 4, 2)
    stored = read_frame(location).sort_values("id")
    assert stored["id"].tolist() == [1, 2, 3, 4] and stored["value"].tolist() == [1.0, 5.0, 1.0, 5.0]


def test_merge_creates_delta_table(location):
    result = write_frame(location, frame([1, 2]), mode="merge", merge_keys=["id"])
    assert result.format == "delta" and location.stored_format() == "delta"


def test_merge_with_duplicate_keys_is_refused(location):
    write_frame(location, frame([1, 2]), mode="merge", merge_keys=["id"])
    with pytest.raises(TableWriteError, match=r"merge_keys \['id'\] are not unique in the new data"):
        write_frame(location, frame([3, 3]), mode="merge", merge_keys=["id"])
    with pytest.raises(TableWriteError, match=r"merge_keys \['nope'\] are not columns"):
        write_frame(location, frame([3]), mode="merge", merge_keys=["nope"])
    assert read_frame(location)["id"].sort_values().tolist() == [1, 2]


def test_merge_into_parquet_table_is_refused(location):
    write_frame(location, frame([1]))
    with pytest.raises(TableWriteError, match="stored as parquet; merge needs Delta"):
        write_frame(location, frame([1]), mode="merge", merge_keys=["id"])


def test_delta_append_schema_mismatch_keeps_table(location):
    write_frame(location, frame([1]), format="delta")
    with pytest.raises(TableWriteError, match=r"append to 'silver.boilers' refused.*new columns \['extra'\]"):
        write_frame(location, frame([2]).assign(extra="x"), mode="append")
    assert read_frame(location)["id"].tolist() == [1]
    write_frame(location, frame([2]).assign(extra="x"), mode="append", schema_evolution=True)
    assert sorted(read_frame(location).columns) == ["extra", "id", "value"]


def test_switching_formats_leaves_one_table(location):
    write_frame(location, frame([1, 2]), format="delta")
    write_frame(location, frame([5]))  # overwrite as parquet
    assert location.stored_format() == "parquet" and read_frame(location)["id"].tolist() == [5]
    assert sorted(p.name for p in location.path.iterdir()) == ["data.parquet"]
    write_frame(location, frame([6]), format="delta")
    assert location.stored_format() == "delta" and read_frame(location)["id"].tolist() == [6]
    assert not location.parquet_file.exists()


def test_describe_stored_reads_metadata_only(location):
    assert describe_stored(location) is None
    write_frame(location, frame([1, 2, 3]))
    described = describe_stored(location)
    assert (described.format, described.row_count, described.schema.names) == ("parquet", 3, ["id", "value"])
    assert pq.ParquetFile(location.parquet_file).metadata.num_rows == 3


def test_reading_a_missing_table_says_where(location):
    with pytest.raises(FileNotFoundError, match="'silver.boilers' has not been written yet"):
        read_frame(location)


def test_an_index_that_holds_data_is_kept_as_columns(tmp_path):
    """A groupby result keeps its key; a positional index (a filtered frame) adds no column."""
    frame = pd.DataFrame({"plant": ["a", "a", "b"], "kwh": [1.0, 2.0, 5.0]})
    location = TableLocation(tmp_path, "qat", "p", "Gold", "gold.by_plant")
    write_frame(location, frame.groupby("plant")["kwh"].sum().to_frame())
    assert read_frame(location).to_dict("list") == {"plant": ["a", "b"], "kwh": [3.0, 5.0]}
    two_keys = frame.assign(day=[1, 2, 1]).groupby(["plant", "day"]).sum()
    write_frame(location, two_keys)
    assert read_frame(location).columns.tolist() == ["plant", "day", "kwh"]
    write_frame(location, frame[frame["kwh"] > 1.5])  # index [1, 2]: row positions, not data
    assert read_frame(location).to_dict("list") == {"plant": ["a", "b"], "kwh": [2.0, 5.0]}


def test_an_index_named_like_a_column_is_refused_and_nothing_is_written(tmp_path):
    location = TableLocation(tmp_path, "qat", "p", "Gold", "gold.x")
    write_frame(location, pd.DataFrame({"plant": ["a"]}))
    clash = pd.DataFrame({"plant": ["b"]}, index=pd.Index(["b"], name="plant"))
    with pytest.raises(TableWriteError, match=r"index \['plant'\] holds data but \['plant'\] is also a column"):
        write_frame(location, clash)
    assert read_frame(location)["plant"].tolist() == ["a"]
