"""Which project the code location loads, and the ``ODIBI_*`` environment overrides."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from odibi_dagster.config.errors import ConfigError, ConfigIssue
from odibi_dagster.config.folder import load_project_folder
from odibi_dagster.config.model import ENGINES, Project


def load_project(
    project_dir: str | Path | None = None,
    config_db: str | None = None,
    project: str | None = None,
    env: str | None = None,
) -> Project:
    """Load from a folder, or from SQL tables when ``config_db`` is given (``project`` names the row)."""
    if config_db:
        if not project:
            from odibi_dagster.config.connections import shown_url

            raise ConfigError([ConfigIssue(shown_url(config_db),
                                           "a SQL config database needs a project name (ODIBI_PROJECT)")])
        from odibi_dagster.config.sql import load_project_sql  # SQLAlchemy's SQL layer only when needed

        return load_project_sql(config_db, project, env, project_root=project_dir)
    if project_dir is None:
        from odibi_dagster.demo import DEMO_PROJECT_DIR as project_dir  # the bundled demo
    return load_project_folder(project_dir, env)


def load_project_from_environment(
    project_dir: str | Path | None = None,
    config_db: str | None = None,
    project: str | None = None,
    env: str | None = None,
) -> Project:
    """Arguments given win; else ``ODIBI_PROJECT_DIR`` or ``ODIBI_CONFIG_DB`` + ``ODIBI_PROJECT``, else
    the bundled demo; ``ODIBI_ENV`` for the environment."""
    return load_project(
        project_dir=project_dir or os.environ.get("ODIBI_PROJECT_DIR") or None,
        config_db=config_db or os.environ.get("ODIBI_CONFIG_DB") or None,
        project=project or os.environ.get("ODIBI_PROJECT") or None,
        env=env or os.environ.get("ODIBI_ENV") or None,
    )


def check_engine(engine: str, where: str) -> str:
    """``"Spark"`` -> ``"spark"``; anything that is not an engine is an error listing the choices."""
    value = engine.strip().lower()
    if value not in ENGINES:
        raise ConfigError([ConfigIssue(where, f"unknown engine '{engine}'; choose one of {', '.join(ENGINES)}")])
    return value


def resolve_engine(project: Project | None = None, *, row: str | None = None, run: str | None = None,
                   caller: Literal["code_location", "run_project"] = "code_location") -> str:
    """The one place that decides which engine runs, most specific first:

    a row's ``constants.engine`` (``row``), else the run's engine (``run``: the ``odibi_engine``
    resource's ``engine`` in run config, or ``run_project``'s ``engine`` argument), else for the
    code location ``ODIBI_ENGINE``, the manifest's ``default_engine``, pandas (no JVM for a plain
    load), and for ``run_project`` the manifest's ``default_engine``, spark (the seed's default).
    """
    if row:
        return check_engine(row, "constants.engine")
    if run:
        return check_engine(run, "engine")
    if caller == "code_location" and os.environ.get("ODIBI_ENGINE"):
        return check_engine(os.environ["ODIBI_ENGINE"], "ODIBI_ENGINE")
    manifest_engine = project.manifest.default_engine if project is not None else None
    return manifest_engine or ("pandas" if caller == "code_location" else "spark")


def storage_root(default: Path | None = None) -> Path:
    """``ODIBI_STORAGE_ROOT``, else ``default``, else ``./odibi_storage`` under the working directory
    (never the package)."""
    chosen = os.environ.get("ODIBI_STORAGE_ROOT") or default or Path.cwd() / "odibi_storage"
    return Path(chosen).expanduser().resolve()
