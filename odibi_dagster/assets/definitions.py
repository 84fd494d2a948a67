"""Compose a project's definitions: assets, jobs, schedules, resources, executor and automation sensor."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import dagster as dg

from odibi_dagster.assets.automation import build_automation_sensor
from odibi_dagster.assets.factory import build_assets
from odibi_dagster.assets.jobs import build_executor, build_jobs, build_schedules, project_selection
from odibi_dagster.assets.naming import ResourceKeys
from odibi_dagster.assets.specs import OdibiTranslator
from odibi_dagster.config.model import Project
from odibi_dagster.config.settings import resolve_engine, storage_root
from odibi_dagster.engines.io_manager import OdibiIOManager
from odibi_dagster.engines.resource import OdibiEngine

# A deployment's Spark, set once in the environment. Passed as EnvVars: the value is read when a run
# starts and never shown in the UI (a Spark Connect URL may hold a token).
SPARK_ENVIRONMENT = {"spark_remote": "ODIBI_SPARK_REMOTE", "spark_master": "ODIBI_SPARK_MASTER"}


def build_resources(engine: str, root: Path, keys: ResourceKeys) -> dict[str, object]:
    # configure_at_launch: the run's config (launchpad, --config-json) sets `engine`, and the IO
    # manager sees that same configured instance.
    spark = {field: dg.EnvVar(name) for field, name in SPARK_ENVIRONMENT.items() if os.environ.get(name)}
    engine_resource = OdibiEngine.configure_at_launch(default_engine=engine, storage_root=str(root), **spark)
    return {keys.engine: engine_resource, keys.io_manager: OdibiIOManager(odibi_engine=engine_resource)}


def build_definitions(project: Project, *, engine: str | None = None, storage_root_dir: str | Path | None = None,
                      translator: OdibiTranslator | None = None, scoped: bool = False) -> dg.Definitions:
    """The Dagster definitions of ``project``; ``engine`` / ``storage_root_dir`` default from ODIBI_*.

    ``translator``: an ``OdibiTranslator`` subclass changes asset keys, groups, tags or owners.
    ``scoped``: for a code location shared with other projects (Components): resource keys and
    schedule names carry the project's slug, and the executor is set on the project's jobs only
    (a code location has one default executor; set it in the location's own ``Definitions``).
    """
    engine = resolve_engine(project, run=engine)
    root = Path(storage_root_dir).resolve() if storage_root_dir else storage_root()
    keys = ResourceKeys.scoped(project.slug) if scoped else ResourceKeys()
    translator = copy.copy(translator) if translator else OdibiTranslator()
    translator.resource_keys = keys
    automation = build_automation_sensor(project, project_selection(project, translator))
    return dg.Definitions(
        assets=build_assets(project, engine, translator),
        jobs=build_jobs(project, translator),
        schedules=build_schedules(project, translator, scoped=scoped),
        sensors=[automation] if automation else None,
        resources=build_resources(engine, root, keys),
        executor=None if scoped else build_executor(project),
    )
