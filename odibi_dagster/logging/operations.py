"""Operator helpers of the original (``get_project_status``, ``get_failed_transformations``), on the log."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import dagster as dg
import pandas as pd

from odibi_dagster.logging.reader import read_transformation_log


def project_status(project: str, instance: dg.DagsterInstance | None = None, hours: float | None = None
                   ) -> dict[str, Any]:
    """Counts by status, average duration, the last run and the data-quality totals, over all time or
    the last ``hours``."""
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
        "rows_dropped": int(log["rows_dropped"].fillna(0).sum()),
        "rows_quarantined": int(log["rows_quarantined"].fillna(0).sum()),
        "runs_with_failed_checks": int((log["checks_failed"].fillna("") != "").sum()),
    }


def failed_transformations(project: str, hours: float = 24, instance: dg.DagsterInstance | None = None
                           ) -> pd.DataFrame:
    """The FAILED runs of transformations in the last ``hours``."""
    since = datetime.now(timezone.utc) - timedelta(hours=hours)
    log = read_transformation_log(project, instance, since)
    return log[log["status"] == "FAILED"].reset_index(drop=True)


def _by_prefix(instance: dg.DagsterInstance, prefix: str) -> dg.RunRecord | None:
    """The run whose id starts with ``prefix`` (as ``summary`` prints them), if exactly one does."""
    if len(prefix) < 6:
        return None
    matches = [record for record in instance.get_run_records(limit=10_000)
               if record.dagster_run.run_id.startswith(prefix)]
    return matches[0] if len(matches) == 1 else None


def run_summary(instance: dg.DagsterInstance, run_id: str | None = None) -> str:
    """What a run did, for people: status and time, then each table written with its rows and path.

    ``run_id`` defaults to the newest run on the instance.
    """
    if run_id is None:
        records = instance.get_run_records(limit=1)
        if not records:
            return "no runs on this instance"
        run_id = records[0].dagster_run.run_id
    record = instance.get_run_record_by_id(run_id) or _by_prefix(instance, run_id)
    if record is None:
        raise LookupError(f"no run {run_id} on this instance")
    run = record.dagster_run
    run_id = run.run_id
    took = (record.end_time - record.start_time) if record.end_time and record.start_time else None
    lines = [f"run {run_id[:8]} of {run.job_name}: {run.status.value}"
             + (f" in {took:.1f} s" if took is not None else "")]
    rows = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        materialization = entry.asset_materialization
        if materialization is None:
            continue
        metadata = {key: getattr(value, "value", value) for key, value in materialization.metadata.items()}
        rows.append((".".join(materialization.asset_key.path[1:]), metadata.get("dagster/row_count"),
                     metadata.get("format", ""), metadata.get("path", "")))
    if not rows:
        return "\n".join([*lines, "  no tables written"])
    width = max(len(table) for table, *_ in rows)
    lines.append(f"  {'table':<{width}}  {'rows':>10}  {'format':<7}  path")
    lines += [f"  {table:<{width}}  {'' if count is None else count:>10}  {fmt:<7}  {path}"
              for table, count, fmt, path in rows]
    return "\n".join(lines)
