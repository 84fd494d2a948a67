"""Log sinks: each holds the reader's records for the same runs; a broken sink never breaks a run."""

import csv
import logging
import re
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa
import yaml
from deltalake import DeltaTable, write_deltalake

from odibi_dagster.assets import build_definitions
from odibi_dagster.config import load_project_folder
from odibi_dagster.logging import (
    RECORD_FIELDS,
    DeltaLogSink,
    FileLogSink,
    MultiLogSink,
    SQLLogSink,
    build_sink,
    read_transformation_log,
)
from odibi_dagster.orchestration import run_project
from odibi_dagster_tests.conftest import dagster, failing_project

KEY = ["run_id", "transformation_id", "project", "env", "layer", "engine", "status", "rows_in", "rows_out", "attempt",
       "error_message", "rows_dropped", "rows_quarantined", "checks_failed", "partition_key"]


def keyed(frame: pd.DataFrame) -> list[tuple]:
    """Every column of the record but the times, as text ('' and null alike: a CSV cannot tell them apart)."""
    frame = frame[KEY].astype(object).replace("", None)
    frame = frame.where(frame.notna(), None)
    return sorted(tuple(None if v is None else str(int(v)) if isinstance(v, float) else str(v) for v in row)
                  for row in frame.itertuples(index=False))


@pytest.fixture
def home(demo_cwd, tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def sinks_hold_the_readers_records(tmp_path, sql_url):
    """Two runs of the demo into a file, a Delta and a SQL sink (its table made anew), each holding
    what the reader returns."""
    engine = sa.create_engine(sql_url)
    sa.Table("TransformationRunLog", sa.MetaData()).drop(engine, checkfirst=True)
    engine.dispose()
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
    sinks_hold_the_readers_records(tmp_path, postgres_url)


@pytest.mark.parametrize("case", ["folder", "sql", "delta"])
def test_broken_sinks_are_logged_and_never_fail_the_run(case, home, tmp_path, caplog):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    if case == "folder":
        sink, expected = FileLogSink(blocker / "logs" / "runs.csv"), f"file sink {blocker}/logs/runs.csv failed"
    elif case == "sql":
        sink, expected = SQLLogSink("postgresql+psycopg2://nobody:secret-pw@127.0.0.1:1/none"), "connection refused"
    else:
        other = tmp_path / "other_table"
        write_deltalake(str(other), pd.DataFrame({"something": ["else"]}))
        sink, expected = DeltaLogSink(other), "is not a transformation log (another schema: ['something'])"
    with caplog.at_level(logging.ERROR, logger="odibi_dagster"):
        result = run_project("Energy Efficiency", log_sink=sink)
    assert result["status"] == "success"
    assert expected.lower() in caplog.text.lower()
    assert "still failing at the run's end" in caplog.text and "9 record(s) not written" in caplog.text
    assert "secret-pw" not in caplog.text
    with dg.DagsterInstance.get() as instance:  # the metadata sink is complete all the same
        assert len(read_transformation_log("Energy Efficiency", instance)) == 9
    if case == "delta":
        assert DeltaTable(str(tmp_path / "other_table")).to_pandas().columns.tolist() == ["something"]


def with_manifest_sinks(demo_dir: Path, log_sink) -> Path:
    manifest = yaml.safe_load((demo_dir / "manifest.yaml").read_text())
    (demo_dir / "manifest.yaml").write_text(yaml.safe_dump({**manifest, "log_sink": log_sink}, sort_keys=False))
    return demo_dir


def manifest_sinks_hold_the_readers_records(demo_dir, tmp_path, sql_url):
    """A CLI run with no daemon (no sensor runs) fills every sink the manifest names."""
    env = {"DAGSTER_HOME": str(tmp_path / "dagster_home"), "ODIBI_STORAGE_ROOT": str(tmp_path / "storage"),
           "ODIBI_PROJECT_DIR": str(demo_dir), "ODIBI_TEST_LOG_DB": sql_url}
    (tmp_path / "dagster_home").mkdir()
    with_manifest_sinks(demo_dir, [{"type": "file", "path": "runs.csv"}, {"type": "delta", "path": "runs"},
                                   {"type": "sql", "url": "${ODIBI_TEST_LOG_DB}", "table": "TransformationRunLog"}])
    for _ in range(2):
        done = dagster("asset", "materialize", "-m", "odibi_dagster.definitions", "--select", "*", env=env,
                       cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        expected = keyed(read_transformation_log("Energy Efficiency", instance))
    assert len(expected) == 18  # 4 sources and 5 transformations, twice
    logs = tmp_path / "storage" / "_logs"
    with open(logs / "runs.csv") as handle:
        assert keyed(pd.DataFrame(list(csv.DictReader(handle))).replace("", None)) == expected
    assert keyed(DeltaTable(str(logs / "runs")).to_pandas()) == expected
    engine = sa.create_engine(sql_url)
    with engine.connect() as conn:
        assert keyed(pd.read_sql_table("TransformationRunLog", conn)) == expected
    engine.dispose()


@pytest.mark.slow
def test_a_cli_run_fills_the_manifest_sinks_on_sqlite(demo_dir, tmp_path):
    manifest_sinks_hold_the_readers_records(demo_dir, tmp_path, f"sqlite:///{tmp_path / 'log.db'}")


@pytest.mark.slow
@pytest.mark.postgres
def test_a_cli_run_fills_the_manifest_sinks_on_postgres(demo_dir, tmp_path, postgres_url):
    engine = sa.create_engine(postgres_url)
    sa.Table("TransformationRunLog", sa.MetaData()).drop(engine, checkfirst=True)
    engine.dispose()
    manifest_sinks_hold_the_readers_records(demo_dir, tmp_path, postgres_url)


def run_in_process(project_dir: Path, storage: Path, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    defs = build_definitions(load_project_folder(project_dir), storage_root_dir=storage)
    return defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance, raise_on_error=False)


def warnings_of(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [entry.user_message for entry in instance.all_logs(run_id) if entry.level == logging.WARNING]


def test_a_failing_manifest_sink_is_a_warning_and_the_run_stays_green(demo_dir, storage, monkeypatch):
    monkeypatch.setenv("ODIBI_TEST_LOG_PW", "secret-pw")
    with_manifest_sinks(demo_dir, [
        {"type": "sql", "url": "postgresql+psycopg2://nobody:${ODIBI_TEST_LOG_PW}@127.0.0.1:1/none"},
        {"type": "file", "path": "ok.csv"}])
    with dg.instance_for_test() as instance:
        result = run_in_process(demo_dir, storage, instance)
        assert result.success
        warnings = [w for w in warnings_of(instance, result.run_id) if w.startswith("log sink")]
        everything = "\n".join(entry.user_message for entry in instance.all_logs(result.run_id))
    assert len(warnings) == 9  # one per step: each step's record missed that sink
    assert all(w.startswith("log sink sql sink postgresql+psycopg2://nobody:***@127.0.0.1:1/none table "
                            "TransformationRunLog failed; 1 record(s) not written: ") for w in warnings)
    assert any("energy-plant-summary-gold (attempt 1, SUCCESS)" in w for w in warnings)
    assert "secret-pw" not in everything
    with open(storage / "_logs" / "ok.csv") as handle:  # the other sink got every record
        assert len(list(csv.DictReader(handle))) == 9


def test_a_retried_step_leaves_one_record_per_attempt(project_writer, storage):
    root = failing_project(project_writer, retries=2)
    with_manifest_sinks(root, {"type": "file", "path": "runs.csv"})
    with dg.instance_for_test() as instance:
        result = run_in_process(root, storage, instance)
    assert not result.success
    with open(storage / "_logs" / "runs.csv") as handle:
        rows = [(r["transformation_id"], r["attempt"], r["status"]) for r in csv.DictReader(handle)]
    assert sorted(rows) == [("s1", "1", "SUCCESS"), ("t-flaky", "1", "FAILED"), ("t-flaky", "2", "FAILED"),
                            ("t-flaky", "3", "FAILED"), ("t-ok", "1", "SUCCESS")]


APPEND_B = """
def grow(constants):
    return pd.DataFrame({"a": [1], **({"b": ["x"]} if constants["extra"] else {})})
"""


def test_a_failed_table_write_leaves_a_failed_record(project_writer, storage):
    def write(extra: bool) -> Path:
        return project_writer.write(functions=APPEND_B, manifest={"log_sink": {"type": "file"}}, transformations=[
            {"transformation_id": "t-grow", "layer": "Silver", "function": "grow", "constants": {"extra": extra},
             "outputs": [{"table": "silver.hist", "mode": "append"}]}])

    with dg.instance_for_test() as instance:
        assert run_in_process(write(False), storage, instance).success
        assert not run_in_process(write(True), storage, instance).success  # the append is refused
        log = read_transformation_log("Test Project", instance)
    with open(storage / "_logs" / "transformation_log.csv") as handle:
        rows = [(r["transformation_id"], r["status"], r["error_message"]) for r in csv.DictReader(handle)]
    refused = ("writing table 'silver.hist' failed: TableWriteError: append into 'silver.hist' refused: schema "
               "differs from the stored table: new columns ['b']; the stored table is unchanged (set "
               "schema_evolution: true on the output to add the new columns; a source's table keeps the columns it "
               "was first written with)")
    assert rows == [("t-grow", "SUCCESS", ""), ("t-grow", "FAILED", refused)]  # the real reason, once
    assert log["status"].tolist() == ["SUCCESS", "FAILED"]  # the reader has the failed attempt too


def test_manifest_log_sink_config(tmp_path, monkeypatch):
    monkeypatch.setenv("ODIBI_STORAGE_ROOT", str(tmp_path))
    monkeypatch.setenv("ODIBI_TEST_LOG_DB", str(tmp_path / "x.db"))
    assert build_sink({"type": "file", "path": "runs.csv"}).file_path == tmp_path / "_logs" / "runs.csv"
    assert build_sink({"type": "delta"}).path == tmp_path / "_logs" / "transformation_log"
    assert build_sink({"type": "sql", "url": "sqlite:///${ODIBI_TEST_LOG_DB}"}).url == f"sqlite:///{tmp_path}/x.db"
    assert build_sink({"type": "spark_delta", "table": "ops.runs"}, tmp_path / "r").path == tmp_path / "r/_logs/ops.runs"
    assert isinstance(build_sink([{"type": "file"}, {"type": "delta"}]), MultiLogSink)
    with pytest.raises(ValueError, match="must be a relative path inside <storage_root>/_logs"):
        build_sink({"type": "file", "path": "../../etc/cron.d/x"})
    with pytest.raises(ValueError, match="Input should be 'file', 'delta', 'sql' or 'spark_delta'"):
        build_sink({"type": "kafka"})


@pytest.mark.parametrize(("url", "secret"), [
    ("postgresql+psycopg2://etl:${ODIBI_TEST_LOG_PW}@127.0.0.1:1/ops", "p@ss:word99"),  # not URL-encoded
    ("postgresql+psycopg2://etl@127.0.0.1:1/ops?password=${ODIBI_TEST_LOG_PW}", "QueryPwZZ9"),
    ("postgresql+psycopg2://etl:${ODIBI_TEST_LOG_PW}@127.0.0.1:1/ops", "p@ss/w#rd77"),
    ("postgresql+psycopg2://etl:${ODIBI_TEST_LOG_PW}@127.0.0.1:1/ops", "pw/ss#rd?77"),  # parses as it should
])
def test_a_sink_never_fails_a_step_nor_shows_its_secret(url, secret, demo_dir, storage, monkeypatch):
    """An unreachable sink is a warning per record; a URL that cannot be parsed or would be parsed
    wrongly (an unencoded ``@`` in the password) is a config error at load: neither shows the secret."""
    from odibi_dagster.config import ConfigError, load_project_folder

    monkeypatch.setenv("ODIBI_TEST_LOG_PW", secret)
    with_manifest_sinks(demo_dir, [{"type": "sql", "url": url}, {"type": "file", "path": "ok.csv"}])
    fragments = {part for part in re.split(r"[@:/#?=]", secret) if len(part) >= 3}
    if "@" in secret:
        with pytest.raises(ConfigError) as info:
            load_project_folder(demo_dir)
        assert "field 'log_sink.0.url': the connection URL cannot be parsed" in str(info.value)
        assert not any(part in str(info.value) for part in {secret, *fragments})
        return
    with dg.instance_for_test() as instance:
        result = run_in_process(demo_dir, storage, instance)
        assert result.success and not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
        everything = "\n".join(entry.user_message for entry in instance.all_logs(result.run_id))
        warnings = [w for w in warnings_of(instance, result.run_id) if w.startswith("log sink sql sink")]
    assert len(warnings) == 9
    assert not any(part in everything for part in {secret, *fragments}), everything
    with open(storage / "_logs" / "ok.csv") as handle:  # the next sink still got every record
        assert len(list(csv.DictReader(handle))) == 9


def test_a_csv_of_another_kind_is_not_appended_to(demo_dir, storage):
    (storage / "_logs").mkdir(parents=True)
    (storage / "_logs" / "old.csv").write_text("when,what,who\n1,2,3\n")
    with_manifest_sinks(demo_dir, {"type": "file", "path": "old.csv"})
    with dg.instance_for_test() as instance:
        result = run_in_process(demo_dir, storage, instance)
        assert result.success
        warnings = warnings_of(instance, result.run_id)
    assert any("is not a transformation log (its header: 'when,what,who')" in w for w in warnings)
    assert (storage / "_logs" / "old.csv").read_text() == "when,what,who\n1,2,3\n"


def test_two_sinks_writing_one_place_are_refused_at_load(demo_dir):
    from odibi_dagster.config import ConfigError

    with_manifest_sinks(demo_dir, [{"type": "file", "path": "runs.csv"}, {"type": "file", "path": "./runs.csv"},
                                   {"type": "delta", "path": "runs.csv"}])
    with pytest.raises(ConfigError) as info:
        load_project_folder(demo_dir)
    assert {(issue.field, issue.message) for issue in info.value.issues} == {
        (f"log_sink.{n}", "writes to the same place as log_sink.0: each record would be written twice")
        for n in (1, 2)}


QUERY_FAILS = """
def use(inputs):
    return inputs["q"]
"""


def test_a_failing_query_input_leaves_a_failed_record(project_writer, storage):
    root = project_writer.write(functions=QUERY_FAILS, manifest={"log_sink": {"type": "file"}}, transformations=[
        {"transformation_id": "t-q", "layer": "Silver", "function": "use",
         "inputs": [{"type": "query", "name": "q", "sql": "SELECT * FROM no_such_table",
                     "connection": "sqlite:///q.db"}], "outputs": [{"table": "silver.q"}]}])
    with dg.instance_for_test() as instance:
        assert not run_in_process(root, storage, instance).success
        log = read_transformation_log("Test Project", instance)
    assert log[["transformation_id", "status"]].values.tolist() == [["t-q", "FAILED"]]
    assert "no such table: no_such_table" in log["error_message"].iloc[0]
    with open(storage / "_logs" / "transformation_log.csv") as handle:
        assert [r["status"] for r in csv.DictReader(handle)] == ["FAILED"]


def sample_records() -> list[dict]:
    from datetime import datetime, timezone

    from odibi_dagster.logging.records import build_record

    now = datetime.now(timezone.utc)
    return [build_record(transformation_id="t1", project="P", env="qat", layer="Silver", engine="pandas",
                         labels=None, run_id="r1", start_time=now, end_time=now, status="SUCCESS", attempt=1)]


@pytest.mark.postgres
def test_a_sql_sink_writes_to_the_table_postgres_folded_to_lower_case(postgres_url):
    engine = sa.create_engine(postgres_url)
    columns = ", ".join(f"{name} TEXT" for name in RECORD_FIELDS)
    with engine.begin() as conn:
        conn.execute(sa.text('DROP TABLE IF EXISTS transformationrunlog2, "TransformationRunLog2"'))
        conn.execute(sa.text(f"CREATE TABLE TransformationRunLog2 ({columns})"))  # unquoted: folded to lower
    SQLLogSink(postgres_url, "TransformationRunLog2").write(sample_records())
    with engine.begin() as conn:
        assert conn.execute(sa.text("SELECT transformation_id FROM transformationrunlog2")).scalars().all() == ["t1"]
        assert "TransformationRunLog2" not in sa.inspect(conn).get_table_names()  # no second table
        conn.execute(sa.text("DROP TABLE transformationrunlog2"))
    engine.dispose()


def test_a_sql_sink_refuses_a_table_that_is_not_a_log(tmp_path):
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE TransformationRunLog (id INTEGER, note TEXT)"))
        conn.execute(sa.text("INSERT INTO TransformationRunLog VALUES (1, 'kept')"))
    with pytest.raises(ConnectionError, match=r"is not a transformation log \(its columns: \['id', 'note'\]\)"):
        SQLLogSink(url, "TransformationRunLog").write(sample_records())
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT * FROM TransformationRunLog")).all() == [(1, "kept")]
    engine.dispose()


@pytest.mark.mariadb
def test_sql_sink_on_mariadb_matches_the_reader(home, tmp_path, mariadb_url):
    sinks_hold_the_readers_records(tmp_path, mariadb_url)
