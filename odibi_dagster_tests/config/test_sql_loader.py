"""SQL config tables through SQLAlchemy: export a folder project, load it back, on SQLite and PostgreSQL."""

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from odibi_dagster.config import ConfigError, export_project, load_project_folder, load_project_sql
from odibi_dagster.config.sql import TRANSFORMATIONS


def _dump(project):
    return (
        project.manifest.model_dump(),
        [s.model_dump(exclude={"project"}) for s in project.sources],  # the SQL rows name their project
        [t.model_dump(exclude={"project"}) for t in project.transformations],
        project.env,
        project.table_layers,
    )


def _roundtrip(demo_dir, url):
    export_project(demo_dir, url)
    for env in ("qat", "prod"):
        from_folder = load_project_folder(demo_dir, env=env)
        from_sql = load_project_sql(url, "energy efficiency", env=env)  # matched case-insensitively
        assert _dump(from_sql) == _dump(from_folder)
        assert from_sql.root == demo_dir.resolve()


def test_export_then_load_sqlite(demo_dir, tmp_path):
    _roundtrip(demo_dir, f"sqlite:///{tmp_path / 'config.db'}")


@pytest.mark.postgres
def test_export_then_load_postgres(demo_dir, postgres_url):
    _roundtrip(demo_dir, postgres_url)
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:  # "function" is a reserved word in PostgreSQL: the column still works
        functions = conn.execute(sa.select(TRANSFORMATIONS.c.function)).scalars().all()
    engine.dispose()
    assert "boiler_daily_metrics" in functions


def test_export_keeps_disabled_and_other_env_rows(demo_dir, tmp_path):
    url = f"sqlite:///{tmp_path / 'config.db'}"
    export_project(demo_dir, url)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(TRANSFORMATIONS.c.transformation_id, TRANSFORMATIONS.c.enabled,
                                      TRANSFORMATIONS.c.environment)).all()
    engine.dispose()
    by_id = {r.transformation_id: r for r in rows}
    assert by_id["energy-legacy-dryers-silver"].enabled is False
    assert by_id["energy-plant-summary-prod-export"].environment == "prod"


def test_export_twice_replaces_rows(demo_dir, tmp_path):
    url = f"sqlite:///{tmp_path / 'config.db'}"
    export_project(demo_dir, url)
    export_project(demo_dir, url)
    assert len(load_project_sql(url, "Energy Efficiency").transformations) == 5


@pytest.fixture(params=["sqlite", "postgres"])
def config_url(request, tmp_path) -> str:
    """An empty config database: a SQLite file, or the PostgreSQL server's test database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'config.db'}"
    return request.getfixturevalue("postgres_url")


def _bad_row_db(url, demo_dir, **values):
    export_project(demo_dir, url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.update(TRANSFORMATIONS).where(
            TRANSFORMATIONS.c.transformation_id == "energy-boiler-daily-silver").values(**values))
    engine.dispose()
    return url


def test_bad_json_in_a_table_names_table_row_and_field(demo_dir, config_url):
    url = _bad_row_db(config_url, demo_dir, outputs='[{"table": "silver.boiler_daily"')
    with pytest.raises(ConfigError) as info:
        load_project_sql(url, "Energy Efficiency")
    issue = info.value.issues[0]
    assert "table TransformationRegistry" in issue.where
    assert (issue.row, issue.field) == ("energy-boiler-daily-silver", "outputs")
    assert issue.message.startswith("invalid JSON")


def test_bad_json_in_the_manifest_table_is_one_clear_issue(demo_dir, config_url):
    url = config_url
    export_project(demo_dir, url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text('UPDATE "ProjectManifest" SET tags = :tags'), {"tags": '{"team": '})
    engine.dispose()
    with pytest.raises(ConfigError) as info:
        load_project_sql(url, "Energy Efficiency")
    assert str(info.value).count("configuration error") == 1  # not wrapped in a second error
    issue = info.value.issues[0]
    assert "table ProjectManifest" in issue.where and issue.field == "tags"
    assert issue.message.startswith("invalid JSON")


def test_unknown_project_and_a_database_without_the_tables(demo_dir, config_url):
    with pytest.raises(ConfigError, match="cannot read config tables"):
        load_project_sql(config_url, "Energy Efficiency")
    export_project(demo_dir, config_url)
    with pytest.raises(ConfigError, match="no manifest row for project 'Nope'"):
        load_project_sql(config_url, "Nope")


def test_project_names_are_bound_parameters(demo_dir, config_url):
    manifest = (demo_dir / "manifest.yaml").read_text().replace("Energy Efficiency", "O'Brien's Plant; DROP")
    (demo_dir / "manifest.yaml").write_text(manifest)
    url = config_url
    export_project(demo_dir, url)
    project = load_project_sql(url, "o'brien's plant; drop")
    assert project.name == "O'Brien's Plant; DROP" and len(project.transformations) == 5


def test_json_columns_hold_text(demo_dir, tmp_path):
    url = f"sqlite:///{tmp_path / 'config.db'}"
    export_project(demo_dir, url)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        outputs = conn.execute(sa.select(TRANSFORMATIONS.c.outputs).where(
            TRANSFORMATIONS.c.transformation_id == "energy-boiler-daily-silver")).scalar_one()
    engine.dispose()
    assert json.loads(outputs)[0]["merge_keys"] == ["boiler_id", "date"]


def unknown_columns_are_refused(demo_dir, url):
    """A column the model does not know is an unknown key, as in a folder project (not silently dropped)."""
    export_project(demo_dir, url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text('ALTER TABLE "ProjectManifest" ADD COLUMN default_engin VARCHAR(20)'))
        conn.execute(sa.text('UPDATE "ProjectManifest" SET default_engin = :engine'), {"engine": "spark"})
        conn.execute(sa.text('ALTER TABLE "TransformationRegistry" ADD COLUMN constans TEXT'))
        conn.execute(sa.text('UPDATE "TransformationRegistry" SET constans = :value WHERE transformation_id = :tid'),
                     {"value": '{"x": 1}', "tid": "energy-plant-summary-gold"})
    engine.dispose()
    def issues() -> set[tuple]:
        with pytest.raises(ConfigError) as info:
            load_project_sql(url, "Energy Efficiency")
        return {(issue.where.rsplit(" ", 1)[-1], issue.row, issue.field, issue.message) for issue in info.value.issues}

    assert issues() == {
        ("ProjectManifest", None, "default_engin", "unknown key 'default_engin' (did you mean 'default_engine'?)")}
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # an empty extra column is harmless; the rows' one is reported next
        conn.execute(sa.text('UPDATE "ProjectManifest" SET default_engin = NULL'))
    engine.dispose()
    assert issues() == {("TransformationRegistry", "energy-plant-summary-gold", "constans",
                         "unknown key 'constans' (did you mean 'constants'?)")}


def test_unknown_columns_are_refused_on_sqlite(demo_dir, tmp_path):
    unknown_columns_are_refused(demo_dir, f"sqlite:///{tmp_path / 'config.db'}")


@pytest.mark.postgres
def test_unknown_columns_are_refused_on_postgres(demo_dir, postgres_url):
    unknown_columns_are_refused(demo_dir, postgres_url)


def test_every_manifest_field_has_a_column_so_export_keeps_it():
    from odibi_dagster.config.model import Manifest
    from odibi_dagster.config.sql import MANIFESTS

    assert set(Manifest.model_fields) <= set(MANIFESTS.c.keys())


def checks_round_trip(project_writer, url):
    """Checks, gates and quarantine tables of sources and outputs survive export and load (JSON text)."""
    from odibi_dagster_tests.assets.test_quality_runs import write_orders_project

    root = write_orders_project(project_writer, gate=0.5, gold_checks=[{"type": "schema", "columns": {
        "rows": "integer"}, "strict": True}])
    export_project(root, url)
    from_folder, from_sql = load_project_folder(root), load_project_sql(url, "Test Project")
    assert _dump(from_sql) == _dump(from_folder)
    assert from_sql.sources[0].checks[0].type == "row_count"
    assert from_sql.transformations[0].outputs[0].quality_gate.min_pass_rate == 0.5
    assert "silver.orders_quarantine" in from_sql.table_layers


def test_checks_round_trip_through_sqlite(project_writer, tmp_path):
    checks_round_trip(project_writer, f"sqlite:///{tmp_path / 'config.db'}")


@pytest.mark.postgres
def test_checks_round_trip_through_postgres(project_writer, postgres_url):
    checks_round_trip(project_writer, postgres_url)


def test_export_adds_the_quality_columns_to_a_source_table_of_the_earlier_release(demo_dir, tmp_path):
    from odibi_dagster.config.sql import ADDED_SOURCE_COLUMNS, SOURCES

    url = f"sqlite:///{tmp_path / 'config.db'}"
    engine = sa.create_engine(url)
    old = sa.Table(SOURCES.name, sa.MetaData(), *[sa.Column(c.name, c.type) for c in SOURCES.c if c.name not in ADDED_SOURCE_COLUMNS])
    old.create(engine)
    engine.dispose()
    export_project(demo_dir, url)
    from_sql = load_project_sql(url, "Energy Efficiency")
    readings = next(source for source in from_sql.sources if source.table == "bronze.sensor_readings")
    assert [check.check_name for check in readings.checks] == ["unique__reading_id", "not_null__fuel_kg",
                                                                "range__steam_kg"]


def test_a_config_db_url_reads_its_names_from_the_environment(demo_dir, tmp_path, monkeypatch):
    export_project(demo_dir, f"sqlite:///{tmp_path / 'config.db'}")
    monkeypatch.setenv("ODIBI_TEST_CONFIG_FILE", str(tmp_path / "config.db"))
    project = load_project_sql("sqlite:///${ODIBI_TEST_CONFIG_FILE}", "Energy Efficiency")
    assert len(project.transformations) == 5
    monkeypatch.delenv("ODIBI_TEST_CONFIG_FILE")
    with pytest.raises(ConfigError) as info:
        load_project_sql("sqlite:///${ODIBI_TEST_CONFIG_FILE}", "Energy Efficiency")
    assert [issue.message for issue in info.value.issues] == [
        "the config database URL: environment variable 'ODIBI_TEST_CONFIG_FILE' is not set"]
    assert not Path("${ODIBI_TEST_CONFIG_FILE}").exists()  # no SQLite file named after the placeholder


@pytest.mark.postgres
def test_a_config_db_password_from_the_environment_is_used_and_never_shown(demo_dir, postgres_url, monkeypatch):
    export_project(demo_dir, postgres_url)
    url = sa.make_url(postgres_url)
    monkeypatch.setenv("ODIBI_TEST_CONFIG_PW", "not-the-password-7731")
    authority = f"{url.username}:${{ODIBI_TEST_CONFIG_PW}}@{url.host}"
    template = f"{url.drivername}://{authority}:{url.port}/{url.database}"
    # the server trusts local connections, so a wrong password still loads: the error path is shown below
    assert load_project_sql(template, "Energy Efficiency").name == "Energy Efficiency"
    wrong_port = f"{url.drivername}://{authority}:1/{url.database}"
    with pytest.raises(ConfigError) as info:
        load_project_sql(wrong_port, "Energy Efficiency")
    assert "cannot read config tables" in str(info.value) and "not-the-password-7731" not in str(info.value)


def test_a_password_with_an_unencoded_at_sign_is_refused_without_quoting_it():
    with pytest.raises(ConfigError) as info:
        load_project_sql("postgresql+psycopg2://etl:Sup@rSecret123@127.0.0.1:5432/config", "Energy Efficiency")
    assert str(info.value) == (
        "project 'Energy Efficiency' has 1 configuration error(s):\n  - (a URL that cannot be parsed): the connection "
        "URL cannot be parsed: URL-encode special characters in its user and password (@ as %40, : as %3A, / as %2F)")


@pytest.mark.mariadb
def test_config_db_credentials_from_the_environment_are_sent_and_never_shown(demo_dir, mariadb_url, monkeypatch):
    """MariaDB checks passwords (the local PostgreSQL trusts): a wrong one read from ${NAME} is
    refused by the server, and the right one loads."""
    export_project(demo_dir, mariadb_url)
    url = sa.make_url(mariadb_url)
    template = f"{url.drivername}://${{ODIBI_TEST_CONFIG_USER}}:${{ODIBI_TEST_CONFIG_PW}}@{url.host}:" \
               f"{url.port or 3306}/{url.database}"
    monkeypatch.setenv("ODIBI_TEST_CONFIG_USER", url.username)
    monkeypatch.setenv("ODIBI_TEST_CONFIG_PW", "wrong-pw-5521")
    with pytest.raises(ConfigError) as info:
        load_project_sql(template, "Energy Efficiency")
    assert "Access denied" in str(info.value) and "wrong-pw-5521" not in str(info.value)
    monkeypatch.setenv("ODIBI_TEST_CONFIG_PW", url.password or "")
    assert len(load_project_sql(template, "Energy Efficiency").transformations) == 5
