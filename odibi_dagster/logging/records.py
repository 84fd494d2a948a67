"""The transformation log record (DESIGN.md section 7), and its home in materialization metadata.

The default sink is the asset's own metadata: every materialization of a transformation's asset
carries its record under ``odibi/log/*`` keys (a failed run's record is kept as an observation),
so the instance's event log is the log, readable from the asset page and by ``reader.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import dagster as dg

RECORD_FIELDS = (
    "transformation_id", "project", "env", "layer", "engine", "plant", "asset", "run_id", "start_time", "end_time",
    "status", "duration_seconds", "rows_in", "rows_out", "attempt", "error_message",
)
LOG_PREFIX = "odibi/log/"


def build_record(*, transformation_id: str, project: str, env: str, layer: str, engine: str,
                 labels: Mapping[str, Any] | None, run_id: str | None, start_time: datetime, end_time: datetime,
                 status: str, rows_in: int | None = None, rows_out: int | None = None, attempt: int | None = None,
                 error_message: str | None = None) -> dict[str, Any]:
    labels = labels or {}
    return {
        "transformation_id": transformation_id, "project": project, "env": env, "layer": layer, "engine": engine,
        "plant": labels.get("plant"), "asset": labels.get("asset"), "run_id": run_id, "start_time": start_time,
        "end_time": end_time, "status": status,
        "duration_seconds": round((end_time - start_time).total_seconds(), 3), "rows_in": rows_in,
        "rows_out": rows_out, "attempt": attempt, "error_message": error_message,
    }


def record_metadata(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record as namespaced materialization metadata (times as ISO text, nulls as null values)."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, datetime):
            value = value.isoformat()
        out[f"{LOG_PREFIX}{key}"] = dg.MetadataValue.null() if value is None else value
    return out


def record_from_metadata(metadata: Mapping[str, Any]) -> dict[str, Any] | None:
    """The record stored by ``record_metadata`` (None when the metadata holds none)."""
    if f"{LOG_PREFIX}transformation_id" not in metadata:
        return None
    record = {}
    for field in RECORD_FIELDS:
        value = metadata.get(f"{LOG_PREFIX}{field}")
        value = value.value if isinstance(value, dg.MetadataValue) else value
        if field in ("start_time", "end_time") and isinstance(value, str):
            value = datetime.fromisoformat(value)
        record[field] = value
    return record
