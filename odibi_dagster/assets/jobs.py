"""Jobs, schedules and the executor of a project's code location.

One job for the whole project (named after its slug), one per layer, and the manifest's
schedules. The executor runs steps in one process by default: a process per step costs ~2 s on
small machines (and a JVM per Spark step far more). ``executor: multiprocess`` in the manifest
runs steps in parallel, with each layer's ``max_workers`` enforced as a tag concurrency limit.
"""

from __future__ import annotations

import dagster as dg

from odibi_dagster.assets.specs import OdibiTranslator
from odibi_dagster.config.model import Project


def project_selection(project: Project, translator: OdibiTranslator) -> dg.AssetSelection:
    """Every asset of the project (its tables and quarantine tables)."""
    return layer_selection(project, project.manifest.layer_order, translator)


def layer_selection(project: Project, layers: list[str], translator: OdibiTranslator) -> dg.AssetSelection:
    """The layers' assets, by the keys the translator gives their tables: not by key prefix or group,
    which a translator or a Component's ``post_processing`` may change (the jobs and schedules
    would silently select nothing)."""
    return dg.AssetSelection.assets(*(translator.get_asset_key(project, table)
                                      for table, layer in project.table_layers.items() if layer in layers))


def project_job_name(project: Project) -> str:
    return project.slug


def layer_job_name(project: Project, layer: str) -> str:
    return f"{project.slug}__{layer}"


def build_jobs(project: Project, translator: OdibiTranslator) -> list[dg.UnresolvedAssetJobDefinition]:
    """The project's job and one job per layer, each with the project's executor."""
    executor = build_executor(project)
    jobs = [dg.define_asset_job(project_job_name(project), selection=project_selection(project, translator),
                                description=f"Every asset of project '{project.name}' ({project.env})",
                                executor_def=executor)]
    for layer in project.layers_in_use():
        jobs.append(dg.define_asset_job(layer_job_name(project, layer),
                                        selection=layer_selection(project, [layer], translator),
                                        description=f"Layer {layer} of project '{project.name}'",
                                        executor_def=executor))
    return jobs


def schedule_name(project: Project, name: str, scoped: bool) -> str:
    """The manifest's name; ``<slug>__<name>`` where several projects share the code location."""
    return f"{project.slug}__{name}" if scoped else name


def build_schedules(project: Project, translator: OdibiTranslator, *,
                    scoped: bool = False) -> list[dg.ScheduleDefinition]:
    schedules = []
    for schedule in project.manifest.schedules:
        if schedule.layers:
            selection = layer_selection(project, schedule.layers, translator)
        elif schedule.selection:
            selection = dg.AssetSelection.from_string(schedule.selection)
        else:
            selection = project_selection(project, translator)
        job = dg.define_asset_job(f"{project.slug}__{schedule.name}_job", selection=selection,
                                  executor_def=build_executor(project))
        schedules.append(dg.ScheduleDefinition(
            name=schedule_name(project, schedule.name, scoped), cron_schedule=schedule.cron, job=job,
            execution_timezone=schedule.timezone,
            description=schedule.description or None,
            default_status=dg.DefaultScheduleStatus.RUNNING if schedule.default_status == "running"
            else dg.DefaultScheduleStatus.STOPPED,
        ))
    return schedules


def layer_concurrency_limits(project: Project) -> list[dict[str, object]]:
    """``layers.<layer>.max_workers`` as the multiprocess executor's tag concurrency limits."""
    return [
        {"key": "odibi/layer", "value": layer, "limit": config.max_workers}
        for layer, config in project.manifest.layers.items() if config.max_workers
    ]


def build_executor(project: Project) -> dg.ExecutorDefinition:
    if project.manifest.executor == "in_process":
        return dg.in_process_executor
    return dg.multiprocess_executor.configured(
        {"tag_concurrency_limits": layer_concurrency_limits(project)}, name="odibi_multiprocess")
