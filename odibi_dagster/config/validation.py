"""Rules that span rows: layers, tables, lineage, cycles, environments, importable functions.

Each rule appends ``ConfigIssue`` objects; nothing stops at the first problem.
"""

from __future__ import annotations

import glob
import os
import posixpath
import re
from collections.abc import Iterator
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from urllib.parse import unquote, urlsplit

from odibi_dagster.config.automation import AUTOMATION_DEFAULT
from odibi_dagster.config.connections import check_sql_url, env_variables
from odibi_dagster.config.errors import ConfigIssue, did_you_mean
from odibi_dagster.config.model import Manifest, Source, Transformation, op_name
from odibi_dagster.config.partitions import PLACEHOLDERS
from odibi_dagster.functions.modules import import_project_module, lives_in
from odibi_dagster.functions.registry import FunctionNotFound, resolve_function

FILE_SOURCE_FORMATS = ("csv", "json", "parquet", "delta")



def validate_manifest(manifest: Manifest, env: str) -> list[ConfigIssue]:
    where, issues = manifest.where, []
    layers = manifest.layer_order

    def check_layer(layer: str, field: str) -> None:
        if layer not in layers:
            issues.append(ConfigIssue(where, f"layer '{layer}' is not in layer_order{did_you_mean(layer, layers)}",
                                      None, field))

    if env not in manifest.environments:
        issues.append(ConfigIssue(where, f"environment '{env}' is not in environments {manifest.environments}",
                                  None, "environments"))
    if manifest.default_env not in manifest.environments:
        issues.append(ConfigIssue(where, f"default_env '{manifest.default_env}' is not in environments "
                                         f"{manifest.environments}", None, "default_env"))
    for name, layer in manifest.layers.items():
        check_layer(name, f"layers.{name}")
        for dep in layer.depends_on:
            check_layer(dep, f"layers.{name}.depends_on")
            if dep in layers and name in layers and layers.index(dep) >= layers.index(name):
                issues.append(ConfigIssue(where, f"layer '{name}' cannot depend on '{dep}', which does not run "
                                                 f"before it in layer_order", None, f"layers.{name}.depends_on"))
    for name in manifest.cache_plan:
        check_layer(name, f"cache_plan.{name}")
    for name in manifest.automation:
        if name != AUTOMATION_DEFAULT:
            check_layer(name, f"automation.{name}")
    for index, schedule in enumerate(manifest.schedules):
        for layer in schedule.layers or []:
            check_layer(layer, f"schedules.{index}.layers")
    sinks = manifest.log_sinks
    targets: dict[tuple, int] = {}
    for index, sink in enumerate(sinks):
        field = "log_sink" if not isinstance(manifest.log_sink, list) else f"log_sink.{index}"
        target = ("path", os.path.normpath(sink.log_path)) if sink.log_path else (sink.type, sink.url, sink.table)
        if target in targets:
            issues.append(ConfigIssue(where, f"writes to the same place as log_sink.{targets[target]}: each record "
                                             f"would be written twice", None, field))
        targets.setdefault(target, index)
        if sink.url and (problem := check_sql_url(sink.url, None, f"{field}.url")):
            issues.append(ConfigIssue(where, problem, None, f"{field}.url"))
        for name in env_variables(sink.url or ""):
            if name not in os.environ:
                issues.append(ConfigIssue(where, f"environment variable '{name}' (in the url) is not set",
                                          None, f"{field}.url"))
    return issues


def select_rows(
    rows: list[dict], *, where: str, id_field: str, env: str, environments: list[str]
) -> tuple[list[tuple[int, dict]], list[ConfigIssue]]:
    """Keep the enabled rows of ``env`` (before full parsing: a broken disabled row never stops loading).

    Returns ``(index, row)`` pairs so messages can still name the row's position.
    """
    kept, issues = [], []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            kept.append((index, row))  # parse_row reports it
            continue
        if not _truthy(row.get("enabled", True)):
            continue
        row_env = row.get("environment")
        if row_env in (None, "") or row_env == env:
            kept.append((index, row))
        elif row_env not in environments:
            row_id = row.get(id_field) or f"#{index + 1}"
            issues.append(ConfigIssue(where, f"environment '{row_env}' is not in the manifest's environments "
                                             f"{environments}", str(row_id), "environment"))
    return kept, issues


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in {"0", "false", "no", "off", ""}
    return bool(value)


def validate_rows(
    manifest: Manifest,
    sources: list[Source],
    transformations: list[Transformation],
    *,
    root: Path | None,
    check_imports: bool = True,
) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    layers = manifest.layer_order
    bronze = manifest.bronze_layer

    # unique ids
    for rows, id_field in ((sources, "source_id"), (transformations, "transformation_id")):
        seen: dict[str, object] = {}
        for row in rows:
            row_id = getattr(row, id_field)
            if row_id in seen:
                issues.append(ConfigIssue(row.where, f"{id_field} '{row_id}' is used by two rows", row_id, id_field))
            seen[row_id] = row

    # rows of another project (a folder holds one project; SQL tables are read by project already)
    for row, row_id, id_field in [(s, s.source_id, "source_id") for s in sources] + [
            (t, t.transformation_id, "transformation_id") for t in transformations]:
        if row.project and row.project.strip().casefold() != manifest.project_name.strip().casefold():
            issues.append(ConfigIssue(row.where, f"the row belongs to project '{row.project}', not to this "
                                                 f"project '{manifest.project_name}'", row_id, "project"))

    # Dagster names: one step per row, one output name per table of a row
    steps: dict[str, str] = {}
    for row, row_id, kind, id_field in [(s, s.source_id, "source__", "source_id") for s in sources] + [
            (t, t.transformation_id, "", "transformation_id") for t in transformations]:
        name = op_name(manifest.slug, row_id, kind)
        if steps.setdefault(name, row_id) != row_id:
            issues.append(ConfigIssue(row.where, f"'{row_id}' and '{steps[name]}' give one Dagster step name "
                                                 f"'{name}': rename one", row_id, id_field))
    for row in transformations:
        names: dict[str, str] = {}
        for table, field in _written_tables(row):
            name = table.replace(".", "__")  # AssetKey.to_python_identifier, the output's name
            if name in names and names[name] != table:  # the same table twice is reported below
                issues.append(ConfigIssue(row.where, f"outputs '{names[name]}' and '{table}' give one Dagster output "
                                                     f"name '{name}': rename one", row.transformation_id, field))
            names.setdefault(name, table)

    # layers
    for row in transformations:
        if row.layer not in layers:
            issues.append(ConfigIssue(row.where, f"layer '{row.layer}' is not in layer_order {layers}"
                                                 f"{did_you_mean(row.layer, layers)}", row.transformation_id, "layer"))

    # one producer per table
    producers: dict[str, tuple[str, str]] = {}  # table -> (row id, layer)
    for source in sources:
        for table, field in zip(source.all_tables, ("source_name", "quarantine_table")):
            _claim(producers, issues, table, source.source_id, bronze, source, field)
    for row in transformations:
        for table, field in _written_tables(row):
            _claim(producers, issues, table, row.transformation_id, row.layer, row, field)

    # inputs: provided, not from a later layer, not twice
    graph: dict[str, set[str]] = {}
    for row in transformations:
        row_id = row.transformation_id
        keys = row.input_keys
        for key in {k for k in keys if keys.count(k) > 1}:
            issues.append(ConfigIssue(row.where, f"input '{key}' is listed twice", row_id, "inputs"))
        deps = graph.setdefault(row_id, set())
        for table in row.input_tables:
            producer = producers.get(table)
            if producer is None:
                issues.append(ConfigIssue(
                    row.where,
                    f"input '{table}' is not provided by any source or enabled transformation output"
                    f"{did_you_mean(table, producers)}", row_id, "inputs"))
                continue
            producer_id, producer_layer = producer
            if producer_id == row_id:
                issues.append(ConfigIssue(row.where, f"input '{table}' is this row's own output", row_id, "inputs"))
            elif producer_layer in layers and row.layer in layers and \
                    layers.index(producer_layer) > layers.index(row.layer):
                issues.append(ConfigIssue(
                    row.where, f"input '{table}' comes from layer '{producer_layer}', which runs after "
                               f"'{row.layer}'", row_id, "inputs"))
            elif producer_layer != row.layer and not _may_read(manifest, row.layer, producer_layer):
                allowed = manifest.layers[row.layer].depends_on
                issues.append(ConfigIssue(
                    row.where, f"input '{table}' comes from layer '{producer_layer}', which layer '{row.layer}' "
                               f"does not depend on (layers.{row.layer}.depends_on: {allowed})", row_id, "inputs"))
            deps.add(producer_id)

    # cycles among transformations
    try:
        TopologicalSorter({k: {d for d in v if d in graph} for k, v in graph.items()}).prepare()
    except CycleError as exc:
        cycle = exc.args[1]
        where = next((row.where for row in transformations if row.transformation_id == cycle[0]), "")
        issues.append(ConfigIssue(where, "dependency cycle: " + " -> ".join(cycle), cycle[0], "inputs"))

    # functions
    if check_imports:
        if manifest.hooks_module:
            try:
                hooks = import_project_module(manifest.hooks_module, root)
                if not callable(getattr(hooks, "register", None)):
                    issues.append(ConfigIssue(manifest.where, f"module '{manifest.hooks_module}' has no "
                                                              f"register(hooks) function", None, "hooks_module"))
            except Exception as exc:  # noqa: BLE001 - any import failure is a config error here
                issues.append(ConfigIssue(manifest.where, f"cannot import module '{manifest.hooks_module}': "
                                                          f"{type(exc).__name__}: {exc}{_sibling_hint(exc, root)}",
                                          None, "hooks_module"))
        for module in manifest.transformation_modules:
            try:
                import_project_module(module, root)
            except Exception as exc:  # noqa: BLE001 - any import failure is a config error here
                issues.append(ConfigIssue(manifest.where, f"cannot import module '{module}': {exc}",
                                          None, "transformation_modules"))
        for row in transformations:
            try:
                resolve_function(row.module, row.function, row.engine_override, root)
            except FunctionNotFound as exc:
                issues.append(ConfigIssue(row.where, str(exc), row.transformation_id, "function"))
            except Exception as exc:  # noqa: BLE001 - ImportError, SyntaxError, errors at import time
                issues.append(ConfigIssue(row.where, f"cannot import module '{row.module}': "
                                                     f"{type(exc).__name__}: {exc}{_sibling_hint(exc, root)}",
                                          row.transformation_id, "module"))

    # partition_column needs the manifest's partitions
    if manifest.partitions is None:
        for row, row_id, field in [(s, s.source_id, "partition_column") for s in sources if s.partition_column] + [
                (t, t.transformation_id, f"outputs.{index}.partition_column") for t in transformations
                for index, output in enumerate(t.outputs) if output.partition_column]:
            issues.append(ConfigIssue(row.where, "partition_column is set, but the manifest declares no partitions "
                                                 "(add e.g. partitions: {type: daily, start: '2024-01-01'})",
                                      row_id, field))

    # sources read only from the project folder and the operator's ODIBI_SOURCE_ROOTS
    for source in sources:
        if source.file_format in FILE_SOURCE_FORMATS:
            location = any_partition(source.source_path_or_query)
            problem = outside_source_roots(location, root)
            if problem:
                issues.append(ConfigIssue(source.where, problem, source.source_id, "source_path_or_query"))
            elif source.source_type == "local" and "://" not in location:
                path = resolve_source_path(location, root)
                if (root is None or not _is_within(path, root)) and not glob.glob(str(path)):
                    issues.append(ConfigIssue(source.where, f"path '{path}' does not exist", source.source_id,
                                              "source_path_or_query"))
    for row, row_id, field, url in _sql_urls(sources, transformations):
        problem = check_sql_url(url, root, field) or sqlite_outside_source_roots(url, root)
        if problem:
            issues.append(ConfigIssue(row.where, problem, row_id, field))
    return issues


def any_partition(path: str) -> str:
    """A file path with its partition placeholders as ``*``: the files of every partition."""
    for name in PLACEHOLDERS:
        path = path.replace(f"{{{name}}}", "*")
    return path


def _written_tables(row: Transformation) -> list[tuple[str, str]]:
    """Each table a row writes (its outputs, then their quarantine tables) with the field naming it."""
    return [(output.table, f"outputs.{index}.table") for index, output in enumerate(row.outputs)] + [
        (output.quarantine, f"outputs.{index}.quarantine_table")
        for index, output in enumerate(row.outputs) if output.quarantine]


def _sibling_hint(exc: Exception, root: Path | None) -> str:
    """A project module importing a sibling by its plain name: say how to import it."""
    missing = getattr(exc, "name", None)
    if isinstance(exc, ModuleNotFoundError) and missing and lives_in(missing, root):
        return (f" ('{missing}' is a module of the project, which loads under a package of its own: import it "
                f"relatively, `from . import {missing}`)")
    return ""


def _may_read(manifest: Manifest, layer: str, producer_layer: str) -> bool:
    """A layer that declares ``depends_on`` reads only from those layers (and itself)."""
    config = manifest.layers.get(layer)
    return config is None or not config.depends_on or producer_layer in config.depends_on


def _claim(producers: dict, issues: list, table: str, row_id: str, layer: str, row, field: str) -> None:
    if table in producers:
        issues.append(ConfigIssue(row.where, f"table '{table}' is already written by '{producers[table][0]}'",
                                  row_id, field))
    else:
        producers[table] = (row_id, layer)


SOURCE_ROOTS = "ODIBI_SOURCE_ROOTS"


def outside_source_roots(location: str, root: Path | None) -> str | None:
    """Why ``location`` (a path, glob or URL from config) may not be read, or None when it may: inside
    the project folder, or under a root the operator lists in ``ODIBI_SOURCE_ROOTS`` (paths or URL
    prefixes, comma-separated). Config alone never widens this: it may live in tables others edit."""
    listed = [item.strip() for item in os.environ.get(SOURCE_ROOTS, "").split(",") if item.strip()]
    allowed = f"the roots in {SOURCE_ROOTS} ({', '.join(listed)})" if listed else f"{SOURCE_ROOTS} (not set)"
    target = _normal_url(location)
    if target is not None:
        prefixes = [url.rstrip("/") for url in map(_normal_url, listed) if url is not None]
        if any(target == prefix or target.startswith(prefix + "/") for prefix in prefixes):
            return None
        return f"URL '{location}' is not under {allowed}; an operator may allow it there"
    path = resolve_source_path(_local_path(location), root).resolve()
    folders = [Path(_local_path(item)).expanduser().resolve() for item in listed if _normal_url(item) is None]
    if (root is not None and _is_within(path, root)) or any(_is_within(path, folder) for folder in folders):
        return None
    inside = "outside the project folder" if root is not None else "not in a project folder"
    return f"path '{path}' is {inside} and not under {allowed}; an operator may allow it there"


def _normal_url(location: str) -> str | None:
    """A remote URL with its scheme and host in lower case and its path decoded and normalised (so
    ``..`` and ``%2e%2e`` cannot climb out of a root); None for a local path or ``file:`` URL."""
    parts = urlsplit(location)
    if not parts.scheme or len(parts.scheme) == 1 or parts.scheme.lower() == "file" or "://" not in location:
        return None  # a Windows drive letter, a file: URL or a plain path
    path = posixpath.normpath("/" + unquote(parts.path)).lstrip("/")
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}/{path}".rstrip("/")


def _local_path(location: str) -> str:
    """The path a ``file:`` URL names (``file:///x``, ``file://localhost/x``), else ``location``."""
    parts = urlsplit(location)
    if parts.scheme.lower() != "file":
        return location
    if parts.netloc not in ("", "localhost"):
        return f"//{parts.netloc}{unquote(parts.path)}"  # another host: never inside a local root
    return unquote(parts.path)


def sqlite_outside_source_roots(url: str, root: Path | None) -> str | None:
    """``outside_source_roots`` for the database file of a ``sqlite:`` URL (None for other databases)."""
    match = re.match(r"sqlite(\+\w+)?:///(.*?)(\?.*)?$", url.strip())
    if not match or match.group(2) in ("", ":memory:") or "${" in match.group(2):
        return None  # ${NAME} paths are checked when the source is read, once the variable is known
    return outside_source_roots(match.group(2), root)


def _sql_urls(sources: list[Source], transformations: list[Transformation]) -> Iterator[tuple]:
    for source in sources:
        url = source.connection_config.get("url") or source.connection_config.get("connection_string")
        if isinstance(url, str):
            yield source, source.source_id, "connection_config.url", url
    for row in transformations:
        for index, item in enumerate(row.inputs):
            if not isinstance(item, str) and item.connection:
                yield row, row.transformation_id, f"inputs.{index}.connection", item.connection


def resolve_source_path(path: str, root: Path | None) -> Path:
    """A source path: absolute as given, relative to the project folder otherwise."""
    candidate = Path(path).expanduser()
    if candidate.is_absolute() or root is None:
        return candidate
    return root / candidate


def _is_within(path: Path, root: Path) -> bool:
    try:
        Path(path).resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False

