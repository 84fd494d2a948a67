"""The backward-compatible API: ``run_project``, ``GenericProjectOrchestrator`` and
``TransformationRunnerFromConfig``, running the project's assets as real Dagster runs."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg

from odibi_dagster.assets import asset_key, build_definitions
from odibi_dagster.config import Project
from odibi_dagster.config.settings import resolve_engine, storage_root
from odibi_dagster.gc_pause import collection_paused
from odibi_dagster.hooks.loading import load_project_hooks, merged
from odibi_dagster.hooks.manager import HookManager
from odibi_dagster.hooks.translator import PROJECT_TAG, TARGET_LAYERS_TAG, ProjectSteps
from odibi_dagster.logging.sinks import BaseLogSink, FileLogSink
from odibi_dagster.orchestration.discovery import find_project
from odibi_dagster.orchestration.live import RunAbandoned, run_live
from odibi_dagster.orchestration.progress import LayerProgress

logger = logging.getLogger("odibi_dagster.orchestration")
_EXTRA_KWARGS = {"repo_path", "layer_order", "log_level", "save_logs", "auth_provider", "log_container"}


def run_project(
    project: str,
    env: str = "qat",
    engine: str | None = None,
    hooks: HookManager | None = None,
    log_sink: BaseLogSink | None = None,
    target_layers: list[str] | None = None,
    cache_plan: dict[str, list[str]] | None = None,
    manifest_path: str | os.PathLike | None = None,
    project_dir: str | os.PathLike | None = None,
    max_workers: int | None = None,
    quiet: bool = False,
    partition_key: str | None = None,
    partition_range: tuple[str, str] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Run ``project``'s layers (all, or ``target_layers``) through Dagster and return the result dict.

    ``engine=None`` means the manifest's ``default_engine``, and ``"spark"`` where it names none.
    Hooks are called live while the run goes on; ``log_sink`` receives each log record (one per
    attempt) once, as do the manifest's sinks. The run is a real Dagster run on the ``DAGSTER_HOME`` instance (visible in the
    UI) or, without ``DAGSTER_HOME``, on an ephemeral one. A progress line per layer (steps done /
    total, elapsed) goes to stdout unless ``quiet=True``; Dagster's own console log shows warnings
    and errors (``log_level="DEBUG"``: every event of the run).
    """
    unknown = sorted(set(kwargs) - _EXTRA_KWARGS)
    if unknown:
        raise TypeError(f"run_project() got unexpected keyword argument(s) {unknown}")
    level = _log_level(kwargs.get("log_level"))
    if level is not None:
        logging.getLogger("odibi_dagster").setLevel(level)
    started = time.time()
    provided = _use_auth_provider(kwargs.get("auth_provider"), env, kwargs.get("repo_path"), project)
    spark = provided.get("spark")
    with collection_paused():  # loading and building allocate much and leave little garbage
        loaded = find_project(project, env, project_dir=project_dir, manifest_path=manifest_path,
                              sql_provider=provided.get("sql_provider"), spark=spark)
        engine = resolve_engine(loaded, run=engine, caller="run_project")
        loaded = _with_overrides(loaded, cache_plan, max_workers, kwargs.get("layer_order"))
        selection = _selection(loaded, target_layers)
        if spark is not None and engine == "spark":
            from odibi_dagster.engines.spark_session import adopt_session

            adopt_session(spark)

        defs = build_definitions(loaded, engine=engine, storage_root_dir=storage_root())
        project_hooks = merged(load_project_hooks(loaded), hooks or HookManager())
        # the manifest's log_sink gets its records from the steps; log_sink here is this call's own sink
        if log_sink is None and kwargs.get("save_logs"):
            log_sink = FileLogSink(storage_root() / "_logs" / f"{loaded.slug}_{loaded.env}_transformation_log.csv")
        tags = {PROJECT_TAG: loaded.slug, TARGET_LAYERS_TAG: json.dumps(target_layers) if target_layers else "",
                **partition_tags(loaded, partition_key, partition_range)}
        job = defs.resolve_implicit_global_asset_job_def()
    with _instance() as instance:
        live = run_live(
            job, instance, ProjectSteps.from_project(loaded, engine),
            selection=selection, run_config={
                "resources": {"odibi_engine": {"config": {"engine": engine}}},
                # Dagster prints every event of the run to stderr at DEBUG; a caller of this API gets
                # the progress lines, and Dagster's warnings and errors (its run stores every event)
                "loggers": {"console": {"config": {"log_level": level or "WARNING"}}}},
            tags={k: v for k, v in tags.items() if v}, hooks=project_hooks, log_sink=log_sink,
            progress=None if quiet else LayerProgress())
    translator, result = live.translator, live.result
    success = bool(result and result.success)
    return {
        "status": "success" if success else "failed",
        "project": loaded.name,
        "env": loaded.env,
        "engine": engine,
        "layers_executed": translator.layers_executed if translator else [],
        "duration_seconds": round(time.time() - started, 2),
        "run_id": result.run_id if result else None,
        "failed": list(translator.failed_transformations) if translator else [],
        "error": None if success else (translator.run_error if translator else "the run did not start"),
    }


_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _log_level(value: Any) -> str | None:
    """The original's ``log_level`` (a name in any case, or a ``logging`` number) as a level name."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):  # 25: what is at least 25 is shown, WARNING up
        return next((name for name in _LEVELS if logging.getLevelName(name) >= value), "CRITICAL")
    name = str(value).upper()
    name = {"NOTSET": "DEBUG", "WARN": "WARNING", "FATAL": "CRITICAL"}.get(name, name)
    if name not in _LEVELS:
        raise ValueError(f"log_level {value!r} is not a logging level (one of {', '.join(_LEVELS)}, or a number of "
                         f"the logging module)")
    return name


@contextmanager
def _instance() -> Iterator[dg.DagsterInstance]:
    """The ``DAGSTER_HOME`` instance, else an in-memory one. (``execute_in_process`` runs every step
    in this process, whatever the job's executor, so no step process needs to reach the instance.)"""
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    in_use = False
    try:
        yield instance
    except RunAbandoned:
        # the abandoned run's thread still writes to an in-memory instance: disposing of it would pull
        # its tables away mid-step (nor does SQLite close them from another thread); its databases go
        # when it is collected, its temporary folder has a finalizer
        in_use = not instance.is_persistent
        raise
    finally:
        if not in_use:
            instance.dispose()


def partition_tags(project: Project, partition_key: str | None,
                   partition_range: tuple[str, str] | None) -> dict[str, str]:
    """The run tags that make a run one partition's (or a range's), after checking the keys exist."""
    if partition_key is None and partition_range is None:
        return {}
    if partition_key is not None and partition_range is not None:
        raise ValueError("give partition_key or partition_range, not both")
    if project.manifest.partitions is None:
        raise ValueError(f"project '{project.name}' declares no partitions: run it without partition_key / "
                         f"partition_range")
    from odibi_dagster.partitions.definition import partitions_definition

    definition = partitions_definition(project.manifest.partitions)
    keys = [partition_key] if partition_key is not None else list(partition_range or ())
    if len(keys) != 2 and partition_range is not None:
        raise ValueError(f"partition_range must be (first, last), got {partition_range!r}")
    known = set(definition.get_partition_keys())
    for key in keys:
        if key not in known:
            raise ValueError(f"partition key '{key}' is not a partition of project '{project.name}' "
                             f"({project.manifest.partitions.type}, e.g. '{min(known)}' to '{max(known)}')")
    if partition_key is not None:
        return {"dagster/partition": partition_key}
    first, last = keys
    if definition.get_partition_keys().index(first) > definition.get_partition_keys().index(last):
        raise ValueError(f"partition_range ({first!r}, {last!r}) ends before it starts")
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


def _selection(project: Project, target_layers: list[str] | None) -> list[dg.AssetKey] | None:
    if not target_layers:
        return None
    layers = project.manifest.layer_order
    unknown = [layer for layer in target_layers if layer not in layers]
    if unknown:
        raise ValueError(f"target_layers {unknown} are not layers of project '{project.name}' {layers}")
    return [asset_key(project.slug, table) for table, layer in project.table_layers.items() if layer in target_layers]


def _with_overrides(project: Project, cache_plan: dict | None, max_workers: int | None,
                    layer_order: list[str] | None) -> Project:
    """A runtime cache_plan replaces the manifest's (as in the original); max_workers applies to every layer."""
    update: dict[str, Any] = {}
    if cache_plan is not None:
        update["cache_plan"] = cache_plan
    if max_workers is not None:
        update["layers"] = {name: layer.model_copy(update={"max_workers": max_workers})
                            for name, layer in project.manifest.layers.items()}
    if layer_order is not None and list(layer_order) != project.manifest.layer_order:
        raise ValueError(f"layer_order {layer_order} differs from the manifest's {project.manifest.layer_order}; "
                         f"change the manifest instead")
    if not update:
        return project
    return Project(manifest=project.manifest.model_copy(update=update), sources=project.sources,
                   transformations=project.transformations, env=project.env, root=project.root,
                   origin=project.origin)


def _use_auth_provider(auth_provider: Callable[..., dict] | None, env: str, repo_path: Any,
                       project: str) -> dict[str, Any]:
    """The original's ``auth_provider(env=, repo_path=, logger_metadata=)`` -> {"spark", "sql_provider"}."""
    if auth_provider is None:
        return {}
    provided = auth_provider(env=env, repo_path=repo_path, logger_metadata={"project": project, "stage": "Bootstrap"})
    return dict(provided or {})


class GenericProjectOrchestrator:
    """The original's orchestrator class: same constructor, ``run()`` returns ``run_project``'s dict."""

    def __init__(self, project: str, env: str = "qat", manifest_path: str | os.PathLike | None = None,
                 log_level: str = "WARNING", save_logs: bool = False, log_container: str = "digital-manufacturing",
                 auth_provider: Callable[..., dict] | None = None, engine: str | None = "spark",
                 hooks: HookManager | None = None, log_sink: BaseLogSink | None = None,
                 project_dir: str | os.PathLike | None = None):
        self.project = project
        self.env = env
        self.manifest_path = manifest_path
        self.project_dir = project_dir
        self.options = {"log_level": log_level, "save_logs": save_logs, "log_container": log_container,
                        "auth_provider": auth_provider}
        self.engine = engine
        self.hooks = hooks or HookManager()
        self.log_sink = log_sink

    def run(self, target_layers: list[str] | None = None, cache_plan: dict | None = None,
            **kwargs: Any) -> dict[str, Any]:
        return run_project(self.project, env=self.env, engine=self.engine, hooks=self.hooks, log_sink=self.log_sink,
                           target_layers=target_layers, cache_plan=cache_plan, manifest_path=self.manifest_path,
                           project_dir=self.project_dir, **self.options, **kwargs)


class TransformationRunnerFromConfig:
    """Runs one layer of a project, as the original runner did (``run_parallel`` / ``run_all``)."""

    def __init__(self, sql_provider: Any = None, project: str = "", env: str = "qat", max_workers: int | None = None,
                 layer: str = "", engine: str | None = "spark", hooks: HookManager | None = None,
                 log_sink: BaseLogSink | None = None, project_dir: str | os.PathLike | None = None, **kwargs: Any):
        self.sql_provider = sql_provider
        self.project, self.env, self.layer = project, env, layer
        self.max_workers, self.engine = max_workers, engine
        self.hooks, self.log_sink = hooks, log_sink
        self.project_dir = project_dir
        self.kwargs = kwargs

    def run_parallel(self) -> dict[str, Any]:
        return run_project(self.project, env=self.env, engine=self.engine, hooks=self.hooks, log_sink=self.log_sink,
                           target_layers=[self.layer], project_dir=self.project_dir, max_workers=self.max_workers,
                           quiet=bool(self.kwargs.get("quiet", False)))

    run_all = run_parallel

