"""Declarative automation: the manifest's ``automation:`` rules as Dagster ``AutomationCondition``s,
and the sensor that evaluates them (on when the manifest has ``automation``)."""

from __future__ import annotations

import dagster as dg

from odibi_dagster.config.automation import rule_for
from odibi_dagster.config.model import Project


def automation_condition(project: Project, layer: str) -> dg.AutomationCondition | None:
    """The condition of ``layer``'s assets (None: not automated).

    ``eager`` also waits for the blocking checks of the assets it reads to pass, so a failed
    ``on_fail: fail`` check upstream stops the automation as it stops a run.
    """
    rule = rule_for(project.manifest.automation, layer)
    if rule is None:
        return None
    if rule == "eager":
        return dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
    if rule == "on_missing":
        return dg.AutomationCondition.on_missing()
    return dg.AutomationCondition.on_cron(rule.on_cron, rule.timezone)


def automation_sensor_name(project: Project) -> str:
    return f"{project.slug}_automation"


def build_automation_sensor(project: Project,
                            selection: dg.AssetSelection) -> dg.AutomationConditionSensorDefinition | None:
    """The project's automation sensor, running by default; None when the manifest has no ``automation``."""
    if not project.manifest.automation:
        return None
    return dg.AutomationConditionSensorDefinition(
        automation_sensor_name(project), target=selection, default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Evaluates the automation conditions of project '{project.name}' (manifest `automation`).")
