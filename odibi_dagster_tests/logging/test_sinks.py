"""Log sinks: each holds the reader's records for the same runs; a broken sink never breaks a run."""

import csv
import logging

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa
from deltalake import DeltaTable, write_deltalake

from odibi_dagster.logging import (
    DeltaLogSink,
    FileLogSink,
    MultiLogSink,
    SQLLogSink,
    build_sink,
    read_transformation_log,
)
from odibi_dagster.orchestration import run_project

KEY = ["run_id", "transformation_id", "status", "rows_out", "attempt"]


def keyed(frame: pd.DataFrame) -> list[tuple]:
    frame = frame[KEY].astype(object).where(frame[KEY].notna(), None)
    return sorted(tuple(None if v is None else str(int(v)) if isinstance(v, float) else str(v) for v in row)
                  for row in frame.itertuples(index=False))


@pytest.fixture
def home(demo_cwd, tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def sinks_hold_the_readers_records(tmp_path, sql_url):
    file_sink = FileLogSink(tmp_path / "log" / "runs.csv")
    delta_sink = DeltaLogSink(tmp_path / "log" / "runs_delta")
    sql_sink = SQLLogSink(sql_url, "TransformationRunLog")
    for _ in range(2):
        assert run_project("Energy Efficiency", log_sink=MultiLogSink(file_sink, delta_sink, sql_sink))[
            "status"] == "success"
    with dg.DagsterInstance.get() as instance:
        expected = keyed(read_transformation_log("Energy Efficiency", instance))
    assert len(expected) == 18
    with open(tmp_path / "log" / "runs.csv") as handle:
        assert keyed(pd.DataFrame(list(csv.DictReader(handle))).replace("", None)) == expected
    assert keyed(DeltaTable(str(tmp_path / "log" / "runs_delta")).to_pandas()) == expected
    engine = sa.create_engine(sql_url)
    with engine.connect() as conn:
        assert keyed(pd.read_sql_table("TransformationRunLog", conn)) == expected
    engine.dispose()


def test_file_delta_and_sqlite_sinks_match_the_reader(home, tmp_path):
    sinks_hold_the_readers_records(tmp_path, f"sqlite:///{tmp_path / 'log.db'}")


@pytest.mark.postgres
def test_sql_sink_on_postgres_matches_the_reader(home, tmp_path, postgres_url):
    engine = sa.create_engine(postgres_url)
    sa.Table("TransformationRunLog", sa.MetaData()).drop(engine, checkfirst=True)
    engine.dispose()
    sinks_hold_the_readers_records(tmp_path, postgres_url)


@pytest.mark.parametrize("case", ["folder", "sql", "delta"])
def test_broken_sinks_are_logged_and_never_fail_the_run(case, home, tmp_path, caplog):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    if case == "folder":
        sink, expected = FileLogSink(blocker / "logs" / "runs.csv"), "FileLogSink"
    elif case == "sql":
        sink, expected = SQLLogSink("postgresql+psycopg2://nobody:secret-pw@127.0.0.1:1/none"), "connection refused"
    else:
        other = tmp_path / "other_table"
        write_deltalake(str(other), pd.DataFrame({"something": ["else"]}))
        sink, expected = DeltaLogSink(other), "is not a transformation log (another schema: ['something'])"
    with caplog.at_level(logging.ERROR, logger="odibi_dagster"):
        result = run_project("Energy Efficiency", log_sink=sink)
    assert result["status"] == "success"
    assert expected.lower() in caplog.text.lower() and "9 record(s) not written" in caplog.text
    assert "secret-pw" not in caplog.text
    with dg.DagsterInstance.get() as instance:  # the metadata sink is complete all the same
        assert len(read_transformation_log("Energy Efficiency", instance)) == 9
    if case == "delta":
        assert DeltaTable(str(tmp_path / "other_table")).to_pandas().columns.tolist() == ["something"]


def test_manifest_log_sink_config(tmp_path, monkeypatch):
    monkeypatch.setenv("ODIBI_STORAGE_ROOT", str(tmp_path))
    monkeypatch.setenv("ODIBI_TEST_LOG_DB", str(tmp_path / "x.db"))
    assert build_sink({"type": "file", "path": "runs.csv"}).file_path == tmp_path / "_logs" / "runs.csv"
    assert build_sink({"type": "delta"}).path == tmp_path / "_logs" / "transformation_log"
    assert build_sink({"type": "sql", "url": "sqlite:///${ODIBI_TEST_LOG_DB}"}).url == f"sqlite:///{tmp_path}/x.db"
    assert isinstance(build_sink([{"type": "file"}, {"type": "delta"}]), MultiLogSink)
    with pytest.raises(ValueError, match="leaves the log folder"):
        build_sink({"type": "file", "path": "../../etc/cron.d/x"})
    with pytest.raises(ValueError, match="log_sink type 'kafka' is not one of file, delta, sql"):
        build_sink({"type": "kafka"})
