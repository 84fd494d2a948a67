"""What a source step reads: every row, the rows of the partitions it runs for, or the rows past
an incremental source's high-water mark."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from odibi_dagster.config.model import Source
from odibi_dagster.config.partitions import PLACEHOLDERS, placeholders_in
from odibi_dagster.engines.base import Backend
from odibi_dagster.engines.storage import TableLocation
from odibi_dagster.partitions.marks import HighWaterMark, last_mark
from odibi_dagster.partitions.window import PartitionWindow


@dataclass
class SourceRows:
    frame: Any
    mark: HighWaterMark | None = None  # an incremental source: the mark after this run
    superseded: int = 0  # an incremental merge: older versions of a key read in the same run, left out


def read_source_rows(backend: Backend, source: Source, root: Path | None, window: PartitionWindow | None,
                     previous: HighWaterMark | None) -> SourceRows:
    """``window``: a partitioned source's partitions; ``previous``: an incremental source's mark
    (None: load everything)."""
    where = f"source '{source.source_id}'"
    if window is not None:
        assert source.partition_column is not None
        if placeholders_in(source.source_path_or_query):  # read once per partition, with its values
            frames = [backend.read_source(_for_partition(source, part), root, params=part.bind_params())
                      for part in window.each()]
            frame = backend.concat(frames)
        else:  # the whole file or query: keep the window's rows
            frame = backend.rows.keep_window(backend.read_source(source, root), source.partition_column, window,
                                             where)
        backend.rows.require_window(frame, source.partition_column, window, f"{where} ({window.describe()})")
        return SourceRows(frame)
    if source.incremental is None:
        return SourceRows(backend.read_source(source, root))
    column = source.incremental.column
    since = (column, previous.value) if previous is not None else None
    frame = backend.read_source(source, root, since=since)
    if previous is not None:  # files are filtered here; a SQL source's rows were filtered in the database
        frame = backend.rows.keep_after(frame, column, previous, where)
    mark = backend.rows.max_value(frame, column, where) or previous
    superseded = 0
    if source.incremental.mode == "merge":
        frame, superseded = backend.rows.latest_per_key(frame, source.incremental.merge_keys, column)
    return SourceRows(frame, mark, superseded)


def previous_mark(instance: dg.DagsterInstance, key: dg.AssetKey, location: TableLocation,
                  column: str) -> HighWaterMark | None:
    """Where an incremental source goes on from: None (load everything) when its table is not
    stored; else the later of the mark its last materialization recorded for this very table and
    the largest ``column`` value the table holds. The table's own maximum keeps a run that died
    after writing but before recording its mark from appending the same rows again, and a table
    whose mark is lost (a new instance, no DAGSTER_HOME) from being replaced by a full load."""
    from odibi_dagster.engines.arrow_tables import column_max  # pyarrow only when a step runs

    if location.stored_format() is None:
        return None
    recorded = last_mark(instance, key, str(location.path))
    try:
        held = HighWaterMark.of(column_max(location, column))
    except (ValueError, OSError):  # a column of another kind, an unreadable table: the recorded mark
        held = None
    if held is None:
        return recorded
    return held.later(recorded)


def _for_partition(source: Source, window: PartitionWindow) -> Source:
    """A file source's path with the partition's values in its placeholders (a query keeps its
    text and gets them as bound parameters)."""
    if source.file_format == "sql":
        return source
    path = source.source_path_or_query
    values = window.placeholders()
    for name in PLACEHOLDERS:
        path = path.replace(f"{{{name}}}", values[name])
    return source.model_copy(update={"source_path_or_query": path})
