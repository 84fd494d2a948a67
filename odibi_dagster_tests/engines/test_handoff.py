"""A table written by the pandas backend is handed to later reads in the process, never stale."""

import os

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pandas.testing import assert_frame_equal

from odibi_dagster.engines import arrow_tables
from odibi_dagster.engines.base import WriteSpec
from odibi_dagster.engines.handoff import Handoff
from odibi_dagster.engines.pandas_engine import PandasBackend
from odibi_dagster.engines.storage import TableLocation

FRAME = pd.DataFrame({"id": [1, 2, 3], "x": [0.5, None, 2.0], "s": ["a", None, "c"],
                      "ts": pd.to_datetime(["2026-01-01 10:00", None, "2026-01-03 00:00"])})


def test_a_handed_table_equals_the_one_read_back_from_disk(tmp_path):
    backend = PandasBackend()
    location = TableLocation(tmp_path, "qat", "p", "Silver", "silver.a")
    backend.write_table(location, FRAME, WriteSpec())
    handed = backend.read_table(location)
    assert backend.handoff.take(location.parquet_file) is not None  # it came from memory
    from_disk = arrow_tables.read_frame(location)
    assert_frame_equal(handed, from_disk)  # same values, dtypes (timestamps in microseconds) and index
    handed.loc[0, "x"] = 99.0  # a function changing its input in place changes no other reader's
    assert backend.read_table(location)["x"].iloc[0] == 0.5


def test_a_file_changed_by_another_writer_is_read_from_disk(tmp_path):
    backend = PandasBackend()
    location = TableLocation(tmp_path, "qat", "p", "Silver", "silver.a")
    backend.write_table(location, FRAME, WriteSpec())
    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"id": [7]}), other)
    os.replace(other, location.parquet_file)  # another process replaced the table
    assert backend.read_table(location)["id"].tolist() == [7]


def test_appends_and_delta_tables_are_always_read_from_disk(tmp_path):
    backend = PandasBackend()
    location = TableLocation(tmp_path, "qat", "p", "Silver", "silver.a")
    backend.write_table(location, FRAME, WriteSpec())
    backend.write_table(location, FRAME, WriteSpec(mode="append"))
    assert len(backend.read_table(location)) == 6  # the appended file, not the first write's table
    delta = TableLocation(tmp_path, "qat", "p", "Silver", "silver.d")
    backend.write_table(delta, FRAME, WriteSpec(format="delta"))
    assert backend.handoff.take(delta.parquet_file) is None and len(backend.read_table(delta)) == 3


def test_the_handoff_is_bounded_by_bytes(tmp_path):
    handoff = Handoff(max_bytes=2 * pa.table({"x": list(range(100))}).nbytes)
    paths = [tmp_path / f"t{n}.parquet" for n in range(3)]
    for path in paths:
        table = pa.table({"x": list(range(100))})
        pq.write_table(table, path)
        handoff.keep(path, table)
    assert [handoff.take(path) is not None for path in paths] == [False, True, True]  # the oldest went first
