"""Load a project from a folder: ``manifest``, ``sources`` and ``transformations`` as YAML or JSON."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from odibi_dagster.config.assemble import assemble_project
from odibi_dagster.config.errors import ConfigError, ConfigIssue
from odibi_dagster.config.model import DuplicateKeyError, Project, json_object


class _DuplicateKey(ValueError):
    def __init__(self, key: str, line: int, first: int):
        super().__init__(f"key '{key}' appears twice in one mapping (lines {first} and {line}): the second would "
                         f"silently replace the first")
        self.key, self.line = key, line


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML's safe loader (libyaml when present: large projects load fast) that refuses a key given
    twice in one mapping (YAML itself keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base`: its keys may be overridden
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, str) and key in seen:
                raise _DuplicateKey(key, line, seen[key])
            seen.setdefault(key, line)
        return super().construct_mapping(node, deep=deep)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    try:
        return json_object(pairs)
    except DuplicateKeyError as exc:
        raise _DuplicateKey(exc.key, 0, 0) from None
_SUFFIXES = (".yaml", ".yml", ".json")


def find_config_file(folder: Path, stem: str) -> Path | None:
    for suffix in _SUFFIXES:
        candidate = folder / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def read_config_file(path: Path) -> Any:
    """Parse YAML or JSON; a syntax error becomes a ConfigError with the file and line."""
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".json":
            return json.loads(text, object_pairs_hook=_unique_keys)
        return yaml.load(text, Loader=_Loader)
    except _DuplicateKey as exc:
        message = str(exc) if exc.line else f"key '{exc.key}' appears twice in one object: the second would " \
                                            f"silently replace the first"
        raise ConfigError([ConfigIssue(str(path), message, field=exc.key, line=exc.line or None)]) from None
    except json.JSONDecodeError as exc:
        raise ConfigError([ConfigIssue(str(path), f"invalid JSON: {exc.msg}", line=exc.lineno)]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigIssue(str(path), f"invalid YAML: {problem}",
                                       line=mark.line + 1 if mark else None)]) from None


def rows_of(data: Any, key: str) -> Any:
    """A file holds a list of rows, or a mapping with one key (``sources:``) holding it."""
    if data is None:
        return []
    if isinstance(data, dict) and set(data) == {key}:
        return data[key] or []
    return data


def load_project_folder(folder: str | Path, env: str | None = None, *, check_imports: bool = True) -> Project:
    """Load and validate the project in ``folder`` for ``env`` (default: the manifest's ``default_env``)."""
    root = Path(folder).expanduser().resolve()
    if not root.is_dir():
        raise ConfigError([ConfigIssue(str(root), "project folder does not exist")])
    files = {stem: find_config_file(root, stem) for stem in ("manifest", "sources", "transformations")}
    if files["manifest"] is None:
        raise ConfigError([ConfigIssue(str(root), "no manifest.yaml, manifest.yml or manifest.json in the folder")])

    raw, issues = {}, []
    for stem, path in files.items():
        if path is None:
            raw[stem] = []
            continue
        try:
            raw[stem] = rows_of(read_config_file(path), stem) if stem != "manifest" else read_config_file(path)
        except ConfigError as exc:
            issues += exc.issues
    if issues:
        raise ConfigError(issues)

    where = {stem: str(path or root / f"{stem}.yaml") for stem, path in files.items()}
    try:
        return assemble_project(
            raw["manifest"], raw["sources"], raw["transformations"],
            manifest_where=where["manifest"], sources_where=where["sources"],
            transformations_where=where["transformations"], env=env, root=root, origin=str(root),
            check_imports=check_imports,
        )
    except ConfigError as exc:
        raise ConfigError(_with_lines(exc.issues, files), exc.project) from None


def _with_lines(issues: list[ConfigIssue], files: dict[str, Path | None]) -> list[ConfigIssue]:
    """Add the line of each row to its issues (computed only when there are errors to report)."""
    ids = {"sources": "source_id", "transformations": "transformation_id"}
    line_maps: dict[str, dict[str, int]] = {}
    for stem, id_field in ids.items():
        path = files[stem]
        if path is not None and path.suffix != ".json":
            line_maps[str(path)] = _row_lines(path, id_field, stem)
    return [
        replace(issue, line=line_maps[issue.where].get(issue.row))
        if issue.line is None and issue.row and issue.where in line_maps else issue
        for issue in issues
    ]


def _row_lines(path: Path, id_field: str, key: str) -> dict[str, int]:
    """Map each row's id (and ``#n`` position) to the line where the row starts."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=_Loader)
    except yaml.YAMLError:
        return {}
    if isinstance(node, yaml.MappingNode) and len(node.value) == 1 and node.value[0][0].value == key:
        node = node.value[0][1]
    if not isinstance(node, yaml.SequenceNode):
        return {}
    lines: dict[str, int] = {}
    for index, item in enumerate(node.value):
        line = item.start_mark.line + 1
        lines[f"#{index + 1}"] = line
        if isinstance(item, yaml.MappingNode):
            for key_node, value_node in item.value:
                if key_node.value == id_field and isinstance(value_node, yaml.ScalarNode):
                    lines[value_node.value] = line
    return lines
