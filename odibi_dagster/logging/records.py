"""The transformation log record (DESIGN.md section 7), built from a finished transformation's hook event."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

RECORD_FIELDS = (
    "transformation_id", "project", "env", "layer", "engine", "plant", "asset", "run_id", "start_time", "end_time",
    "status", "duration_seconds", "rows_in", "rows_out", "attempt", "error_message",
)


def record_from_event(event: str, payload: dict[str, Any], *, run_id: str | None,
                      labels: dict[str, Any] | None = None, rows_in: int | None = None,
                      rows_out: int | None = None) -> dict[str, Any] | None:
    """The log record of a ``transform_success`` / ``transform_failure`` event (None for other events)."""
    if event not in ("transform_success", "transform_failure"):
        return None
    end: datetime = payload["timestamp"]
    duration = float(payload.get("duration_seconds") or 0.0)
    labels = labels or {}
    return {
        "transformation_id": payload["transformation_id"], "project": payload["project"], "env": payload["env"],
        "layer": payload["layer"], "engine": payload["engine"], "plant": labels.get("plant"),
        "asset": labels.get("asset"), "run_id": run_id, "start_time": end - timedelta(seconds=duration),
        "end_time": end, "status": "SUCCESS" if event == "transform_success" else "FAILED",
        "duration_seconds": duration, "rows_in": rows_in, "rows_out": rows_out, "attempt": payload.get("attempt"),
        "error_message": payload.get("error"),
    }
