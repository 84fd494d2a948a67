"""Scaffolding: ``python -m odibi_dagster init`` and ``initialize_project`` create a new project folder."""

from odibi_dagster.scaffold.project import PROJECT_TYPES, initialize_project

__all__ = ["PROJECT_TYPES", "initialize_project"]
