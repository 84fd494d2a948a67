"""Build a validated ``Project`` from raw rows, whatever loader read them (folder or SQL)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from odibi_dagster.config.errors import ConfigError, ConfigIssue
from odibi_dagster.config.model import Manifest, Project, Source, Transformation
from odibi_dagster.config.parsing import parse_row, parse_rows
from odibi_dagster.config.validation import select_rows, validate_manifest, validate_rows


def assemble_project(
    manifest_raw: Any,
    sources_raw: list[Any],
    transformations_raw: list[Any],
    *,
    manifest_where: str,
    sources_where: str,
    transformations_where: str,
    env: str | None = None,
    root: Path | None = None,
    origin: str = "",
    check_imports: bool = True,
) -> Project:
    """Validate everything and return the project for ``env`` (default: the manifest's default_env).

    Raises ``ConfigError`` listing every issue; nothing half-loads.
    """
    manifest, issues = parse_row(Manifest, manifest_raw, where=manifest_where, row_id=None)
    if manifest is None:
        raise ConfigError(issues, project=origin or None)
    env = env or manifest.default_env
    issues += validate_manifest(manifest, env)

    sources, more = _parse_selected(Source, sources_raw, sources_where, "source_id", env, manifest)
    issues += more
    transformations, more = _parse_selected(
        Transformation, transformations_raw, transformations_where, "transformation_id", env, manifest
    )
    issues += more

    issues += validate_rows(manifest, sources, transformations, root=root, check_imports=check_imports)
    if issues:
        raise ConfigError(issues, project=manifest.project_name)
    return Project(manifest=manifest, sources=sources, transformations=transformations, env=env, root=root,
                   origin=origin)


def _parse_selected(model, rows, where, id_field, env, manifest) -> tuple[list, list[ConfigIssue]]:
    if not isinstance(rows, list):
        return [], [ConfigIssue(where, f"expected a list of rows, got {type(rows).__name__}")]
    selected, issues = select_rows(rows, where=where, id_field=id_field, env=env, environments=manifest.environments)
    parsed, more = parse_rows(model, [row for _, row in selected], where=where, id_field=id_field)
    # parse_rows numbers rows within the selection; give missing ids their position in the file
    positions = {f"#{n + 1}": f"#{index + 1}" for n, (index, _) in enumerate(selected)}
    return parsed, issues + [_renumber(issue, positions) for issue in more]


def _renumber(issue: ConfigIssue, positions: dict[str, str]) -> ConfigIssue:
    if issue.row in positions:
        return replace(issue, row=positions[issue.row])
    return issue
