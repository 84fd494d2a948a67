"""The manifest's ``partitions:`` as a Dagster ``PartitionsDefinition`` (one per project)."""

from __future__ import annotations

import functools
from datetime import datetime

import dagster as dg

from odibi_dagster.config.partitions import PartitionsConfig


def partitions_definition(config: PartitionsConfig) -> dg.PartitionsDefinition:
    """Every partitioned asset of a project shares its one definition (built once per config)."""
    return _build(config.model_dump_json())


@functools.lru_cache(maxsize=32)
def _build(text: str) -> dg.PartitionsDefinition:
    config = PartitionsConfig.model_validate_json(text)
    if config.type == "static":
        return dg.StaticPartitionsDefinition(list(config.values or []))
    start = (config.start or "").replace("T", " ")
    end = config.end.replace("T", " ") if config.end else None
    if config.type == "hourly":  # keys in Dagster's default hourly format, e.g. 2024-01-31-06:00
        start, end = _hour(start), _hour(end) if end else None
        return dg.HourlyPartitionsDefinition(start_date=start, end_date=end, timezone=config.timezone)
    kind = {"daily": dg.DailyPartitionsDefinition, "weekly": dg.WeeklyPartitionsDefinition,
            "monthly": dg.MonthlyPartitionsDefinition}[config.type]
    return kind(start_date=start, end_date=end, timezone=config.timezone)


def _hour(text: str) -> str:
    return datetime.fromisoformat(text).strftime("%Y-%m-%d-%H:%M")
