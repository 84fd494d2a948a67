"""Declarative automation in config: the manifest's ``automation:`` (a layer, or ``default``, to
``eager``, ``on_missing`` or ``on_cron: "<cron>"``), and the cron check schedules share.

Validated here; ``odibi_dagster.assets.automation`` turns each rule into Dagster's
``AutomationCondition``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from odibi_dagster.config.partitions import check_time_zone

AUTOMATION_DEFAULT = "default"


def check_cron(value: str) -> str:
    """A five-field cron expression, as Dagster reads it."""
    from dagster._utils.schedules import is_valid_cron_string

    if not is_valid_cron_string(value):
        raise ValueError(f"cron '{value}' is not a cron expression (five fields, e.g. '0 6 * * *')")
    return value


class OnCron(BaseModel):
    """``{on_cron: "<cron>"}``: materialize once per cron tick, after the assets' inputs have updated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    on_cron: str = Field(description="The cron expression of the ticks.", examples=["0 6 * * *"])
    timezone: str = Field(default="UTC", description="The time zone the cron expression is read in.")

    _cron = field_validator("on_cron")(lambda cls, value: check_cron(value))
    _timezone = field_validator("timezone")(lambda cls, value: check_time_zone(value))


AutomationRule = Literal["eager", "on_missing"] | OnCron


def check_rules(value: Any) -> Any:
    """``automation`` as parsed YAML or JSON: a clear message for what is not a mapping of layers to
    rules, and for a rule that is none of the three (pydantic's union error would list types)."""
    if value is None:  # `automation:` with nothing under it
        return {}
    if not isinstance(value, dict):
        raise ValueError(  # noqa: TRY004 - pydantic reports ValueErrors, not TypeErrors
            f"automation maps a layer (or default) to a rule, e.g. {{default: eager}}; got {value!r}")
    for layer, rule in value.items():
        if not isinstance(rule, str | dict):
            raise ValueError(  # noqa: TRY004
                f"automation for '{layer}' is {rule!r}; choose eager, on_missing or on_cron: '<cron>'")
        if isinstance(rule, str) and rule not in ("eager", "on_missing"):
            hint = " (write it as {on_cron: '0 6 * * *'})" if rule == "on_cron" else ""
            raise ValueError(f"automation for '{layer}' is '{rule}'; choose eager, on_missing or "
                             f"on_cron: '<cron>'{hint}")
        if isinstance(rule, dict):
            if "on_cron" not in rule:
                raise ValueError(f"automation for '{layer}' is {rule}; choose eager, on_missing or "
                                 f"on_cron: '<cron>'")
            try:
                OnCron.model_validate(rule)
            except ValidationError as exc:
                problems = "; ".join(f"{'.'.join(map(str, error['loc']))}: {error['msg'].removeprefix('Value error, ')}"
                                     for error in exc.errors())
                raise ValueError(f"automation for '{layer}': {problems}") from None
    return value


def rule_for(automation: dict[str, AutomationRule], layer: str) -> AutomationRule | None:
    """The layer's rule, else the ``default`` one, else none (the layer is not automated)."""
    return automation.get(layer, automation.get(AUTOMATION_DEFAULT))
