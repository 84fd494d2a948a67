"""The transformation log record (one per transformation run and attempt), and its home in metadata.

The record's columns are declared once, in ``RECORD_COLUMNS``; the sinks derive their Arrow and
SQL schemas from it and the reader its column order. The default sink is the asset's own
metadata: every materialization of a transformation's asset carries its record under
``odibi/log/*`` keys (a failed attempt's record is kept as an observation), so the instance's event
log is the log, readable from the asset page and by ``reader.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import dagster as dg

ColumnKind = Literal["text", "id", "timestamp", "float", "int"]

# name -> logical kind; the order is the column order of every sink and of the reader
RECORD_COLUMNS: dict[str, ColumnKind] = {
    "transformation_id": "id", "project": "id", "env": "id", "layer": "id", "engine": "id", "plant": "id",
    "asset": "id", "run_id": "id", "start_time": "timestamp", "end_time": "timestamp", "status": "id",
    "duration_seconds": "float", "rows_in": "int", "rows_out": "int", "attempt": "int", "error_message": "text",
    # data quality (added after the first release: a log written before lacks them, see EARLIER_FIELDS)
    "rows_dropped": "int", "rows_quarantined": "int", "checks_failed": "text",
    # partitions (the partition key, or "A...B" for a range; None when unpartitioned)
    "partition_key": "id",
    # scd2 outputs: versions inserted, current versions closed, keys unchanged (None for other modes)
    "scd2_inserted": "int", "scd2_closed": "int", "scd2_unchanged": "int",
}
RECORD_FIELDS = tuple(RECORD_COLUMNS)
# The columns of logs written by earlier releases: a sink finding one of these adds the newer columns.
EARLIER_FIELDS = (RECORD_FIELDS[:16], RECORD_FIELDS[:19], RECORD_FIELDS[:20])
SCD2_FIELDS = ("scd2_inserted", "scd2_closed", "scd2_unchanged")


def added_since(columns: list[str] | tuple[str, ...]) -> tuple[str, ...] | None:
    """The record columns a log written by an earlier release lacks (None: not such a log)."""
    lowered = [column.lower() for column in columns]
    for earlier in EARLIER_FIELDS:
        if lowered == [field.lower() for field in earlier]:
            return RECORD_FIELDS[len(earlier):]
    return None
LOG_PREFIX = "odibi/log/"


def build_record(*, transformation_id: str, project: str, env: str, layer: str, engine: str,
                 labels: Mapping[str, Any] | None, run_id: str | None, start_time: datetime, end_time: datetime,
                 status: str, rows_in: int | None = None, rows_out: int | None = None, attempt: int | None = None,
                 error_message: str | None = None, rows_dropped: int | None = None,
                 rows_quarantined: int | None = None, checks_failed: str | None = None,
                 partition_key: str | None = None, scd2_inserted: int | None = None,
                 scd2_closed: int | None = None, scd2_unchanged: int | None = None) -> dict[str, Any]:
    """One record; ``checks_failed``: the names of the failed checks joined by ``,`` (None: no checks)."""
    labels = labels or {}
    return {
        "transformation_id": transformation_id, "project": project, "env": env, "layer": layer, "engine": engine,
        "plant": labels.get("plant"), "asset": labels.get("asset"), "run_id": run_id, "start_time": start_time,
        "end_time": end_time, "status": status,
        "duration_seconds": round((end_time - start_time).total_seconds(), 3), "rows_in": rows_in,
        "rows_out": rows_out, "attempt": attempt, "error_message": error_message, "rows_dropped": rows_dropped,
        "rows_quarantined": rows_quarantined, "checks_failed": checks_failed, "partition_key": partition_key,
        "scd2_inserted": scd2_inserted, "scd2_closed": scd2_closed, "scd2_unchanged": scd2_unchanged,
    }


def record_metadata(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record as namespaced materialization metadata (times as ISO text). Empty fields are left
    out (``record_from_metadata`` reads them as None): every event of a step carries the record, and
    its size is what storing and showing an event costs."""
    return {f"{LOG_PREFIX}{key}": value.isoformat() if isinstance(value, datetime) else value
            for key, value in record.items() if value is not None}


def record_from_metadata(metadata: Mapping[str, Any]) -> dict[str, Any] | None:
    """The record stored by ``record_metadata`` (None when the metadata holds none)."""
    if f"{LOG_PREFIX}transformation_id" not in metadata:
        return None
    record = {}
    for field, kind in RECORD_COLUMNS.items():
        value = metadata.get(f"{LOG_PREFIX}{field}")
        value = value.value if isinstance(value, dg.MetadataValue) else value
        if kind == "timestamp" and isinstance(value, str):
            value = datetime.fromisoformat(value)
        record[field] = value
    return record
