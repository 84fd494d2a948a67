"""The project model and its loaders: folder (YAML/JSON) and SQL tables, validated into one ``Project``."""

from odibi_dagster.config.errors import ConfigError, ConfigIssue
from odibi_dagster.config.folder import load_project_folder
from odibi_dagster.config.model import (
    InputSpec,
    LayerConfig,
    Manifest,
    OutputSpec,
    Project,
    RetryConfig,
    ScheduleConfig,
    Source,
    Transformation,
    slugify,
)
from odibi_dagster.config.settings import load_project, load_project_from_environment


def __getattr__(name: str):
    # SQLAlchemy's SQL layer loads only when a project comes from (or goes to) SQL tables.
    if name in ("export_project", "load_project_sql"):
        from odibi_dagster.config import sql

        return getattr(sql, name)
    raise AttributeError(f"module 'odibi_dagster.config' has no attribute '{name}'")


__all__ = [
    "ConfigError", "ConfigIssue", "InputSpec", "LayerConfig", "Manifest", "OutputSpec", "Project", "RetryConfig",
    "ScheduleConfig", "Source", "Transformation", "export_project", "load_project", "load_project_folder",
    "load_project_from_environment", "load_project_sql", "slugify",
]
