"""Which project the code location loads, and the ``ODIBI_*`` environment overrides (DESIGN 2b)."""

from __future__ import annotations

import os
from pathlib import Path

from odibi_dagster.config.errors import ConfigError, ConfigIssue
from odibi_dagster.config.folder import load_project_folder
from odibi_dagster.config.model import ENGINES, Project

DEMO_PROJECT_DIR = Path(__file__).resolve().parents[2] / "projects" / "energy_efficiency"


def load_project(
    project_dir: str | Path | None = None,
    config_db: str | None = None,
    project: str | None = None,
    env: str | None = None,
) -> Project:
    """Load from a folder, or from SQL tables when ``config_db`` is given (``project`` names the row)."""
    if config_db:
        if not project:
            raise ConfigError([ConfigIssue(config_db, "a SQL config database needs a project name (ODIBI_PROJECT)")])
        from odibi_dagster.config.sql import load_project_sql  # SQLAlchemy's SQL layer only when needed

        return load_project_sql(config_db, project, env, project_root=project_dir)
    return load_project_folder(project_dir or DEMO_PROJECT_DIR, env)


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


def default_engine(project: Project) -> str:
    """``ODIBI_ENGINE``, else the manifest's ``default_engine``, else pandas (no JVM for a plain load)."""
    override = os.environ.get("ODIBI_ENGINE")
    if override:
        return check_engine(override, "ODIBI_ENGINE")
    return project.manifest.default_engine or "pandas"


def storage_root() -> Path:
    """``ODIBI_STORAGE_ROOT``, else ``./odibi_storage`` under the working directory (never the package)."""
    return Path(os.environ.get("ODIBI_STORAGE_ROOT") or Path.cwd() / "odibi_storage").expanduser().resolve()
