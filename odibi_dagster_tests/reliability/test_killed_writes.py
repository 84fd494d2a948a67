"""A write killed midway (SIGKILL, a real process) leaves the table as it was, or as the write
would have left it, never half-written: parquet overwrite and append, Delta overwrite and merge,
the parquet-to-Delta switch of a first merge, an scd2 MERGE, and a Spark write (its Python
process and JVM killed together). The next write cleans up after the dead one."""

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

from odibi_dagster.engines.arrow_tables import read_frame, write_frame
from odibi_dagster.engines.storage import TableLocation

ROWS = 1_500_000
WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    import numpy as np, pandas as pd
    from odibi_dagster.engines.arrow_tables import write_frame
    from odibi_dagster.engines.storage import TableLocation
    root, mode, fmt, start = sys.argv[1], sys.argv[2], sys.argv[3] or None, int(sys.argv[4])
    location = TableLocation(Path(root), "qat", "p", "Silver", "silver.t")
    rows = int(sys.argv[5])
    frame = pd.DataFrame({"id": np.arange(start, start + rows), "v": np.full(rows, 2.0)})
    print("ready", flush=True)
    write_frame(location, frame, mode=mode, format=fmt, merge_keys=("id",) if mode in ("merge", "scd2") else ())
    print("done", flush=True)
""")

CASES = {  # (first write's format, killed write's mode, its format)
    "parquet_overwrite": ("parquet", "overwrite", "parquet"),
    "parquet_append": ("parquet", "append", ""),
    "delta_overwrite": ("delta", "overwrite", "delta"),
    "delta_merge": ("delta", "merge", ""),
    "parquet_to_delta_merge": ("parquet", "merge", ""),
    "scd2_merge": ("scd2", "scd2", ""),
}


def states(mode: str) -> dict[tuple[int, float], str]:
    """(rows, sum of v) of each state the table may be in: before the killed write, or after it.
    The first write holds ids 0..ROWS-1 with v = 1; the killed one ids ROWS/2.. with v = 2."""
    before = (ROWS, float(ROWS))
    after = {"overwrite": (ROWS, 2.0 * ROWS), "append": (2 * ROWS, 3.0 * ROWS),
             "merge": (ROWS + ROWS // 2, ROWS / 2 + 2.0 * ROWS),
             # scd2: half the keys changed (closed + a new version), half new: every old version is kept
             "scd2": (2 * ROWS, 3.0 * ROWS)}[mode]
    return {before: "before", after: "after"}


def first_write(location: TableLocation, first_format: str) -> None:
    """ids 0..ROWS-1 with v = 1, in a fresh folder."""
    shutil.rmtree(location.path, ignore_errors=True)
    frame = pd.DataFrame({"id": np.arange(ROWS), "v": np.ones(ROWS)})
    if first_format == "scd2":
        write_frame(location, frame, mode="scd2", merge_keys=("id",))
    else:
        write_frame(location, frame, format=first_format)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_killed_write_leaves_the_table_whole(tmp_path, case):
    first_format, mode, fmt = CASES[case]
    location = TableLocation(tmp_path, "qat", "p", "Silver", "silver.t")
    first_write(location, first_format)
    valid = states(mode)
    interrupted = 0
    for delay in (0.0, 0.05, 0.1, 0.2, 0.4):
        child = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), mode, fmt, str(ROWS // 2), str(ROWS)],
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "ready"
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        finished = "done" in child.stdout.read()
        child.wait()
        interrupted += not finished
        table = read_frame(location)
        state = (len(table), float(table["v"].sum()))
        assert state in valid, (case, delay, state)
        if mode in ("overwrite", "merge"):
            assert table["id"].is_unique
        if mode == "scd2":  # one current version per key, whatever the kill left
            assert table.loc[table["is_current"], "id"].is_unique
        if valid[state] == "after":  # the write committed: start the next round from the first state
            first_write(location, first_format)
    assert interrupted, f"{case}: no kill landed before the write finished; the test proved nothing"
    # the next write, in place, works and leaves nothing of the dead writers behind
    small = pd.DataFrame({"id": np.arange(10), "v": np.full(10, 3.0)})
    if first_format == "scd2":
        write_frame(location, small, mode="scd2", merge_keys=("id",))
        current = read_frame(location).query("is_current")
        assert current["id"].is_unique and current.loc[current["id"] < 10, "v"].tolist() == [3.0] * 10
    else:
        write_frame(location, small, format=first_format)
        assert len(read_frame(location)) == 10
    assert not list(location.path.glob(".data.parquet.*.tmp"))


SPARK_WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from pyspark.sql import functions as F
    from odibi_dagster.engines import spark_tables
    from odibi_dagster.engines.spark_session import SparkSettings, get_session
    from odibi_dagster.engines.storage import TableLocation, WriteSpec
    root, rows = sys.argv[1], int(sys.argv[2])
    spark = get_session(SparkSettings(master="local[1]"))
    frame = spark.range(rows // 2, rows // 2 + rows).withColumn("v", F.lit(2.0))
    frame.count()
    print("ready", flush=True)
    spark_tables.write_table(spark, TableLocation(Path(root), "qat", "p", "Silver", "silver.t"), frame,
                             WriteSpec(mode="overwrite", format="delta"), native_delta=False)
    print("done", flush=True)
""")


@pytest.mark.slow
def test_a_killed_spark_write_leaves_the_table_whole(tmp_path):
    location = TableLocation(tmp_path, "qat", "p", "Silver", "silver.t")
    first_write(location, "delta")
    valid = states("overwrite")
    interrupted = 0
    for delay in (0.0, 0.5):
        child = subprocess.Popen([sys.executable, "-c", SPARK_WRITER, str(tmp_path), str(ROWS)],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
        assert child.stdout.readline().strip() == "ready"
        time.sleep(delay)
        os.killpg(child.pid, signal.SIGKILL)  # the Python driver and its JVM
        finished = "done" in child.stdout.read()
        child.wait()
        interrupted += not finished
        table = read_frame(location)
        state = (len(table), float(table["v"].sum()))
        assert state in valid and table["id"].is_unique, (delay, state)
        if valid[state] == "after":
            first_write(location, "delta")
    assert interrupted, "no kill landed before the Spark write finished; the test proved nothing"
    write_frame(location, pd.DataFrame({"id": np.arange(10), "v": np.full(10, 3.0)}), format="delta")
    assert len(read_frame(location)) == 10
