"""Load a project from SQL config tables through SQLAlchemy, and export a folder project into them.

Tables keep the original odibi_de_v2 names and columns: ``TransformationRegistry``,
``IngestionSourceConfig`` and ``ProjectManifest`` (one row per project). JSON columns hold text.
Every statement uses bound parameters; ``function`` is quoted by SQLAlchemy where it is reserved.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from odibi_dagster.config.assemble import assemble_project
from odibi_dagster.config.connections import (
    MissingVariableError,
    add_missing_columns,
    check_sql_url,
    env_secrets,
    shown_url,
    sql_engine,
    substitute_env,
)
from odibi_dagster.config.errors import ConfigError, ConfigIssue
from odibi_dagster.config.folder import find_config_file, load_project_folder, read_config_file, rows_of
from odibi_dagster.config.model import DuplicateKeyError, Project, json_object

metadata = sa.MetaData()

TRANSFORMATIONS = sa.Table(
    "TransformationRegistry", metadata,
    sa.Column("transformation_id", sa.String(100), nullable=False, index=True),
    sa.Column("transformation_group_id", sa.String(100)),
    sa.Column("project", sa.String(100), nullable=False, index=True),
    sa.Column("environment", sa.String(20)),
    sa.Column("layer", sa.String(50), nullable=False),
    sa.Column("step", sa.Integer, nullable=False, default=1),
    sa.Column("enabled", sa.Boolean, nullable=False, default=True),
    sa.Column("entity_1", sa.String(100)),
    sa.Column("entity_2", sa.String(100)),
    sa.Column("entity_3", sa.String(100)),
    sa.Column("module", sa.String(255), nullable=False),
    sa.Column("function", sa.String(255), nullable=False),
    sa.Column("inputs", sa.Text),
    sa.Column("constants", sa.Text),
    sa.Column("outputs", sa.Text),
    sa.Column("description", sa.Text),
    sa.Column("io", sa.String(20)),
)

SOURCES = sa.Table(
    "IngestionSourceConfig", metadata,
    sa.Column("source_id", sa.String(100), nullable=False, index=True),
    sa.Column("project", sa.String(100), nullable=False, index=True),
    sa.Column("source_name", sa.String(255), nullable=False),
    sa.Column("source_type", sa.String(50)),
    sa.Column("file_format", sa.String(20)),
    sa.Column("source_path_or_query", sa.Text),
    sa.Column("source_options", sa.Text),
    sa.Column("connection_config", sa.Text),
    sa.Column("environment", sa.String(20)),
    sa.Column("enabled", sa.Boolean, nullable=False, default=True),
    sa.Column("write_mode", sa.String(20)),
    sa.Column("merge_config", sa.Text),
    sa.Column("description", sa.Text),
    sa.Column("is_autoloader", sa.Boolean, default=False),
    # data quality (added after the first release; export adds them to an older table)
    sa.Column("checks", sa.Text),
    sa.Column("quality_gate", sa.Text),
    sa.Column("quarantine_table", sa.String(255)),
    # partitions and incremental loads (added later still)
    sa.Column("partition_column", sa.String(255)),
    sa.Column("incremental", sa.Text),
)
# columns added after the first release: export adds them to a table made by an earlier one
ADDED_SOURCE_COLUMNS = ("checks", "quality_gate", "quarantine_table", "partition_column", "incremental")
ADDED_MANIFEST_COLUMNS = ("partitions", "automation")

MANIFEST_JSON_COLUMNS = (
    "layer_order", "layers", "environments", "entity_labels", "transformation_modules", "cache_plan",
    "schedules", "retry", "tags", "log_sink", "metadata", "partitions", "automation",
)
MANIFESTS = sa.Table(
    "ProjectManifest", metadata,
    sa.Column("project_name", sa.String(100), primary_key=True),
    sa.Column("project_type", sa.String(50)),
    sa.Column("description", sa.Text),
    sa.Column("version", sa.String(20)),
    sa.Column("default_env", sa.String(20)),
    sa.Column("default_engine", sa.String(20)),
    sa.Column("owner", sa.String(255)),
    sa.Column("hooks_module", sa.String(255)),
    sa.Column("executor", sa.String(20)),
    # Folder holding the project's function modules and relative source paths (not in the original).
    sa.Column("project_root", sa.Text),
    *(sa.Column(name, sa.Text) for name in MANIFEST_JSON_COLUMNS),
)


def _where(shown: str, table: sa.Table) -> str:
    return f"{shown} table {table.name}"


def load_project_sql(
    url: str,
    project: str,
    env: str | None = None,
    *,
    manifest_path: str | Path | None = None,
    project_root: str | Path | None = None,
    check_imports: bool = True,
) -> Project:
    """Load ``project`` (matched case-insensitively, as the original did) from the config tables;
    ``${NAME}`` in ``url`` reads the environment variable NAME."""
    shown = shown_url(url)

    def config_error(message: str) -> ConfigError:
        return ConfigError([ConfigIssue(shown, message)], project)

    try:
        resolved = substitute_env(url, "the config database URL")
    except MissingVariableError as exc:
        raise config_error(str(exc)) from None
    problem = check_sql_url(resolved, None, "the config database URL")
    if problem:
        raise config_error(problem)
    with sql_engine(resolved, where="cannot read config tables", error=config_error, secrets=env_secrets(url),
                    shown_as=url) as engine, engine.connect() as conn:
        manifest_raw, manifest_where, root = _read_manifest(conn, shown, project, manifest_path)
        name = manifest_raw.get("project_name", project) if isinstance(manifest_raw, dict) else project
        sources = _read_rows(conn, SOURCES, name)
        transformations = _read_rows(conn, TRANSFORMATIONS, name)
    root = Path(project_root).resolve() if project_root else root
    return assemble_project(
        manifest_raw, sources, transformations,
        manifest_where=manifest_where, sources_where=_where(shown, SOURCES),
        transformations_where=_where(shown, TRANSFORMATIONS), env=env, root=root,
        origin=shown, check_imports=check_imports,
    )


def _read_manifest(conn, shown: str, project: str, manifest_path) -> tuple[Any, str, Path | None]:
    if manifest_path is not None:
        path = Path(manifest_path).resolve()
        return read_config_file(path), str(path), path.parent
    where = _where(shown, MANIFESTS)
    table = _stored(conn, MANIFESTS)
    row = conn.execute(
        sa.select(table).where(sa.func.lower(table.c.project_name) == project.lower())
    ).mappings().first()
    if row is None:
        raise ConfigError([ConfigIssue(where, f"no manifest row for project '{project}'", project, "project_name")])
    raw: dict[str, Any] = {}
    issues = []
    for key, value in row.items():
        if value is None or key == "project_root":
            continue
        if key in MANIFEST_JSON_COLUMNS and isinstance(value, str):
            try:
                value = json.loads(value, object_pairs_hook=json_object)
            except json.JSONDecodeError as exc:
                issues.append(ConfigIssue(where, f"invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
                                          project, key))
                continue
            except DuplicateKeyError as exc:
                issues.append(ConfigIssue(where, str(exc), project, key))
                continue
        raw[key] = value
    if issues:
        raise ConfigError(issues, project)
    root = Path(row["project_root"]) if row.get("project_root") else None
    return raw, where, root


def _stored(conn: sa.Connection, table: sa.Table) -> sa.Table:
    """The table as the database has it: every column, so that a column the model does not know
    reaches validation (and is refused there, as an unknown key in a folder project is)."""
    try:
        return sa.Table(table.name, sa.MetaData(), autoload_with=conn)
    except sa.exc.NoSuchTableError:
        return table  # the query then fails with the database's own "no such table" message


def _read_rows(conn, table: sa.Table, project: str) -> list[dict[str, Any]]:
    table = _stored(conn, table)
    query = sa.select(table).where(sa.func.lower(table.c.project) == project.lower())
    rows = []
    for row in conn.execute(query).mappings():
        rows.append({key: value for key, value in row.items() if value is not None})
    return rows


def export_project(project_dir: str | Path, url: str) -> Project:
    """Write a folder project into the SQL tables (creating them), replacing that project's rows.

    Every row is exported, disabled rows and other environments' rows included, so the tables
    hold the same project as the folder. The folder is validated first: a broken project is not
    exported. One transaction: on any failure the tables keep what they held.
    """
    project = load_project_folder(project_dir)
    root = Path(project_dir).resolve()
    name = project.name

    manifest_raw = read_config_file(find_config_file(root, "manifest"))
    manifest_row = {key: value for key, value in manifest_raw.items() if key in MANIFESTS.c}
    for key in MANIFEST_JSON_COLUMNS:
        if key in manifest_row:
            manifest_row[key] = json.dumps(manifest_row[key])
    manifest_row["project_root"] = str(root)

    def rows(stem: str, table: sa.Table) -> list[dict[str, Any]]:
        path = find_config_file(root, stem)
        raw = rows_of(read_config_file(path), stem) if path else []
        out = []
        for row in raw:
            # executemany needs the same keys in every record: fill absent columns with their defaults
            record = {column.name: _column_value(row.get(column.name, _DEFAULTS.get(column.name)))
                      for column in table.c}
            record["project"] = row.get("project") or name
            out.append(record)
        return out

    def export_error(message: str) -> ConfigError:
        return ConfigError([ConfigIssue(shown_url(url), message)], name)

    with sql_engine(url, where="cannot export to config tables", error=export_error) as engine:
        metadata.create_all(engine)
        add_missing_columns(engine, SOURCES, ADDED_SOURCE_COLUMNS)
        add_missing_columns(engine, MANIFESTS, ADDED_MANIFEST_COLUMNS)
        with engine.begin() as conn:
            conn.execute(sa.delete(MANIFESTS).where(sa.func.lower(MANIFESTS.c.project_name) == name.lower()))
            conn.execute(sa.insert(MANIFESTS), [manifest_row])
            for stem, table in (("sources", SOURCES), ("transformations", TRANSFORMATIONS)):
                conn.execute(sa.delete(table).where(sa.func.lower(table.c.project) == name.lower()))
                records = rows(stem, table)
                if records:
                    conn.execute(sa.insert(table), records)
    return project


_DEFAULTS = {"enabled": True, "step": 1, "is_autoloader": False}


def _column_value(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (dict, list)) else value
