"""A log sink written by an earlier release (before the quality columns, before partition_key) gains
the newer columns, its old rows kept."""

import csv
from datetime import datetime, timezone

import pyarrow as pa
import pytest
import sqlalchemy as sa
from deltalake import DeltaTable, write_deltalake

from odibi_dagster.logging import DeltaLogSink, FileLogSink, SQLLogSink
from odibi_dagster.logging.records import EARLIER_FIELDS, RECORD_FIELDS, build_record
from odibi_dagster.logging.sinks import records_sql_table, records_table

START = datetime(2026, 11, 1, 6, 0, tzinfo=timezone.utc)


def record(transformation_id: str, **quality) -> dict:
    return build_record(transformation_id=transformation_id, project="P", env="qat", layer="Silver", engine="pandas",
                        labels=None, run_id="r1", start_time=START, end_time=START, status="SUCCESS", rows_in=3,
                        rows_out=2, attempt=1, **quality)


RELEASES = pytest.mark.parametrize("earlier", EARLIER_FIELDS, ids=["release_1", "release_2", "release_3"])


def old_record(earlier) -> dict:
    return {field: value for field, value in record("old, \"quoted\"\nrow").items() if field in earlier}


@RELEASES
def test_a_csv_log_of_an_earlier_release_gains_the_columns(tmp_path, earlier):
    path = tmp_path / "log.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=earlier)
        writer.writeheader()
        writer.writerow(old_record(earlier))
    FileLogSink(path).write([record("new", rows_dropped=1, rows_quarantined=0, checks_failed="range__x",
                                    partition_key="2024-01-02")])
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(RECORD_FIELDS)
    assert rows[0]["transformation_id"] == 'old, "quoted"\nrow' and rows[0]["partition_key"] == ""
    assert (rows[1]["transformation_id"], rows[1]["rows_dropped"], rows[1]["checks_failed"],
            rows[1]["partition_key"]) == ("new", "1", "range__x", "2024-01-02")


@RELEASES
def test_a_delta_log_of_an_earlier_release_gains_the_columns(tmp_path, earlier):
    path = tmp_path / "log"
    legacy = records_table([record("old")]).select(list(earlier))
    write_deltalake(str(path), legacy)
    DeltaLogSink(path).write([record("new", rows_dropped=0, rows_quarantined=2, checks_failed="")])
    table = DeltaTable(str(path)).to_pyarrow_table()
    assert table.column_names == list(RECORD_FIELDS)
    rows = sorted(table.to_pylist(), key=lambda row: row["transformation_id"])
    assert [(r["transformation_id"], r["rows_quarantined"]) for r in rows] == [("new", 2), ("old", None)]
    assert table.schema.field("rows_quarantined").type == pa.int64()


def sql_log_upgrade(url: str, table_name: str, earlier) -> None:
    engine = sa.create_engine(url)
    legacy = sa.Table(table_name, sa.MetaData(), *[sa.Column(column.name, column.type)
                                                    for column in records_sql_table(table_name).c
                                                    if column.name in earlier])
    legacy.drop(engine, checkfirst=True)
    legacy.create(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(legacy), [old_record(earlier)])
    SQLLogSink(url, table_name).write([record("new", rows_dropped=4, rows_quarantined=0, checks_failed="a,b",
                                              partition_key="north")])
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f'SELECT transformation_id, rows_dropped, checks_failed, partition_key '
                                    f'FROM "{table_name}" ORDER BY transformation_id')).all()
    legacy.drop(engine)
    engine.dispose()
    assert [tuple(row) for row in rows] == [("new", 4, "a,b", "north"), ('old, "quoted"\nrow', None, None, None)]


@RELEASES
def test_a_sqlite_log_table_of_an_earlier_release_gains_the_columns(tmp_path, earlier):
    sql_log_upgrade(f"sqlite:///{tmp_path / 'log.db'}", "TransformationRunLog", earlier)


@pytest.mark.postgres
@RELEASES
def test_a_postgres_log_table_of_an_earlier_release_gains_the_columns(postgres_url, earlier):
    sql_log_upgrade(postgres_url, "odibi_test_legacy_log", earlier)
