"""``OdibiProjectComponent``: one project per ``defs.yaml``, several side by side in one code location.

Each component builds the project's code location with names scoped by its slug
(``location.build_code_location(..., scoped=True)``): its own engine resource, IO manager and
storage root, its jobs, schedules, hook sensors and automation sensor. Asset keys already start
with the slug; function modules are imported under a package of their project alone, so two
projects whose modules share a name load side by side. Two components of one code location
loading the same project (same slug) are refused with both ``defs.yaml`` paths.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Literal

import dagster as dg
from pydantic import Field

from odibi_dagster.component.scaffolder import OdibiProjectScaffolder
from odibi_dagster.config.errors import ConfigError, ConfigIssue
from odibi_dagster.config.settings import load_project, storage_root

# per load of a code location (its component tree, kept so that its id stays its own): project slug ->
# the defs.yaml folder loading it. A reload builds a new tree; the last few are kept.
_LOADED: OrderedDict[int, tuple[object, dict[str, Path]]] = OrderedDict()
_LOADS_KEPT = 8


@dg.scaffold_with(OdibiProjectScaffolder)
class OdibiProjectComponent(dg.Component, dg.Resolvable, dg.Model):
    """An odibi_dagster project (bronze sources, silver/gold transformations) as Dagster assets,
    asset checks, jobs, schedules and sensors."""

    project_dir: str | None = Field(
        default=None, examples=["project", "{{ project_root }}/projects/energy_efficiency"],
        description="The project folder (manifest.yaml, sources.yaml, transformations.yaml), relative to the "
                    "folder of this defs.yaml. Give either this or `config_db`.")
    config_db: str | None = Field(
        default=None, examples=["postgresql+psycopg2://etl:${CONFIG_DB_PASSWORD}@db:5432/config"],
        description="A SQLAlchemy URL of the database holding the config tables, instead of a folder; "
                    "`${NAME}` reads the environment variable NAME (never write a password here).")
    project: str | None = Field(
        default=None, examples=["Energy Efficiency"],
        description="With `config_db`: the `project_name` of the project's row in ProjectManifest.")
    env: str | None = Field(
        default=None, examples=["qat"],
        description="The environment whose rows load (default: ODIBI_ENV, else the manifest's default_env).")
    engine: Literal["pandas", "spark"] | None = Field(
        default=None,
        description="The engine of runs that name none (default: ODIBI_ENGINE, else the manifest's "
                    "default_engine, else pandas); a run's config may still choose the other.")
    storage_root: str | None = Field(
        default=None, examples=["/data/odibi"],
        description="Where the project's tables and logs are written, relative to the Dagster project's root "
                    "(default: ODIBI_STORAGE_ROOT, else odibi_storage in the Dagster project's root).")

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        from odibi_dagster.location import build_code_location  # the asset factory only when loading defs

        self._check_attributes(context)
        project = load_project(project_dir=self.project_folder(context), config_db=self.config_db,
                               project=self.project, env=self.env or os.environ.get("ODIBI_ENV") or None)
        self._claim(context, project.slug)
        # beside the dg project by default, wherever `dg` or `dagster` was started
        root = (context.project_root / self.storage_root).resolve() if self.storage_root else \
            storage_root(default=context.project_root / "odibi_storage")
        return build_code_location(project, engine=self.engine, storage_root_dir=root, scoped=True)

    def _check_attributes(self, context: dg.ComponentLoadContext) -> None:
        """Which project: checked here rather than by pydantic, whose errors repeat the input (a URL
        with its password)."""
        def problem(message: str, field: str) -> ConfigError:
            return ConfigError([ConfigIssue(str(context.path / "defs.yaml"), message, None, field)])

        if self.project_dir and self.config_db:
            raise problem("give either `project_dir` or `config_db` (with `project`), not both", "attributes")
        if not self.project_dir and not self.config_db:
            raise problem("give `project_dir` (a project folder) or `config_db` with `project`", "attributes")
        if self.config_db and not self.project:
            raise problem("`config_db` needs `project`: the project_name of the project's row", "attributes.project")

    def project_folder(self, context: dg.ComponentLoadContext) -> Path | None:
        """``project_dir`` resolved against the defs.yaml folder; an error when it is no folder."""
        if not self.project_dir:
            return None
        folder = (context.path / self.project_dir).resolve()
        if not folder.is_dir():
            raise ConfigError([ConfigIssue(str(context.path / "defs.yaml"),
                                           f"project_dir '{self.project_dir}' is not a folder ({folder})",
                                           None, "attributes.project_dir")])
        return folder

    @staticmethod
    def _claim(context: dg.ComponentLoadContext, slug: str) -> None:
        tree = context.component_tree
        loaded = _LOADED.setdefault(id(tree), (tree, {}))[1]
        _LOADED.move_to_end(id(tree))
        while len(_LOADED) > _LOADS_KEPT:
            _LOADED.popitem(last=False)
        first = loaded.setdefault(slug, context.path)
        if first != context.path:
            raise ConfigError([ConfigIssue(
                str(context.path / "defs.yaml"),
                f"project '{slug}' is already loaded by {first / 'defs.yaml'}; a code location holds each "
                f"project once (its asset keys, jobs and resources are named after it)", None, "attributes")])
