"""Secrets never leave the process that reads them: not in errors, warnings, metadata, records,
compute logs, the event log or the CLI's output, whatever their place in a URL or path.

A real CLI run (``dagster asset materialize``, no daemon) of a project whose sources and log sink
fail with secrets in every awkward place, then a byte-level search of the whole instance folder,
the storage root and every command's output.
"""

import os
import subprocess
import sys

from odibi_dagster_tests.conftest import BIN, ProjectWriter

SECRETS = {
    "PG_SECRET": "Hunter2-Vault.9xq",  # the password of a URL
    "SQLITE_SECRET": "TopSecretDir77",  # a folder name inside a SQLite path
    "QS_SECRET": "QueryParamPw55",  # a password in the query string
    "SINK_SECRET": "S1nk-Pass_word42",
    "AT_SECRET": "p@ss:word99",  # '@' and ':' unencoded: the URL cannot be parsed, refused at load
}
LITERALS = ["sv=2024&sig=LiteralSas999", "Bearer LiteralToken123456"]  # written in source_options


def pieces(secret: str) -> list[str]:
    """The secret and each piece of it a URL parser could cut out (at least 5 characters)."""
    import re

    return [secret, *(piece for piece in re.split(r"[@:/#?&=]", secret) if len(piece) >= 5)]


def test_no_secret_reaches_any_output_or_file(tmp_path):
    project = ProjectWriter(tmp_path / "project").write(
        manifest={"log_sink": {"type": "sql", "url": "postgresql+psycopg2://postgres:${SINK_SECRET}@127.0.0.1:1/test"
                                                     "?password=${SINK_SECRET}&connect_timeout=2"}},
        data={"a.csv": "x\n1\n"},
        sources=[
            {"source_id": "pg-at", "source_name": "bronze.pg_at", "file_format": "sql",
             "source_path_or_query": "select 1",
             "connection_config": {"url": "postgresql+psycopg2://etl:${PG_SECRET}@127.0.0.1:1/test"
                                          "?connect_timeout=2"}},
            {"source_id": "sqlite-path", "source_name": "bronze.sqlite_path", "file_format": "sql",
             "source_path_or_query": "select * from readings",
             "connection_config": {"url": "sqlite:///" + str(tmp_path / "project") + "/${SQLITE_SECRET}/db.sqlite"}},
            {"source_id": "pg-query", "source_name": "bronze.pg_query", "file_format": "sql",
             "source_path_or_query": "select 1",
             "connection_config": {"url": "postgresql+psycopg2://etl@127.0.0.1:1/test?password=${QS_SECRET}"
                                          "&connect_timeout=2"}},
            {"source_id": "csv-literals", "source_name": "bronze.csv_literals", "file_format": "csv",
             "source_path_or_query": "a.csv",
             "source_options": {"header": True, "spark": {"sas": LITERALS[0], "Authorization": LITERALS[1]}}},
        ])
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ODIBI_")}, **SECRETS,
           "DAGSTER_HOME": str(tmp_path / "home"), "ODIBI_PROJECT_DIR": str(project),
           "ODIBI_STORAGE_ROOT": str(tmp_path / "storage")}

    def command(*args: str) -> str:
        done = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
        return done.stdout + done.stderr

    unparseable = ProjectWriter(tmp_path / "unparseable").write(sources=[
        {"source_id": "pg-at", "source_name": "bronze.pg_at", "file_format": "sql", "source_path_or_query": "select 1",
         "connection_config": {"url": "postgresql+psycopg2://etl:${AT_SECRET}@127.0.0.1:1/test"}}])
    outputs = {
        "validate unparseable": command(sys.executable, "-m", "odibi_dagster", "validate", "--project-dir",
                                        str(unparseable)),
        "materialize": command(str(BIN / "dagster"), "asset", "materialize", "-m", "odibi_dagster.definitions",
                               "--select", "*"),
        "asset list": command(str(BIN / "dagster"), "asset", "list", "-m", "odibi_dagster.definitions"),
        "log": command(sys.executable, "-m", "odibi_dagster", "log"),
        "failed": command(sys.executable, "-m", "odibi_dagster", "failed", "--project", "Test Project"),
    }
    # the run happened and failed where expected: the searches below look at real errors
    assert "Materialization failed" in outputs["materialize"], outputs["materialize"][-3000:]
    assert all(source in outputs["failed"] for source in ("pg-at", "sqlite-path", "pg-query")), outputs["failed"]
    assert "log sink" in outputs["materialize"], outputs["materialize"][-3000:]  # the sink's warning
    assert "row 'pg-at', field 'connection_config.url': the connection URL cannot be parsed" in \
        outputs["validate unparseable"]
    # the secrets were in play and masked, while where the connection went stays readable
    assert "on postgresql+psycopg2://etl:***@127.0.0.1:1/test?connect_timeout=2: OperationalError" in \
        outputs["failed"].replace("\n", " ")

    files = [path for folder in (tmp_path / "home", tmp_path / "storage") for path in folder.rglob("*")
             if path.is_file()]
    assert any(path.suffix == ".db" for path in files) and any("compute_logs" in str(path) for path in files)
    for secret in [*SECRETS.values(), *LITERALS]:
        for piece in pieces(secret):
            for name, text in outputs.items():
                assert piece not in text, f"'{piece}' (of a secret) in the output of {name}"
            for path in files:
                assert piece.encode() not in path.read_bytes(), f"'{piece}' (of a secret) in {path}"


def test_a_secret_echoed_by_user_code_is_redacted_in_the_step_error_and_record(tmp_path, monkeypatch):
    """Whatever code puts a ``${NAME}`` value into a message (here the function itself), the step's
    error, its chain and its log record never carry it."""
    import sqlite3

    import dagster as dg

    from odibi_dagster.assets import build_definitions
    from odibi_dagster.config import load_project_folder
    from odibi_dagster.logging.reader import read_transformation_log

    database = tmp_path / "project" / "ops.db"
    database.parent.mkdir()
    sqlite3.connect(database).execute("create table t (x int)").connection.commit()
    monkeypatch.setenv("OPS_DB_SECRET", str(database))
    root = ProjectWriter(tmp_path / "project").write(
        transformations=[{"transformation_id": "t1", "layer": "Silver", "function": "echo",
                          "inputs": [{"type": "query", "name": "q", "sql": "select x from t",
                                      "connection": "sqlite:///${OPS_DB_SECRET}"}],
                          "outputs": [{"table": "silver.t"}]}],
        functions="import os\n\ndef echo(inputs):\n"
                  "    raise ValueError('cannot use ' + os.environ['OPS_DB_SECRET'])\n")
    defs = build_definitions(load_project_folder(root), storage_root_dir=tmp_path / "storage")
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        result = defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance,
                                                                                 raise_on_error=False)
        assert not result.success
        error = result.get_step_failure_events()[0].step_failure_data.error
        texts = []
        while error is not None:
            texts.append(error.message + "".join(error.stack))
            error = error.cause
        records = read_transformation_log(instance=instance)
    assert "cannot use ***" in "".join(texts) and str(database) not in "".join(texts)
    assert records["error_message"].tolist() == [
        "transformation 't1' failed: ValueError: cannot use ***"]
    for path in (tmp_path / "home").rglob("*"):
        if path.is_file():
            assert str(database).encode() not in path.read_bytes(), path


def test_a_secret_is_redacted_in_its_escaped_forms_and_short_values_stay_readable(monkeypatch):
    import json

    from odibi_dagster.config.connections import redact

    secret = 'Zq"xK\\vQ\tM9!'
    for shown in (repr({"password": secret}), json.dumps({"password": secret}), str(KeyError(secret))):
        cleaned = redact(shown, secret)
        assert "***" in cleaned and "xK" not in cleaned and "M9" not in cleaned, cleaned
    assert redact("table gold.plant_summary", "plant") == "table gold.***_summary"  # asked for: removed
    from odibi_dagster.config.connections import MIN_GLOBAL_SECRET, redact_secrets, substitute_env

    monkeypatch.setenv("ODIBI_TEST_SHORT", "plant")
    assert substitute_env("sqlite:///${ODIBI_TEST_SHORT}.db", "test") == "sqlite:///plant.db"
    assert redact_secrets("table gold.plant_summary") == "table gold.plant_summary"  # too short for every message
    assert len("plant") < MIN_GLOBAL_SECRET


def test_a_url_secret_masks_its_credentials_and_keeps_where_it_points():
    """A whole URL read from ${NAME}: its password, secret query values and path parameters (Spark
    Connect's token) are masked wherever they appear; its scheme, host and database stay readable."""
    from odibi_dagster.config.connections import redact

    cases = {
        "postgresql+psycopg2://etl:Pw-1234567@db.internal:5432/ops?sslpassword=Ssl-99999&connect_timeout=2":
            ["Pw-1234567", "Ssl-99999"],
        "sc://spark.internal:443/;token=dapi-abcdef123;user_id=etl": ["dapi-abcdef123"],
        "databricks://token:dapi-zyx98765@adb.internal/default": ["dapi-zyx98765"],
    }
    for url, credentials in cases.items():
        message = redact(f"cannot connect to {url}: the server said {' and '.join(credentials)} were refused", url)
        assert all(credential not in message for credential in credentials), message
        assert message.startswith("cannot connect to ***: the server said ***"), message
        host = url.split("@")[-1].split("/")[0].split(":")[0] if "@" in url else "spark.internal"
        assert host in redact(f"connection to server at {host} failed", url)


def test_urls_that_parsers_read_differently_never_show_a_piece_of_their_password(monkeypatch):
    """Found by a hostile run: a password with '/' then an unencoded '@' (SQLAlchemy would make its
    tail the host), one with '#' or '?', an ODBC string's PWD, an `auth` parameter, and a Spark
    Connect URL that pyspark quotes in its own error."""
    from odibi_dagster.config import connections
    from odibi_dagster.config.connections import redact, shown_url
    from odibi_dagster.engines.spark_session import SparkSettings, SparkUnavailable, get_session

    # the Spark URL is remembered as a secret of the process: of this test's process state only
    monkeypatch.setattr(connections, "_READ_SECRETS", set())
    tail = "postgresql+psycopg2://postgres:Xy/Sec@Tail9Leak@127.0.0.1:5432/test"
    assert shown_url(tail) == "(a URL that cannot be parsed)"
    assert "Tail9Leak" not in redact('could not translate host name "Tail9Leak@127.0.0.1"', tail)
    hashed = "postgresql+psycopg2://postgres:Hq#7Secr/Et?Pw42@127.0.0.1:5432/test"
    assert redact("the function said Hq#7Secr/Et?Pw42", hashed) == "the function said ***"
    odbc = "mssql+pyodbc:///?odbc_connect=DRIVER%3D%7BODBC%7D%3BPWD%3DCfgOdbc888"
    assert "CfgOdbc888" not in shown_url(odbc) and "CfgOdbc888" not in redact("PWD=CfgOdbc888 refused", odbc)
    assert shown_url("postgresql://etl@db/ops?auth=CfgAuth999&connect_timeout=2") == \
        "postgresql://etl@db/ops?auth=%2A%2A%2A&connect_timeout=2"
    assert shown_url("${ODIBI_CONFIG_URL}") == "${ODIBI_CONFIG_URL}"  # the variable's name, never its value
    assert shown_url("postgresql://${DB_USER}:${DB_PW}@db/ops") == "postgresql://${DB_USER}:***@db/ops"
    try:
        get_session(SparkSettings(remote="sc://127.0.0.1:5432;token=SparkTokA9XYZ"))  # the '/' forgotten
    except SparkUnavailable as exc:
        assert "SparkTokA9XYZ" not in str(exc)
    else:
        raise AssertionError("a Spark Connect URL without a port number was accepted")
