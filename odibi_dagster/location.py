"""A project's whole code location: its definitions (``assets.build_definitions``) with the
sensors that deliver its hooks. ``odibi_dagster.definitions`` builds one from the environment;
the Component builds one per project, with names scoped by the project's slug."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from odibi_dagster.assets import build_definitions
from odibi_dagster.assets.naming import ResourceKeys
from odibi_dagster.assets.specs import OdibiTranslator
from odibi_dagster.config.model import Project
from odibi_dagster.config.settings import resolve_engine
from odibi_dagster.gc_pause import collection_paused
from odibi_dagster.hooks.sensors import build_hook_sensors


def build_code_location(project: Project, *, engine: str | None = None, storage_root_dir: str | Path | None = None,
                        translator: OdibiTranslator | None = None, scoped: bool = False) -> dg.Definitions:
    """``build_definitions`` plus the hook sensors; see ``build_definitions`` for ``scoped``."""
    keys = ResourceKeys.scoped(project.slug) if scoped else ResourceKeys()
    with collection_paused():
        return dg.Definitions.merge(
            build_definitions(project, engine=engine, storage_root_dir=storage_root_dir, translator=translator,
                              scoped=scoped),
            dg.Definitions(sensors=build_hook_sensors(project, resolve_engine(project, run=engine),
                                                      resource_keys=keys)),
        )

