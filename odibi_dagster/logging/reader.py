"""Read the transformation log back from a Dagster instance's event log."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import dagster as dg

from odibi_dagster.config.model import slugify
from odibi_dagster.logging.records import RECORD_COLUMNS, RECORD_FIELDS, record_from_metadata

if TYPE_CHECKING:
    import pandas as pd

PAGE = 1000


def read_transformation_log(project: str | None = None, instance: dg.DagsterInstance | None = None,
                            since: datetime | None = None, partition_key: str | None = None) -> pd.DataFrame:
    """One row per transformation run (the last attempt), oldest first, with the record's columns.

    ``project`` is a project name or slug; ``instance`` defaults to the ``DAGSTER_HOME`` one;
    ``partition_key``: only the runs of that partition key (or of that range, ``"A...B"``).
    """
    import pandas as pd  # not at import: the code location loads without pandas

    if instance is None:
        with dg.DagsterInstance.get() as home:  # closed again: a long-lived caller may read the log often
            return read_transformation_log(project, home, since, partition_key)
    prefix = [slugify(project)] if project else None
    after = since.timestamp() if since else None
    records, stored = [], []
    for key in instance.get_asset_keys(prefix=prefix):
        for fetch, attribute in ((instance.fetch_materializations, "asset_materialization"),
                                 (instance.fetch_observations, "asset_observation")):
            cursor = None
            while True:
                page = fetch(dg.AssetRecordsFilter(asset_key=key, after_timestamp=after), limit=PAGE, cursor=cursor,
                             ascending=True)
                for event_record in page.records:
                    event = getattr(event_record, attribute)
                    record = record_from_metadata(event.metadata) if event is not None else None
                    if record is not None and (partition_key is None or record["partition_key"] == partition_key):
                        records.append(record)
                        stored.append(event_record.storage_id)
                cursor = page.cursor
                if not page.has_more:
                    break
    frame = pd.DataFrame(records, columns=list(RECORD_FIELDS))
    # counts stay whole numbers where some records have none (a source's rows_in, a step without checks)
    frame = frame.astype({field: "Int64" for field, kind in RECORD_COLUMNS.items() if kind == "int"})
    if frame.empty:
        return frame
    # several outputs of one transformation carry the same record, the last stored with the counts
    # of every output (Spark counts each table as it writes it); retries leave one per attempt
    frame = frame.iloc[sorted(range(len(stored)), key=stored.__getitem__)]
    frame = frame.drop_duplicates(["run_id", "transformation_id", "attempt", "status"], keep="last")
    frame = frame.sort_values(["start_time", "attempt"]).groupby(["run_id", "transformation_id"], sort=False).tail(1)
    return frame.sort_values("start_time").reset_index(drop=True)
