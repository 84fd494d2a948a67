"""Finding a project by name, as the original orchestrator did, plus the ODIBI_* ways."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from odibi_dagster.config import Project, load_project_folder, load_project_sql
from odibi_dagster.config.folder import find_config_file
from odibi_dagster.config.model import slugify
from odibi_dagster.config.provider import load_project_provider


def candidate_folders(project: str) -> list[Path]:
    """``projects/<slug>/``, ``./<slug>/`` and ``../projects/<slug>/`` under the working directory."""
    slug = slugify(project)
    cwd = Path.cwd()
    return [cwd / "projects" / slug, cwd / slug, cwd.parent / "projects" / slug]


def find_project(project: str, env: str | None, *, project_dir: str | os.PathLike | None = None,
                 manifest_path: str | os.PathLike | None = None, sql_provider: Any = None,
                 spark: Any = None) -> Project:
    """``project_dir``, ``ODIBI_PROJECT_DIR``, ``ODIBI_CONFIG_DB``, ``manifest_path``, then the original's places.

    With an ``auth_provider``'s ``sql_provider``, sources and transformations come from it and the
    manifest from the folder found.
    """
    folder = project_dir or os.environ.get("ODIBI_PROJECT_DIR")
    if not folder and not sql_provider and os.environ.get("ODIBI_CONFIG_DB"):
        return load_project_sql(os.environ["ODIBI_CONFIG_DB"], project, env)
    if not folder and manifest_path:
        manifest = Path(manifest_path)
        if not manifest.is_file():
            raise FileNotFoundError(f"manifest_path '{manifest}' does not exist")
        folder = manifest.parent
    if not folder:
        folder = next((c for c in candidate_folders(project) if find_config_file(c, "manifest")), None)
        if folder is None:
            places = ", ".join(str(c) for c in candidate_folders(project))
            raise FileNotFoundError(f"project '{project}' not found: no manifest in {places} (give project_dir, "
                                    f"manifest_path, ODIBI_PROJECT_DIR or ODIBI_CONFIG_DB)")
    if sql_provider is not None:
        loaded = load_project_provider(sql_provider, spark, project, Path(folder).resolve(), env)
    else:
        loaded = load_project_folder(folder, env)
    if slugify(loaded.name) != slugify(project):
        raise ValueError(f"the project at {folder} is '{loaded.name}', not '{project}'")
    return loaded
