"""Parquet and Delta tables written by pandas: modes, atomicity, schema checks, format switches."""

import os
import time
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from odibi_dagster.engines import arrow_tables
from odibi_dagster.engines.arrow_tables import TableWriteError, describe_stored, read_frame, write_frame
from odibi_dagster.engines.base import WriteSpec
from odibi_dagster.engines.storage import LOCK_FILE, TableLocation


@pytest.fixture
def location(tmp_path):
    return TableLocation(tmp_path, "qat", "proj", "Silver", "silver.boilers")


def frame(ids, value=1.0):
    return pd.DataFrame({"id": pd.Series(ids, dtype="int64"), "value": [float(value)] * len(ids)})


def table_files(location):
    return sorted(p.name for p in location.path.iterdir() if p.name != LOCK_FILE)


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
    assert table_files(location) == ["data.parquet"]  # no temporary file left


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
    assert table_files(location) == ["data.parquet"]


def test_append_with_other_schema_is_refused_and_table_intact(location):
    write_frame(location, frame([1, 2]))
    before = location.parquet_file.read_bytes()
    with pytest.raises(TableWriteError) as info:
        write_frame(location, frame([3]).assign(extra="x"), mode="append")
    message = str(info.value)
    assert "append into 'silver.boilers' refused" in message and "new columns ['extra']" in message
    assert "stored table is unchanged" in message
    with pytest.raises(TableWriteError, match=r"column 'id' is string in the new data but int64 in the stored"):
        write_frame(location, pd.DataFrame({"id": ["a"], "value": [1.0]}), mode="append")
    assert location.parquet_file.read_bytes() == before


def test_append_with_schema_evolution_adds_columns(location):
    write_frame(location, frame([1]))
    write_frame(location, frame([2]).assign(extra="x"), mode="append", schema_evolution=True)
    result = read_frame(location)
    assert result["extra"].tolist() == [None, "x"]


def test_an_append_lacking_a_stored_column_is_refused_saying_what_schema_evolution_would_do(location):
    write_frame(location, frame([1]).assign(extra="x"))
    with pytest.raises(TableWriteError) as info:
        write_frame(location, frame([2]).assign(more=1), mode="append")
    assert ("new columns ['more']; missing columns ['extra']; the stored table is unchanged (set schema_evolution: "
            "true on the output to add the new columns and to store nulls in the new rows for the stored columns the "
            "data lacks;") in str(info.value)
    write_frame(location, frame([2]), mode="append", schema_evolution=True)  # as the message says
    assert read_frame(location)["extra"].tolist() == ["x", None]


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


def test_a_merge_into_a_parquet_table_keeps_its_rows_and_makes_it_delta(location):
    write_frame(location, frame([1, 2]))
    write_frame(location, frame([3]), mode="append")
    result = write_frame(location, frame([2, 4], 5.0), mode="merge", merge_keys=["id"])
    assert (result.format, location.stored_format(), location.parquet_file.exists()) == ("delta", "delta", False)
    stored = read_frame(location).sort_values("id")
    assert stored.values.tolist() == [[1, 1.0], [2, 5.0], [3, 1.0], [4, 5.0]]


def test_merge_keys_with_quotes_in_their_names(location):
    data = pd.DataFrame({'k"ey': [1, 2], "v": [1.0, 2.0]})
    write_frame(location, data, mode="merge", merge_keys=['k"ey'])
    write_frame(location, data.assign(v=[9.0, 9.0]), mode="merge", merge_keys=['k"ey'])
    assert read_frame(location).sort_values('k"ey')["v"].tolist() == [9.0, 9.0]


def test_delta_append_schema_mismatch_keeps_table(location):
    write_frame(location, frame([1]), format="delta")
    with pytest.raises(TableWriteError, match=r"append into 'silver.boilers' refused.*new columns \['extra'\]"):
        write_frame(location, frame([2]).assign(extra="x"), mode="append")
    assert read_frame(location)["id"].tolist() == [1]
    write_frame(location, frame([2]).assign(extra="x"), mode="append", schema_evolution=True)
    assert sorted(read_frame(location).columns) == ["extra", "id", "value"]


def test_switching_formats_leaves_one_table(location):
    write_frame(location, frame([1, 2]), format="delta")
    write_frame(location, frame([5]))  # overwrite as parquet
    assert location.stored_format() == "parquet" and read_frame(location)["id"].tolist() == [5]
    assert table_files(location) == ["data.parquet"]
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


@pytest.mark.parametrize(("format", "mode"), [("parquet", "overwrite"), ("parquet", "append"), ("delta", "merge")])
def test_nanoseconds_are_refused_not_cut_and_the_table_stays(location, format, mode):
    """Two instants a nanosecond apart would both be stored as the same microsecond (a merge would
    then even call its own keys duplicates): refused, naming the table, column and a value."""
    stored = pd.DataFrame({"t": pd.to_datetime(["2024-01-01 00:00:00.000001"]), "v": [1]})
    write_frame(location, stored, format=format)
    finer = pd.DataFrame({"t": pd.to_datetime(["2024-01-01 00:00:00.000000001", "2024-01-01 00:00:00.000000002"]),
                          "v": [2, 3]})
    with pytest.raises(TableWriteError, match=r"table 'silver.boilers' refused: column 't' holds timestamps finer "
                                              r"than a microsecond \(e.g. 2024-01-01 00:00:00.000000001\)"):
        write_frame(location, finer, mode=mode, merge_keys=("t",) if mode == "merge" else ())
    assert read_frame(location).to_dict("list") == stored.to_dict("list")
    write_frame(location, finer.assign(t=finer["t"].dt.floor("us")).head(1), mode=mode,  # rounded: accepted
                merge_keys=("t",) if mode == "merge" else ())


def test_a_column_of_mixed_types_is_refused_naming_the_table(location):
    with pytest.raises(TableWriteError, match=r"table 'silver.boilers' cannot be stored: .*column o with type object.*a column "
                                              r"holding values of several types"):
        write_frame(location, pd.DataFrame({"o": [1, "a"]}))
    assert location.stored_format() is None


@pytest.mark.parametrize("format", ["parquet", "delta"])
def test_a_lossy_cast_on_append_is_refused_naming_column_types_and_value(location, format):
    write_frame(location, pd.DataFrame({"id": [1], "n": [5]}), format=format)
    with pytest.raises(TableWriteError, match=r"append into 'silver.boilers' refused: column 'n' holds double values "
                                              r"that the stored int64 column cannot hold unchanged \(1 rows, e.g. 3.7\)"):
        write_frame(location, pd.DataFrame({"id": [2, 3], "n": [3.7, 4.0]}), mode="append")
    with pytest.raises(TableWriteError, match=r"column 'n' is string in the new data but int64"):
        write_frame(location, pd.DataFrame({"id": [2], "n": ["4"]}), mode="append")
    assert read_frame(location).to_dict("list") == {"id": [1], "n": [5]}
    write_frame(location, pd.DataFrame({"id": [2], "n": [4.0]}), mode="append")  # 4.0 is 4: nothing changes
    stored = read_frame(location).sort_values("id")
    assert stored.to_dict("list") == {"id": [1, 2], "n": [5, 4]} and str(stored["n"].dtype) == "int64"


def test_a_lossy_cast_on_merge_is_refused_float_keys_included(location):
    write_frame(location, pd.DataFrame({"id": [1, 2], "v": [1.0, 2.0]}), mode="merge", merge_keys=["id"])
    with pytest.raises(TableWriteError, match=r"merge into 'silver.boilers' refused: column 'id' holds double values "
                                              r"that the stored int64 column cannot hold unchanged \(1 rows, e.g. 1.5\)"):
        write_frame(location, pd.DataFrame({"id": [1.5, 2.0], "v": [9.0, 9.0]}), mode="merge", merge_keys=["id"])
    huge = pd.DataFrame({"id": [1], "v": [2**53 + 1]})  # int64 into a double column: the value would change
    with pytest.raises(TableWriteError, match=r"column 'v' holds int64 values .* e.g. 9007199254740993"):
        write_frame(location, huge, mode="merge", merge_keys=["id"])
    assert read_frame(location).sort_values("id").to_dict("list") == {"id": [1, 2], "v": [1.0, 2.0]}


def test_a_merge_with_a_new_column_follows_the_append_rule(location):
    write_frame(location, pd.DataFrame({"id": [1], "v": [1.0]}), mode="merge", merge_keys=["id"])
    with pytest.raises(TableWriteError, match=r"merge into 'silver.boilers' refused: .*new columns \['extra'\]"):
        write_frame(location, pd.DataFrame({"id": [1], "v": [2.0], "extra": ["x"]}), mode="merge", merge_keys=["id"])
    with pytest.raises(TableWriteError, match=r"merge into 'silver.boilers' refused: the new data lacks the stored "
                                              r"columns \['v'\], which a merge would overwrite with nulls"):
        write_frame(location, pd.DataFrame({"id": [1]}), mode="merge", merge_keys=["id"], schema_evolution=True)
    assert read_frame(location).to_dict("list") == {"id": [1], "v": [1.0]}
    write_frame(location, pd.DataFrame({"id": [1, 2], "v": [2.0, 3.0], "extra": ["x", "y"]}), mode="merge",
                merge_keys=["id"], schema_evolution=True)
    assert read_frame(location).sort_values("id").to_dict("list") == {"id": [1, 2], "v": [2.0, 3.0],
                                                                      "extra": ["x", "y"]}


def test_null_merge_keys_are_refused_or_skipped_as_configured(location):
    write_frame(location, pd.DataFrame({"id": [1.0], "v": ["a"]}), mode="merge", merge_keys=["id"])
    with_nulls = pd.DataFrame({"id": [None, 2.0, float("nan")], "v": ["x", "b", "y"]})
    with pytest.raises(TableWriteError, match=r"merge into 'silver.boilers' refused: 2 rows have a null merge key "
                                              r"\['id'\] \(e.g. \{'id': None, 'v': 'x'\}\)"):
        write_frame(location, with_nulls, mode="merge", merge_keys=["id"])
    assert read_frame(location).to_dict("list") == {"id": [1.0], "v": ["a"]}
    for _ in range(2):  # skipping twice inserts nothing twice
        result = write_frame(location, with_nulls, mode="merge", merge_keys=["id"], null_keys="skip")
    assert result.extra == {"odibi/rows_skipped_null_keys": 2}
    assert read_frame(location).sort_values("id").to_dict("list") == {"id": [1.0, 2.0], "v": ["a", "b"]}


def test_the_next_write_removes_what_killed_writes_left(location):
    write_frame(location, frame([1, 2]))
    stale = location.path / ".data.parquet.0123abcd.tmp"
    stale.write_bytes(b"PAR1 half a file")
    write_frame(location, frame([3]), mode="append")
    assert table_files(location) == ["data.parquet"] and read_frame(location)["id"].tolist() == [1, 2, 3]

    write_frame(location, frame([1]), format="delta")
    write_frame(location, frame([2]), mode="append")  # version 1: version 0's file stays for time travel
    orphan = location.path / "part-00000-5f1c0000-0000-0000-0000-000000000000-c000.snappy.parquet"
    orphan.write_bytes(next(location.path.glob("part-*.parquet")).read_bytes())  # staged, never committed
    committed = {p.name for p in location.path.glob("part-*.parquet")} - {orphan.name}
    change_data = location.path / "_change_data" / "cdc-00000-5f1c.c000.snappy.parquet"  # written by Spark CDF
    change_data.parent.mkdir()
    change_data.write_bytes(orphan.read_bytes())
    # 59 minutes old: another writer (a plain deltalake job) may be about to commit it; the README
    # promises an hour, written out here rather than read from the code
    almost_an_hour_ago = time.time() - 59 * 60
    for part in [*location.path.glob("part-*.parquet"), change_data]:
        os.utime(part, (almost_an_hour_ago, almost_an_hour_ago))
    write_frame(location, frame([3]), mode="append")
    assert orphan.exists()
    an_hour_ago = time.time() - 61 * 60
    for part in [*location.path.glob("part-*.parquet"), change_data]:
        os.utime(part, (an_hour_ago, an_hour_ago))
    write_frame(location, frame([4]), mode="append")
    assert not orphan.exists() and committed <= {p.name for p in location.path.glob("part-*.parquet")}
    assert change_data.exists()  # change-data files are kept
    assert sorted(read_frame(location)["id"]) == [1, 2, 3, 4]
    assert DeltaTable(str(location.path), version=0).to_pandas()["id"].tolist() == [1]


@pytest.mark.parametrize("format", ["parquet", "delta"])
def test_a_cast_that_wraps_around_or_overflows_is_refused(location, format):
    stored = pa.table({"u": pa.array([1], pa.uint8()), "d": pa.array([Decimal("1.25")], pa.decimal128(3, 2))})
    arrow_tables.write_arrow(location, stored, WriteSpec(format=format), "pandas")
    cases = [("d", pa.array([Decimal("12345.67")], pa.decimal128(7, 2)), "does not fit in precision 3")]
    if format == "parquet":  # Delta has no unsigned types: it stores uint8 as int8
        cases.append(("u", pa.array([-1], pa.int8()), "Integer value -1 not in range"))
    for column, values, reason in cases:
        data = stored.set_column(stored.schema.get_field_index(column), column, values)
        with pytest.raises(TableWriteError, match=rf"column '{column}' holds .* cannot hold unchanged .*{reason}"):
            arrow_tables.write_arrow(location, data, WriteSpec(mode="append"), "pandas")
    assert arrow_tables.read_arrow(location).to_pylist() == [{"u": 1, "d": Decimal("1.25")}]


@pytest.mark.parametrize("format", ["parquet", "delta"])
def test_a_column_first_stored_all_null_takes_the_type_of_later_values(location, format):
    write_frame(location, pd.DataFrame({"id": [1], "note": [None]}), format=format)
    write_frame(location, pd.DataFrame({"id": [2], "note": ["late"]}), mode="append")
    write_frame(location, pd.DataFrame({"id": [3], "note": ["later"]}), mode="append")
    stored = read_frame(location).sort_values("id")
    assert stored["note"].tolist() == [None, "late", "later"]
