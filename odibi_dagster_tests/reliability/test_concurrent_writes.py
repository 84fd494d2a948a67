"""Several processes writing one table at once: no append is lost, none is duplicated.

Real processes (``multiprocessing`` spawn), as two Dagster runs or two steps of a multiprocess run
would be: the guarantee rests on the table's inter-process lock, which threads would not test.
"""

import multiprocessing
from pathlib import Path

import pandas as pd
import pytest

from odibi_dagster.engines.arrow_tables import read_frame, write_frame
from odibi_dagster.engines.storage import TableLocation

WRITERS, APPENDS = 4, 8


def append_many(root: str, writer: int, format: str) -> None:
    location = TableLocation(Path(root), "qat", "proj", "Bronze", "bronze.readings")
    for n in range(APPENDS):
        row = pd.DataFrame({"writer": [writer], "n": [n], "payload": ["x" * 1000]})
        write_frame(location, row, mode="append", format=format)


@pytest.mark.parametrize("format", ["parquet", "delta"])
def test_concurrent_appends_from_processes_all_land_once(tmp_path, format):
    spawn = multiprocessing.get_context("spawn")
    processes = [spawn.Process(target=append_many, args=(str(tmp_path), writer, format)) for writer in range(WRITERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=240)
    assert [process.exitcode for process in processes] == [0] * WRITERS
    location = TableLocation(tmp_path, "qat", "proj", "Bronze", "bronze.readings")
    stored = read_frame(location)
    assert location.stored_format() == format
    assert sorted(zip(stored["writer"], stored["n"])) == [(w, n) for w in range(WRITERS) for n in range(APPENDS)]
