"""Compose a project's code location: assets, jobs, schedules, resources and executor."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from odibi_dagster.assets.factory import ENGINE_RESOURCE, build_assets
from odibi_dagster.assets.jobs import build_executor, build_jobs, build_schedules
from odibi_dagster.assets.specs import IO_MANAGER, OdibiTranslator
from odibi_dagster.config.model import Project
from odibi_dagster.config.settings import resolve_engine, storage_root
from odibi_dagster.engines.io_manager import OdibiIOManager
from odibi_dagster.engines.resource import OdibiEngine


def build_resources(project: Project, engine: str, root: Path) -> dict[str, object]:
    # configure_at_launch: the run's config (launchpad, --config-json) sets `engine`, and the IO
    # manager sees that same configured instance.
    engine_resource = OdibiEngine.configure_at_launch(default_engine=engine, storage_root=str(root))
    return {ENGINE_RESOURCE: engine_resource, IO_MANAGER: OdibiIOManager(odibi_engine=engine_resource)}


def build_definitions(project: Project, *, engine: str | None = None, storage_root_dir: str | Path | None = None,
                      translator: OdibiTranslator | None = None) -> dg.Definitions:
    """The Dagster definitions of ``project``; ``engine`` / ``storage_root_dir`` default from ODIBI_*.

    ``translator``: an ``OdibiTranslator`` subclass changes asset keys, groups, tags or owners.
    """
    engine = resolve_engine(project, run=engine)
    root = Path(storage_root_dir).resolve() if storage_root_dir else storage_root()
    return dg.Definitions(
        assets=build_assets(project, engine, translator),
        jobs=build_jobs(project),
        schedules=build_schedules(project),
        resources=build_resources(project, engine, root),
        executor=build_executor(project),
    )
