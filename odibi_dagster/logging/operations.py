"""Operator helpers of the original (``get_project_status``, ``get_failed_transformations``), on the log."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import dagster as dg
import pandas as pd

from odibi_dagster.logging.reader import read_transformation_log


def project_status(project: str, instance: dg.DagsterInstance | None = None, hours: float | None = None
                   ) -> dict[str, Any]:
    """Counts by status, average duration and the last run, over all time or the last ``hours``."""
    since = datetime.now(timezone.utc) - timedelta(hours=hours) if hours else None
    log = read_transformation_log(project, instance, since)
    last = log.iloc[-1] if not log.empty else None
    return {
        "project": project,
        "total": len(log),
        "by_status": {status: int(count) for status, count in log["status"].value_counts().items()},
        "average_duration_seconds": round(float(log["duration_seconds"].mean()), 3) if not log.empty else None,
        "last_run_id": last["run_id"] if last is not None else None,
        "last_end_time": last["end_time"] if last is not None else None,
    }


def failed_transformations(project: str, hours: float = 24, instance: dg.DagsterInstance | None = None
                           ) -> pd.DataFrame:
    """The FAILED runs of transformations in the last ``hours``."""
    since = datetime.now(timezone.utc) - timedelta(hours=hours)
    log = read_transformation_log(project, instance, since)
    return log[log["status"] == "FAILED"].reset_index(drop=True)
