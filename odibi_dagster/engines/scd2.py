"""SCD type 2 on a Delta table, through Arrow and ``deltalake`` (both engines' path where Spark has
no native Delta): each key's history as versions with ``valid_from``, ``valid_to`` and ``is_current``.

``plan`` compares the new rows with the current versions (keys joined, tracked values compared
null-safe, NaN equal to NaN); ``write_scd2`` applies the plan in one MERGE commit: the closing
of changed (and, with ``scd2_deletes: close``, vanished) keys' current versions and the insert of
new versions. Nothing changed: nothing is committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import DeltaError

from odibi_dagster.config.model import SCD2_COLUMNS
from odibi_dagster.engines.arrow_tables import (
    TableWriteError,
    describe_delta,
    fit_to_stored,
    read_delta,
)
from odibi_dagster.engines.base import WriteResult
from odibi_dagster.engines.storage import TableLocation, WriteSpec

VALID_FROM, VALID_TO, IS_CURRENT = SCD2_COLUMNS
TIME = pa.timestamp("us", "UTC")
ACTION, CLOSE_AT = "__odibi_scd2_action", "__odibi_scd2_close_at"  # columns of the MERGE's source only


@dataclass
class Scd2Plan:
    inserts: pa.Table  # new current versions: the data's columns plus valid_from, valid_to, is_current
    closes: pa.Table  # keys whose current version closes, with the time it closes at (CLOSE_AT)
    unchanged: int

    def metadata(self) -> dict[str, int]:
        return {"odibi/scd2_inserted": self.inserts.num_rows, "odibi/scd2_closed": self.closes.num_rows,
                "odibi/scd2_unchanged": self.unchanged}


def _where(location: TableLocation) -> str:
    return f"scd2 into '{location.table}'"


def check_columns(location: TableLocation, data: pa.Table, spec: WriteSpec) -> list[str]:
    """The tracked columns, after checking that every column the output names is in the data."""
    named = {"merge_keys": list(spec.merge_keys), "track_columns": list(spec.track_columns),
             "effective_column": [spec.effective_column] if spec.effective_column else []}
    for field, columns in named.items():
        if missing := [column for column in columns if column not in data.column_names]:
            raise TableWriteError(f"{_where(location)} refused: {field} {missing} are not columns of the data "
                                  f"(columns: {data.column_names}); the stored table is unchanged")
    if clash := [column for column in SCD2_COLUMNS if column in data.column_names]:
        raise TableWriteError(f"{_where(location)} refused: the data has columns {clash}, which an scd2 table adds "
                              f"itself; rename them (the stored table is unchanged)")
    if untyped := [field.name for field in data.schema if pa.types.is_null(field.type)]:
        raise TableWriteError(f"{_where(location)} refused: columns {untyped} hold only nulls and have no type, which "
                              f"a table of versions cannot keep; give them a type in the function (e.g. "
                              f"astype('string')); the stored table is unchanged")
    if floating := [key for key in spec.merge_keys if pa.types.is_floating(data.schema.field(key).type)]:
        raise TableWriteError(f"{_where(location)} refused: merge_keys {floating} are floating point (0.0 and -0.0, "
                              f"or 0.1 + 0.2 and 0.3, would be two keys or one); use integer or text keys; the stored "
                              f"table is unchanged")
    if spec.effective_column:
        kind = data.schema.field(spec.effective_column).type
        if not (pa.types.is_timestamp(kind) or pa.types.is_date(kind)):
            raise TableWriteError(f"{_where(location)} refused: effective_column '{spec.effective_column}' is {kind}, "
                                  f"not a timestamp or a date; the stored table is unchanged")
    if spec.track_columns:
        return list(spec.track_columns)
    return [c for c in data.column_names if c not in spec.merge_keys and c != spec.effective_column]


def _refuse_bad_keys(location: TableLocation, data: pa.Table, keys: list[str]) -> None:
    null = pc.is_null(data.column(keys[0]), nan_is_null=True)
    for key in keys[1:]:
        null = pc.or_(null, pc.is_null(data.column(key), nan_is_null=True))
    if count := pc.sum(null).as_py():
        sample = data.filter(null).slice(0, 1).to_pylist()[0]
        raise TableWriteError(f"{_where(location)} refused: {count} rows have a null key {keys} (e.g. {sample}); "
                              f"the stored table is unchanged")
    if len(keys) == 1 and pc.count_distinct(data.column(keys[0]), mode="all").as_py() == data.num_rows:
        return  # one key column, all distinct: the common case, without a group-by
    counted = data.group_by(keys).aggregate([([], "count_all")])
    repeated = counted.filter(pc.greater(counted.column("count_all"), 1))
    if repeated.num_rows:
        shown = repeated.select(keys).slice(0, 5).to_pylist()
        raise TableWriteError(f"{_where(location)} refused: {repeated.num_rows} keys {keys} appear more than once in "
                              f"the new data (e.g. {shown}); each key may have one new version per run; the stored "
                              f"table is unchanged")


def _effective(location: TableLocation, data: pa.Table, spec: WriteSpec, now: datetime) -> pa.Array:
    """Each row's ``valid_from``: its ``effective_column`` (a naive timestamp read as UTC, a date as
    its midnight UTC), else the run's start."""
    if not spec.effective_column:
        return pa.repeat(pa.scalar(now, TIME), data.num_rows)
    column = data.column(spec.effective_column)
    if nulls := column.null_count:
        sample = data.filter(pc.is_null(column)).slice(0, 1).to_pylist()[0]
        raise TableWriteError(f"{_where(location)} refused: {nulls} rows have no value in effective_column "
                              f"'{spec.effective_column}' (e.g. {sample}), so their version would have no start; the "
                              f"stored table is unchanged")
    if pa.types.is_timestamp(column.type):
        moments = column if column.type.tz else pc.assume_timezone(column, "UTC")
        return pc.cast(moments, TIME, safe=False)
    return pc.assume_timezone(pc.cast(pc.cast(column, pa.date32()), pa.timestamp("us")), "UTC")  # a date


def _same(new: pa.ChunkedArray, old: pa.ChunkedArray) -> pa.ChunkedArray:
    """Row by row: equal values, or both missing (null or NaN: pandas turns NaN into null on its way
    to Arrow, Spark keeps it; both engines must see the same change)."""
    if pa.types.is_null(old.type):  # stored while all its values were null
        old = pc.cast(old, new.type)
    equal = pc.fill_null(pc.equal(new, old), False)
    return pc.or_(equal, pc.and_(pc.is_null(new, nan_is_null=True), pc.is_null(old, nan_is_null=True)))


def _refuse_overlap(location: TableLocation, table: pa.Table, keys: list[str], starts: str, ends: str,
                    what: str) -> None:
    """Versions follow each other in time: a version starting (``starts``) at or before the time the
    key's earlier version starts or ends (``ends``) would overlap it (an as-of query would see two)."""
    early = pc.fill_null(pc.less_equal(table.column(starts), table.column(ends)), False)
    if count := pc.sum(early).as_py():
        sample = table.filter(early).select([*keys, starts, ends]).slice(0, 1).to_pylist()[0]
        raise TableWriteError(f"{_where(location)} refused: {count} {what} (e.g. {sample}); versions of a key must "
                              f"follow each other in time; the stored table is unchanged")


def plan(location: TableLocation, data: pa.Table, current: pa.Table | None, spec: WriteSpec,
         now: datetime, closed_until: pa.Table | None = None) -> Scd2Plan:
    """What a run changes: ``current`` holds the stored current versions (None: no table yet),
    ``closed_until`` the end of each key's last closed version (keys whose current version is gone)."""
    keys = list(spec.merge_keys)
    tracked = check_columns(location, data, spec)
    _refuse_bad_keys(location, data, keys)
    valid_from = _effective(location, data, spec, now)
    versions = data.append_column(VALID_FROM, valid_from).append_column(
        VALID_TO, pa.nulls(data.num_rows, TIME)).append_column(IS_CURRENT, pa.repeat(pa.scalar(True), data.num_rows))
    if current is None:
        return Scd2Plan(versions, pa.table({**{key: data.column(key).slice(0, 0) for key in keys},
                                            CLOSE_AT: pa.array([], TIME)}), 0)
    old = current.select([*keys, *tracked, VALID_FROM]).rename_columns(
        [*keys, *(f"__old_{name}" for name in tracked), "current valid_from"]).append_column(
        "__current", pa.repeat(pa.scalar(True), current.num_rows))
    joined = versions.join(old, keys=keys, join_type="left outer")  # rows in any order: versions carry no order
    matched = pc.fill_null(joined.column("__current"), False)
    same = pa.chunked_array([pa.repeat(pa.scalar(True), joined.num_rows)])
    for name in tracked:
        same = pc.and_(same, _same(joined.column(name), joined.column(f"__old_{name}")))
    changed = pc.and_(matched, pc.invert(same))
    unchanged = pc.sum(pc.and_(matched, same)).as_py() or 0
    _refuse_overlap(location, joined.filter(changed), keys, VALID_FROM, "current valid_from",
                    "changes take effect at or before their key's current version starts")
    fresh = joined.filter(pc.invert(matched))
    if closed_until is not None and closed_until.num_rows and fresh.num_rows:
        returning = fresh.select([*keys, VALID_FROM]).join(closed_until, keys=keys, join_type="inner")
        _refuse_overlap(location, returning, keys, VALID_FROM, "closed valid_to",
                        "keys come back with a version starting before their last version ended")
    inserts = joined.filter(pc.or_(pc.invert(matched), changed)).select(versions.column_names)
    closes = joined.filter(changed).select([*keys, VALID_FROM]).rename_columns([*keys, CLOSE_AT])
    if spec.scd2_deletes == "close":
        gone = current.select([*keys, VALID_FROM]).join(data.select(keys), keys=keys, join_type="left anti")
        gone = gone.append_column("closed at", pa.repeat(pa.scalar(now, TIME), gone.num_rows))
        _refuse_overlap(location, gone, keys, "closed at", VALID_FROM,
                        "keys gone from the data have a current version starting after the run's time")
        closes = pa.concat_tables([closes, gone.select([*keys, "closed at"]).rename_columns([*keys, CLOSE_AT])])
    return Scd2Plan(inserts, closes, unchanged)


def stored_versions(location: TableLocation, stored: pa.Table, keys: list[str]) -> tuple[pa.Table, pa.Table]:
    """(the current versions, the end of each key's last closed version) of a stored scd2 table."""
    if missing := [column for column in SCD2_COLUMNS if column not in stored.column_names]:
        raise TableWriteError(f"{_where(location)} refused: the stored table has no {missing} column: it was written "
                              f"in another mode; move it away (or write another table) to keep history there; the "
                              f"stored table is unchanged")
    is_current = pc.fill_null(stored.column(IS_CURRENT), False)
    closed = stored.filter(pc.invert(is_current)).select([*keys, VALID_TO])
    ends = closed.group_by(keys).aggregate([(VALID_TO, "max")]).rename_columns([*keys, "closed valid_to"])
    return stored.filter(is_current), ends


def write_scd2(location: TableLocation, data: pa.Table, spec: WriteSpec, *, exists: bool,
               now: datetime | None = None) -> WriteResult:
    """Apply ``data`` (the key's latest state) to the SCD2 table at ``location`` in one commit."""
    now = now or spec.started_at or datetime.now(timezone.utc)
    path = str(location.path)
    check_columns(location, data, spec)  # before fitting: name the column the output names
    current = closed_until = None
    if exists:
        current, closed_until = stored_versions(location, read_delta(location.path), list(spec.merge_keys))
        stored_schema = pa.schema([field for field in describe_delta(location).schema if field.name not in SCD2_COLUMNS])
        data = fit_to_stored(location, stored_schema, data, spec)
    changes = plan(location, data, current, spec, now, closed_until)
    try:
        if not exists:
            write_deltalake(path, changes.inserts, mode="overwrite")
        elif changes.inserts.num_rows or changes.closes.num_rows:
            _merge(path, changes, list(spec.merge_keys))
    except DeltaError as exc:
        raise TableWriteError(f"{_where(location)} failed: {exc}; the stored table is unchanged") from None
    result = describe_delta(location, rows_written=changes.inserts.num_rows)
    result.extra.update(changes.metadata())
    return result


def merge_source(changes: Scd2Plan) -> pa.Table:
    """The MERGE's source: rows tagged ``close`` (keys and close time) match their key's current
    version and close it; rows tagged ``insert`` (every column) never match and are inserted."""
    closes = changes.closes.append_column(ACTION, pa.repeat(pa.scalar("close"), changes.closes.num_rows))
    inserts = changes.inserts.append_column(CLOSE_AT, pa.nulls(changes.inserts.num_rows, TIME)).append_column(
        ACTION, pa.repeat(pa.scalar("insert"), changes.inserts.num_rows))
    return _union(closes, inserts)


def _merge(path: str, changes: Scd2Plan, keys: list[str]) -> None:
    """One MERGE of ``merge_source``: close the current versions, insert the new ones."""
    source = merge_source(changes)
    quoted = [key.replace('"', '""') for key in keys]
    on = " AND ".join(f't."{key}" = s."{key}"' for key in quoted)
    columns = changes.inserts.column_names
    (DeltaTable(path).merge(source, f"{on} AND t.\"{IS_CURRENT}\" = true AND s.{ACTION} = 'close'",
                            source_alias="s", target_alias="t")
     .when_matched_update({VALID_TO: f"s.{CLOSE_AT}", IS_CURRENT: "false"})
     .when_not_matched_insert({f'"{name}"': f's."{name}"' for name in columns}, predicate=f"s.{ACTION} = 'insert'")
     .execute())


def _union(closes: pa.Table, inserts: pa.Table) -> pa.Table:
    """The close rows (keys, close time) and the insert rows (every column) as one source table."""
    schema = inserts.schema
    padded = [closes.column(field.name) if field.name in closes.column_names else pa.nulls(closes.num_rows, field.type)
              for field in schema]
    return pa.concat_tables([pa.Table.from_arrays(padded, schema=schema), inserts])
