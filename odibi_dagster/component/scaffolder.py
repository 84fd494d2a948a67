"""``dg scaffold defs odibi_dagster.OdibiProjectComponent <path>``: a commented ``defs.yaml`` and,
unless ``--json-params '{"project_dir": ...}'`` names an existing project, a starter project
(``initialize_project``) beside it that validates and materializes as created."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import dagster as dg
from pydantic import BaseModel, ConfigDict, Field

_DEFS_YAML = """\
type: odibi_dagster.OdibiProjectComponent

attributes:
  # The project folder (manifest.yaml, sources.yaml, transformations.yaml), relative to this file's
  # folder; `{{{{ project_root }}}}` is the Dagster project's root.
  project_dir: {project_dir}
  # Or the config tables in a database (instead of project_dir); ${{NAME}} reads a secret from the
  # environment variable NAME:
  # config_db: postgresql+psycopg2://etl:${{CONFIG_DB_PASSWORD}}@db:5432/config
  # project: {project_name}
  # The environment whose rows load (default: ODIBI_ENV, else the manifest's default_env):
  # env: qat
  # pandas or spark for runs that name none (default: ODIBI_ENGINE, else the manifest's default_engine):
  # engine: pandas
  # Where tables and logs are written, relative to the Dagster project's root
  # (default: ODIBI_STORAGE_ROOT, else odibi_storage in the Dagster project's root):
  # storage_root: /data/odibi

# Change the assets' attributes without touching the project, e.g. add a tag to all of them:
# post_processing:
#   assets:
#     - target: "*"
#       attributes:
#         tags:
#           team: data
"""


class OdibiScaffoldParams(BaseModel):
    """``dg scaffold defs ... --json-params``: an existing project, or the name of a new one."""

    model_config = ConfigDict(extra="forbid")  # a misspelt `project_dr` would scaffold a starter project

    project_dir: str | None = Field(
        default=None, description="An existing project folder, relative to the new defs.yaml's folder.")
    project_name: str | None = Field(
        default=None, description="The starter project's name (default: the component's folder name).")
    project_type: Literal["manufacturing", "analytics", "ml_pipeline", "data_integration", "custom"] = Field(
        default="custom", description="The starter project's type (its layers and entity labels).")


class OdibiProjectScaffolder(dg.Scaffolder[OdibiScaffoldParams]):
    @classmethod
    def get_scaffold_params(cls) -> type[OdibiScaffoldParams]:
        return OdibiScaffoldParams

    def scaffold(self, request: dg.ScaffoldRequest[OdibiScaffoldParams]) -> None:
        from odibi_dagster.scaffold import initialize_project

        params = request.params or OdibiScaffoldParams()
        target = Path(request.target_path)
        target.mkdir(parents=True, exist_ok=True)
        name = params.project_name or target.name
        project_dir = params.project_dir
        if project_dir is None:
            created = initialize_project(name, params.project_type, base_path=target)
            project_dir = Path(created["project_path"]).relative_to(target.resolve()).as_posix()
        (target / "defs.yaml").write_text(
            _DEFS_YAML.format(project_dir=project_dir, project_name=name), encoding="utf-8")
