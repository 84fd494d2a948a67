"""The Dagster Component: ``odibi_dagster.OdibiProjectComponent`` in a ``defs.yaml`` loads one
project (a config folder or SQL config tables) into a ``dg`` project's code location; its
scaffolder writes that ``defs.yaml`` (and a starter project) for ``dg scaffold defs``."""

from odibi_dagster.component.project_component import OdibiProjectComponent

__all__ = ["OdibiProjectComponent"]
