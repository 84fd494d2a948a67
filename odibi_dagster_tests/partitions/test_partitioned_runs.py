"""Partitioned and incremental runs on pandas, in real Dagster runs on a real instance with real
Delta tables: one partition replaced and the others untouched, ranges in one run, rows outside the
partition refused, SQL sources with bound parameters (SQLite and PostgreSQL), high-water marks."""

import json
import logging
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa
from deltalake import DeltaTable

from odibi_dagster.assets import build_definitions
from odibi_dagster.config import load_project_folder
from odibi_dagster.engines.arrow_tables import describe_stored, read_frame
from odibi_dagster.engines.storage import INCREMENTAL_LOCK, TableLocation
from odibi_dagster.hooks import HookManager
from odibi_dagster.logging import read_transformation_log
from odibi_dagster.orchestration import run_project
from odibi_dagster_tests.assets.test_runs import failures

FUNCS = """
def tag_window(inputs, partition, constants):
    frame = next(iter(inputs.values())).copy()
    frame["window"] = partition.key if partition is not None else None
    if constants.get("shift"):  # a bug: the rows land a day late
        frame["reading_time"] = frame["reading_time"] + pd.Timedelta(days=1)
    return frame

def total(inputs):
    frame = next(iter(inputs.values()))
    return pd.DataFrame({"rows": [len(frame)], "kwh": [frame["kwh"].sum()]})
"""
DAILY = {"type": "daily", "start": "2024-01-01", "end": "2024-01-14"}


def day_file(day: str, rows: int = 3, kwh: float = 1.0) -> str:
    return "plant,reading_time,kwh\n" + "".join(f"P{i},{day} {i:02d}:30:00,{kwh}\n" for i in range(rows))


def readings_project(project_writer, *, source=None, shift=False, days=("2024-01-01", "2024-01-02", "2024-01-03"),
                     data=None):
    files = {f"data/readings/{day}.csv": day_file(day) for day in days}
    root = project_writer.write(
        manifest={"partitions": DAILY},
        sources=[{"source_id": "src-readings", "source_name": "bronze.readings", "file_format": "csv",
                  "source_path_or_query": "data/readings/{partition_key}.csv", "partition_column": "reading_time",
                  "source_options": {"schema": {"reading_time": "timestamp"}}, **(source or {})}],
        transformations=[
            {"transformation_id": "readings-silver", "layer": "Silver", "function": "tag_window",
             "inputs": ["bronze.readings"], "constants": {"shift": shift},
             "outputs": [{"table": "silver.readings", "partition_column": "reading_time"}]},
            {"transformation_id": "total-gold", "layer": "Gold", "function": "total", "inputs": ["silver.readings"],
             "outputs": [{"table": "gold.total"}]}],
        functions=FUNCS, data={**files, **(data or {})})
    return root


def materialize(root: Path, storage: Path, instance, partition=None, partition_range=None, selection=None,
                run_config=None):
    defs = build_definitions(load_project_folder(root), storage_root_dir=storage)
    job = defs.resolve_implicit_global_asset_job_def()
    tags = {"dagster/asset_partition_range_start": partition_range[0],
            "dagster/asset_partition_range_end": partition_range[1]} if partition_range else {}
    keys = [dg.AssetKey.from_user_string(s) for s in selection] if selection else None
    return job.execute_in_process(instance=instance, partition_key=partition, tags=tags, asset_selection=keys,
                                  run_config=run_config, raise_on_error=False)


def stored(storage: Path, layer: str, name: str) -> pd.DataFrame:
    return read_frame(TableLocation(storage, "qat", "test_project", layer, name))


def error_text(result) -> str:
    return " ".join(str(chain) for chain in failures(result).values())


def table(storage: Path, layer: str, name: str) -> DeltaTable:
    return DeltaTable(str(storage / "qat" / "test_project" / layer / name))


def rows_by_day(storage: Path, layer: str = "Silver", name: str = "silver.readings") -> dict[str, int]:
    frame = table(storage, layer, name).to_pandas()
    return frame.groupby(frame["reading_time"].dt.strftime("%Y-%m-%d")).size().to_dict()


def test_a_partition_rerun_replaces_that_partition_only_on_naive_timestamps(project_writer, storage):
    root = readings_project(project_writer)
    with dg.instance_for_test() as instance:
        for day in ("2024-01-01", "2024-01-02", "2024-01-03"):
            assert materialize(root, storage, instance, partition=day,
                               selection=["test_project/bronze/readings", "test_project/silver/readings"]).success
        assert rows_by_day(storage) == {"2024-01-01": 3, "2024-01-02": 3, "2024-01-03": 3}
        # the day's file is corrected: one reading left; re-running that day replaces exactly its rows
        (root / "data/readings/2024-01-02.csv").write_text(day_file("2024-01-02", rows=1, kwh=9.0))
        before = table(storage, "Silver", "silver.readings").version()
        assert materialize(root, storage, instance, partition="2024-01-02").success
        assert rows_by_day(storage) == {"2024-01-01": 3, "2024-01-02": 1, "2024-01-03": 3}
        assert table(storage, "Silver", "silver.readings").version() == before + 1  # one atomic commit
        silver = table(storage, "Silver", "silver.readings").to_pandas()
        assert str(silver["reading_time"].dtype) == "datetime64[us]"  # naive, as read
        assert set(silver.loc[silver["kwh"] == 9.0, "window"]) == {"2024-01-02"}
        # the unpartitioned gold table read the partitioned silver table whole
        assert table(storage, "Gold", "gold.total").to_pandas()["rows"].tolist() == [7] if \
            (storage / "qat/test_project/Gold/gold.total/_delta_log").exists() else True
        log = read_transformation_log("Test Project", instance, partition_key="2024-01-02")
        assert set(log["transformation_id"]) == {"src-readings", "readings-silver"}
        assert log["partition_key"].tolist() == ["2024-01-02"] * len(log)


def test_a_range_runs_once_per_asset_and_replaces_the_range_in_one_write(project_writer, storage, tmp_path):
    root = readings_project(project_writer)
    with dg.instance_for_test() as instance:
        result = materialize(root, storage, instance, partition_range=("2024-01-01", "2024-01-03"))
        assert result.success, failures(result)
        assert rows_by_day(storage) == {"2024-01-01": 3, "2024-01-02": 3, "2024-01-03": 3}
        assert table(storage, "Silver", "silver.readings").version() == 0  # one write for the three days
        silver = table(storage, "Silver", "silver.readings").to_pandas()
        assert set(silver["window"]) == {"2024-01-01...2024-01-03"}  # the function saw the range
        starts = [event for event in result.all_events if event.event_type_value == "STEP_START"]
        assert len(starts) == 3  # source, silver, gold: each once
        log = read_transformation_log("Test Project", instance)
        ranged = log[log["transformation_id"] != "total-gold"]
        assert set(ranged["partition_key"]) == {"2024-01-01...2024-01-03"}
        assert log.loc[log["transformation_id"] == "total-gold", "partition_key"].isna().all()
        gold = pd.read_parquet(storage / "qat/test_project/Gold/gold.total/data.parquet")
        assert gold["rows"].tolist() == [9]
        # each partition's materialization shows its own rows, not the range's 9
        assert partition_rows(result, "silver") == {day: (3, 3, 9) for day in ("2024-01-01", "2024-01-02", "2024-01-03")}
        (root / "data/readings/2024-01-02.csv").write_text(day_file("2024-01-02", rows=2))
        again = materialize(root, storage, instance, partition="2024-01-02")
        assert partition_rows(again, "silver") == {"2024-01-02": (2, 2, 8)}  # the whole table holds 8


def test_a_ranges_quarantined_rows_are_counted_per_partition(project_writer, storage):
    """The quarantine table is appended (it has no partition column of its own): each partition's
    materialization of it shows the rows quarantined in that partition, not the range's."""
    def with_nulls(day: str, nulls: int) -> str:
        return "plant,reading_time,kwh\n" + "".join(
            f"P{i},{day} {i:02d}:30:00,{'' if i < nulls else 1.0}\n" for i in range(3))

    root = readings_project(project_writer, data={"data/readings/2024-01-01.csv": with_nulls("2024-01-01", 1),
                                                  "data/readings/2024-01-02.csv": with_nulls("2024-01-02", 2)})
    import yaml

    rows = yaml.safe_load((root / "transformations.yaml").read_text())
    rows[0]["outputs"][0]["checks"] = [{"type": "not_null", "columns": ["kwh"], "on_fail": "quarantine"}]
    (root / "transformations.yaml").write_text(yaml.safe_dump(rows, sort_keys=False))
    with dg.instance_for_test() as instance:
        result = materialize(root, storage, instance, partition_range=("2024-01-01", "2024-01-02"))
        assert result.success, failures(result)
    quarantined = {event.materialization.partition: (event.materialization.metadata["rows_written"].value,
                                                     event.materialization.metadata["odibi/rows_quarantined"].value)
                   for event in result.get_asset_materialization_events()
                   if event.materialization.asset_key.path[-1] == "readings_quarantine"}
    assert quarantined == {"2024-01-01": (1, 1), "2024-01-02": (2, 2)}
    assert partition_rows(result, "silver") == {"2024-01-01": (2, 2, 3), "2024-01-02": (1, 1, 3)}


def test_rows_per_partition_that_cannot_be_counted_leave_the_run_green_with_a_warning(project_writer, storage,
                                                                                      monkeypatch):
    """Counting is metadata only: it must not fail a step whose table is written. (A failing read is
    forced with monkeypatch: nothing here makes a just-written Delta table unreadable on demand.)"""
    from odibi_dagster.engines import arrow_tables

    def unreadable(*args, **kwargs):
        raise OSError("storage went away")

    monkeypatch.setattr(arrow_tables, "rows_per_partition", unreadable)
    root = readings_project(project_writer)
    with dg.instance_for_test() as instance:
        result = materialize(root, storage, instance, partition_range=("2024-01-01", "2024-01-02"))
        assert result.success, failures(result)
        warnings = [entry.user_message for entry in instance.all_logs(result.run_id) if entry.level == logging.WARNING]
    assert ("table 'silver.readings': rows per partition not counted (OSError: storage went away); each partition's "
            "materialization shows the rows of partitions 2024-01-01...2024-01-02") in warnings
    assert rows_by_day(storage) == {"2024-01-01": 3, "2024-01-02": 3}


def partition_rows(result: dg.ExecuteInProcessResult, layer: str) -> dict[str, tuple[int, int, int]]:
    """Partition -> (rows_written, dagster/partition_row_count, dagster/row_count) of a layer's readings."""
    return {event.materialization.partition: tuple(event.materialization.metadata[key].value for key in (
                "rows_written", "dagster/partition_row_count", "dagster/row_count"))
            for event in result.get_asset_materialization_events()
            if event.materialization.asset_key == dg.AssetKey(["test_project", layer, "readings"])}


def test_a_row_outside_the_partition_fails_the_step_and_writes_nothing(project_writer, storage):
    root = readings_project(project_writer, shift=True)
    with dg.instance_for_test() as instance:
        assert materialize(root, storage, instance, partition="2024-01-01",
                           selection=["test_project/bronze/readings"]).success
        result = materialize(root, storage, instance, partition="2024-01-02")
        assert not result.success
        message = error_text(result)
        assert "transformation 'readings-silver' output 'silver.readings' (partition 2024-01-02)" in message
        assert "3 row(s) lie outside partition 2024-01-02" in message and "2024-01-03 00:30:00" in message
        assert not (storage / "qat/test_project/Silver/silver.readings").exists()  # nothing written
        retries = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
        assert retries == []


def test_a_source_without_placeholder_keeps_the_window_and_refuses_rows_of_no_partition(project_writer, storage):
    all_days = "plant,reading_time,kwh\nA,2024-01-01 05:00:00,1\nB,2024-01-02 05:00:00,2\nC,2024-01-02 23:59:59,3\n"
    root = readings_project(project_writer, source={"source_path_or_query": "data/all.csv"},
                            data={"data/all.csv": all_days})
    with dg.instance_for_test() as instance:
        assert materialize(root, storage, instance, partition="2024-01-02",
                           selection=["test_project/bronze/readings"]).success
        bronze = table(storage, "Bronze", "bronze.readings").to_pandas()
        assert sorted(bronze["plant"]) == ["B", "C"]
        (root / "data/all.csv").write_text(all_days + "D,,4\n")
        result = materialize(root, storage, instance, partition="2024-01-02",
                             selection=["test_project/bronze/readings"])
        message = error_text(result)
        assert "source 'src-readings': 1 row(s) have no value in partition_column 'reading_time'" in message
        assert sorted(table(storage, "Bronze", "bronze.readings").to_pandas()["plant"]) == ["B", "C"]


def test_a_partition_column_missing_from_the_data_names_source_and_column(project_writer, storage):
    root = readings_project(project_writer, source={"partition_column": "reading_day",
                                                    "source_options": {}})
    with dg.instance_for_test() as instance:
        result = materialize(root, storage, instance, partition="2024-01-01",
                             selection=["test_project/bronze/readings"])
    message = error_text(result)
    assert "source 'src-readings'" in message
    assert "partition_column 'reading_day' is not a column of the data" in message


def test_a_text_column_cannot_hold_time_partitions(project_writer, storage):
    root = readings_project(project_writer, source={"source_options": {}})  # reading_time read as text
    with dg.instance_for_test() as instance:
        result = materialize(root, storage, instance, partition="2024-01-01",
                             selection=["test_project/bronze/readings"])
    message = error_text(result)
    assert "partition_column 'reading_time' is string" in message and "source_options.schema" in message


def test_run_project_runs_a_partition_or_a_range_and_hooks_carry_the_key(project_writer, storage, monkeypatch):
    monkeypatch.setenv("ODIBI_STORAGE_ROOT", str(storage))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    root = readings_project(project_writer)
    hooks, seen = HookManager(), []
    for event in ("transform_start", "transform_success", "bronze_start", "layer_end"):
        hooks.register(event, lambda payload, event=event: seen.append((event, payload.get("partition_key"))))
    result = run_project("Test Project", engine="pandas", project_dir=root, hooks=hooks, quiet=True,
                         partition_key="2024-01-03")
    assert result["status"] == "success", result
    assert rows_by_day(storage) == {"2024-01-03": 3}
    assert seen and {key for _, key in seen} == {"2024-01-03"}
    assert {event for event, _ in seen} >= {"transform_start", "transform_success", "bronze_start"}
    result = run_project("Test Project", engine="pandas", project_dir=root, quiet=True,
                         partition_range=("2024-01-01", "2024-01-02"))
    assert result["status"] == "success", result
    assert rows_by_day(storage) == {"2024-01-01": 3, "2024-01-02": 3, "2024-01-03": 3}
    with pytest.raises(ValueError, match="partition key '2031-01-01' is not a partition of project 'Test Project'"):
        run_project("Test Project", engine="pandas", project_dir=root, quiet=True, partition_key="2031-01-01")
    with pytest.raises(ValueError, match="ends before it starts"):
        run_project("Test Project", engine="pandas", project_dir=root, quiet=True,
                    partition_range=("2024-01-03", "2024-01-01"))


def test_static_partitions_replace_one_value_of_a_text_column(project_writer, storage):
    root = project_writer.write(
        manifest={"partitions": {"type": "static", "values": ["north", "south"]}},
        sources=[{"source_id": "src-sites", "source_name": "bronze.sites", "file_format": "csv",
                  "source_path_or_query": "data/{partition_key}.csv", "partition_column": "region"}],
        functions=FUNCS,
        data={"data/north.csv": "region,site\nnorth,a\nnorth,b\n", "data/south.csv": "region,site\nsouth,c\n"})
    with dg.instance_for_test() as instance:
        for key in ("north", "south"):
            assert materialize(root, storage, instance, partition=key).success
        (root / "data/north.csv").write_text("region,site\nnorth,z\n")
        assert materialize(root, storage, instance, partition="north").success
    frame = table(storage, "Bronze", "bronze.sites").to_pandas()
    assert sorted(zip(frame["region"], frame["site"])) == [("north", "z"), ("south", "c")]


# -- SQL sources: bound partition parameters and high-water marks ---------------------------------

EVENTS = sa.Table("odibi_test_events", sa.MetaData(), sa.Column("event_id", sa.Integer),
                  sa.Column("meter", sa.String(10)), sa.Column("kwh", sa.Float),
                  sa.Column("updated_at", sa.DateTime), sa.Column("day", sa.Date))


def events(first: int, last: int, day: str = "2024-01-02", kwh: float = 1.0) -> list[dict]:
    stamp = pd.Timestamp(day)
    return [{"event_id": i, "meter": f"M{i % 2}", "kwh": kwh, "updated_at": (stamp + pd.Timedelta(minutes=i))
             .to_pydatetime(), "day": stamp.date()} for i in range(first, last + 1)]


def fill(url: str, rows: list[dict], reset: bool = False) -> None:
    engine = sa.create_engine(url)
    if reset:
        EVENTS.drop(engine, checkfirst=True)
        EVENTS.create(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(EVENTS), rows)
    engine.dispose()


def sql_project(project_writer, url: str, **source):
    return project_writer.write(
        manifest={"partitions": DAILY} if "partition_column" in source else {},
        sources=[{"source_id": "src-events", "source_name": "bronze.events", "file_format": "sql",
                  "connection_config": {"url": url}, **source}],
        functions=FUNCS)


def sql_partition_round(project_writer, storage, url):
    fill(url, events(1, 3, "2024-01-01") + events(4, 5, "2024-01-02"), reset=True)
    root = sql_project(project_writer, url, partition_column="day", source_options={"schema": {"day": "date"}},
                       source_path_or_query=(
                           "SELECT * FROM odibi_test_events WHERE day >= :partition_start AND day < :partition_end"))
    with dg.instance_for_test() as instance:
        assert materialize(root, storage, instance, partition="2024-01-02").success
        assert materialize(root, storage, instance, partition="2024-01-01").success
        bronze = table(storage, "Bronze", "bronze.events").to_pandas()
        assert sorted(bronze["event_id"]) == [1, 2, 3, 4, 5]
        fill(url, events(6, 6, "2024-01-02"))
        assert materialize(root, storage, instance, partition="2024-01-02").success
        assert sorted(table(storage, "Bronze", "bronze.events").to_pandas()["event_id"]) == [1, 2, 3, 4, 5, 6]


def sqlite_in_project(project_writer) -> str:
    project_writer.root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{project_writer.root / 'events.db'}"


def test_a_sql_source_gets_the_partition_as_bound_parameters_on_sqlite(project_writer, storage):
    sql_partition_round(project_writer, storage, sqlite_in_project(project_writer))


@pytest.mark.postgres
def test_a_sql_source_gets_the_partition_as_bound_parameters_on_postgres(project_writer, storage, postgres_url):
    sql_partition_round(project_writer, storage, postgres_url)


def mark_of(instance) -> dict:
    event = instance.get_latest_materialization_event(dg.AssetKey(["test_project", "bronze", "events"]))
    metadata = event.asset_materialization.metadata
    return {key: metadata[key].value for key in ("odibi/high_water_mark", "odibi/load") if key in metadata}


def incremental_round(project_writer, storage, url, mode):
    fill(url, events(1, 4), reset=True)
    incremental = {"column": "updated_at", "mode": mode, **({"merge_keys": ["event_id"]} if mode == "merge" else {})}
    root = sql_project(project_writer, url, source_path_or_query="odibi_test_events", incremental=incremental)
    with dg.instance_for_test() as instance:
        assert materialize(root, storage, instance).success  # the first run loads everything
        assert mark_of(instance) == {"odibi/high_water_mark": "2024-01-02T00:04:00", "odibi/load": "full"}
        # two new events and (merge) a correction of event 2 with a newer updated_at
        fill(url, events(5, 6, kwh=2.0))
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.update(EVENTS).where(EVENTS.c.event_id == 2).values(
                kwh=7.0, updated_at=pd.Timestamp("2024-01-02 01:00").to_pydatetime()))
        engine.dispose()
        assert materialize(root, storage, instance).success
        log = read_transformation_log("Test Project", instance)
        assert log["rows_in"].tolist() == [4, 3]  # only the rows past the mark were read
        assert mark_of(instance) == {"odibi/high_water_mark": "2024-01-02T01:00:00", "odibi/load": "incremental"}
        events_table = stored(storage, "Bronze", "bronze.events").sort_values("event_id")
        if mode == "merge":
            assert events_table["event_id"].tolist() == [1, 2, 3, 4, 5, 6]
            assert events_table.loc[events_table["event_id"] == 2, "kwh"].tolist() == [7.0]
        else:
            assert events_table["event_id"].tolist() == [1, 2, 2, 3, 4, 5, 6]
        location = TableLocation(storage, "qat", "test_project", "Bronze", "bronze.events")
        before = (describe_stored(location).delta_version, describe_stored(location).row_count,
                  location.path.stat().st_mtime_ns, sorted(p.name for p in location.path.iterdir()))
        # nothing new: nothing written, and the materialization says so
        assert materialize(root, storage, instance).success
        assert (describe_stored(location).delta_version, describe_stored(location).row_count,
                location.path.stat().st_mtime_ns, sorted(p.name for p in location.path.iterdir())) == before
        assert mark_of(instance) == {"odibi/high_water_mark": "2024-01-02T01:00:00", "odibi/load": "nothing new"}
        # full_refresh starts over: every row read, the table replaced
        result = materialize(root, storage, instance,
                             run_config={"resources": {"odibi_engine": {"config": {"full_refresh": True}}}})
        assert result.success
        assert stored(storage, "Bronze", "bronze.events")["event_id"].sort_values().tolist() == [1, 2, 3, 4, 5, 6]
        assert mark_of(instance)["odibi/load"] == "full"


@pytest.mark.parametrize("mode", ["append", "merge"])
def test_an_incremental_sql_source_reads_past_its_mark_on_sqlite(project_writer, storage, mode):
    incremental_round(project_writer, storage, sqlite_in_project(project_writer), mode)


@pytest.mark.postgres
def test_an_incremental_sql_source_reads_past_its_mark_on_postgres(project_writer, storage, postgres_url):
    incremental_round(project_writer, storage, postgres_url, "merge")


def test_an_incremental_column_of_another_type_than_the_mark_is_refused(project_writer, storage):
    root = project_writer.write(
        sources=[{"source_id": "src-events", "source_name": "bronze.events", "file_format": "csv",
                  "source_path_or_query": "data/events.csv", "incremental": {"column": "updated_at"},
                  "source_options": {"schema": {"updated_at": "timestamp"}}}],
        functions=FUNCS, data={"data/events.csv": "id,updated_at\n1,2024-01-01 00:00:00\n"})
    with dg.instance_for_test() as instance:
        assert materialize(root, storage, instance).success
        manifest_rows = json.loads(json.dumps({"source_options": {}}))
        (root / "sources.yaml").write_text((root / "sources.yaml").read_text().replace(
            "source_options:\n    schema:\n      updated_at: timestamp", f"source_options: {manifest_rows['source_options']}"))
        result = materialize(root, storage, instance)
        message = error_text(result)
        assert "incremental column 'updated_at' is string, but the stored high-water mark is" in message
        assert "full_refresh: true" in message
        (root / "data/events.csv").write_text("id,changed\n1,2024-01-01\n")
        result = materialize(root, storage, instance)
        message = error_text(result)
        assert "incremental column 'updated_at' is not a column of the data" in message


# -- what a hostile user found (each once silent) -------------------------------------------------

def events_csv_project(project_writer, mode="append", rows="id,updated_at\n1,2024-01-01 00:00:00\n", **source):
    incremental = {"column": "updated_at", "mode": mode, **({"merge_keys": ["id"]} if mode == "merge" else {})}
    return project_writer.write(
        sources=[{"source_id": "src-events", "source_name": "bronze.events", "file_format": "csv",
                  "source_path_or_query": "data/events.csv", "incremental": incremental,
                  "source_options": {"schema": {"updated_at": "timestamp"}}, **source}],
        functions=FUNCS, data={"data/events.csv": rows})


def add_event(root: Path, line: str) -> None:
    with (root / "data/events.csv").open("a") as handle:
        handle.write(line + "\n")


def test_a_mark_belongs_to_its_table_not_to_the_asset_key(project_writer, storage, tmp_path):
    """Another environment or storage root, and a deleted table, start from a full load; a table
    whose mark is lost (a new instance) goes on from its own largest value, never replaced."""
    root = events_csv_project(project_writer)
    with dg.instance_for_test() as instance:
        assert materialize(root, storage, instance).success
        add_event(root, "2,2024-01-02 00:00:00")
        other = tmp_path / "other_storage"
        assert materialize(root, other, instance).success  # another root: all rows, not just the new one
        assert sorted(stored(other, "Bronze", "bronze.events")["id"]) == [1, 2]
        import shutil

        shutil.rmtree(storage / "qat/test_project/Bronze/bronze.events")
        assert materialize(root, storage, instance).success  # a deleted table is loaded whole again
        assert sorted(stored(storage, "Bronze", "bronze.events")["id"]) == [1, 2]
    add_event(root, "3,2024-01-03 00:00:00")
    with dg.instance_for_test() as fresh:  # no recorded mark: the table's own maximum, an append
        assert materialize(root, storage, fresh).success
        assert sorted(stored(storage, "Bronze", "bronze.events")["id"]) == [1, 2, 3]
        assert mark_of(fresh)["odibi/load"] == "incremental"


def test_a_table_ahead_of_its_recorded_mark_is_not_appended_twice(project_writer, storage):
    """A run that died after its write but before Dagster recorded the mark: the next run goes on
    from what the table holds (here: the same table advanced by a run on another instance)."""
    root = events_csv_project(project_writer)
    with dg.instance_for_test() as instance, dg.instance_for_test() as elsewhere:
        assert materialize(root, storage, instance).success
        add_event(root, "2,2024-01-02 00:00:00")
        assert materialize(root, storage, elsewhere).success  # the table now holds 2; `instance` says 1
        assert materialize(root, storage, instance).success
    assert sorted(stored(storage, "Bronze", "bronze.events")["id"]) == [1, 2]


def test_an_incremental_step_waits_for_the_run_going_on_from_the_same_mark(project_writer, home, tmp_path):
    """Two runs at once would read the same mark and append the same rows twice: a run's step holds
    the table's incremental lock from reading the mark to recording the next. Here the test holds
    it: a `dagster asset materialize` process starts its step, waits, and goes on once released."""
    import os
    import subprocess
    import time

    from odibi_dagster.engines.storage import INCREMENTAL_LOCK
    from odibi_dagster_tests.conftest import BIN

    root = events_csv_project(project_writer)
    storage = Path(home["ODIBI_STORAGE_ROOT"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("ODIBI_")} | home | {"ODIBI_PROJECT_DIR": str(root)}
    command = [str(BIN / "dagster"), "asset", "materialize", "-m", "odibi_dagster.definitions", "--select", "*"]
    assert subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, timeout=300, check=False).returncode == 0
    add_event(root, "2,2024-01-02 00:00:00")
    location = TableLocation(storage, "qat", "test_project", "Bronze", "bronze.events")
    with location.locked(INCREMENTAL_LOCK):
        run = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        with dg.DagsterInstance.from_config(home["DAGSTER_HOME"]) as instance:
            first = instance.get_runs()[0].run_id
            deadline = time.time() + 120
            while not any(instance.all_logs(other.run_id, of_type=dg.DagsterEventType.STEP_START)
                          for other in instance.get_runs() if other.run_id != first):
                assert time.time() < deadline and run.poll() is None
                time.sleep(0.2)
            time.sleep(3)
            assert run.poll() is None  # the step waits for the lock
            assert stored(storage, "Bronze", "bronze.events")["id"].tolist() == [1]
    assert run.wait(timeout=300) == 0, run.stderr.read()[-2000:]
    assert sorted(stored(storage, "Bronze", "bronze.events")["id"]) == [1, 2]


def test_nanosecond_timestamps_are_refused_not_cut(project_writer, storage):
    """Stored as microseconds (all Spark and Delta keep), a nanosecond value would lose digits:
    the load is refused naming table and column, and nothing is stored."""
    root = events_csv_project(project_writer, rows="id,updated_at\n1,2024-01-01 10:00:00.123456789\n")
    with dg.instance_for_test() as instance:
        result = materialize(root, storage, instance)
    assert not result.success
    assert ("table 'bronze.events' refused: column 'updated_at' holds timestamps finer than a microsecond"
            in error_text(result))
    assert TableLocation(storage, "qat", "test_project", "Bronze", "bronze.events").stored_format() is None


def test_a_failed_write_of_an_incremental_source_releases_its_lock(project_writer, storage):
    """The source's lock spans the IO manager's write; when that write fails, Dagster leaves the
    step's generator suspended (the lock was then held until it was collected, and the next run
    in this process waited forever)."""
    import fcntl

    root = events_csv_project(project_writer, rows="id,updated_at\n1,2024-01-01 10:00:00.123456789\n")
    location = TableLocation(storage, "qat", "test_project", "Bronze", "bronze.events")
    with dg.instance_for_test() as instance:
        failed = materialize(root, storage, instance)
        assert not failed.success
        with open(location.path / INCREMENTAL_LOCK, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises BlockingIOError while it is held
        (root / "data/events.csv").write_text("id,updated_at\n1,2024-01-01 10:00:00.123456\n")
        assert materialize(root, storage, instance).success
    assert stored(storage, "Bronze", "bronze.events")["id"].tolist() == [1]


def test_microsecond_timestamps_are_not_read_again_on_every_run(project_writer, storage):
    root = events_csv_project(project_writer, rows="id,updated_at\n1,2024-01-01 10:00:00.123456\n")
    with dg.instance_for_test() as instance:
        for _ in range(3):
            assert materialize(root, storage, instance).success
        assert mark_of(instance)["odibi/load"] == "nothing new"
    assert stored(storage, "Bronze", "bronze.events")["id"].tolist() == [1]


def test_an_incremental_merge_keeps_the_newest_version_of_a_key_changed_twice(project_writer, storage):
    root = events_csv_project(project_writer, mode="merge", rows="id,kwh,updated_at\n1,1.0,2024-01-01 00:00:00\n")
    with dg.instance_for_test() as instance:
        assert materialize(root, storage, instance).success
        add_event(root, "1,2.0,2024-01-02 00:00:00")
        add_event(root, "1,3.0,2024-01-03 00:00:00")
        add_event(root, "2,5.0,2024-01-02 12:00:00")
        result = materialize(root, storage, instance)
        assert result.success, error_text(result)
        event = instance.get_latest_materialization_event(dg.AssetKey(["test_project", "bronze", "events"]))
        assert event.asset_materialization.metadata["odibi/rows_superseded"].value == 1
    table = stored(storage, "Bronze", "bronze.events").sort_values("id")
    assert list(zip(table["id"], table["kwh"])) == [(1, 3.0), (2, 5.0)]


def test_a_sql_query_ending_in_a_comment_reads_incrementally(project_writer, storage):
    url = sqlite_in_project(project_writer)
    fill(url, events(1, 2), reset=True)
    root = sql_project(project_writer, url, incremental={"column": "updated_at"},
                       source_path_or_query="SELECT * FROM odibi_test_events -- every event")
    with dg.instance_for_test() as instance:
        assert materialize(root, storage, instance).success
        fill(url, events(3, 3))
        result = materialize(root, storage, instance)
        assert result.success, error_text(result)
    assert sorted(stored(storage, "Bronze", "bronze.events")["event_id"]) == [1, 2, 3]


def test_partitioning_a_stored_unpartitioned_table_keeps_its_other_rows(project_writer, storage):
    all_days = "plant,reading_time,kwh\nA,2024-01-01 05:00:00,1\nB,2024-01-02 05:00:00,2\n"
    root = project_writer.write(
        sources=[{"source_id": "src-readings", "source_name": "bronze.readings", "file_format": "csv",
                  "source_path_or_query": "data/all.csv", "source_options": {"schema": {"reading_time": "timestamp"}}}],
        functions=FUNCS, data={"data/all.csv": all_days})
    with dg.instance_for_test() as instance:
        assert materialize(root, storage, instance).success  # unpartitioned: a parquet file
        assert (storage / "qat/test_project/Bronze/bronze.readings/data.parquet").is_file()
        readings_project(project_writer, source={"source_path_or_query": "data/all.csv"},
                         data={"data/all.csv": all_days.replace(",2\n", ",20\n")})
        assert materialize(root, storage, instance, partition="2024-01-02",
                           selection=["test_project/bronze/readings"]).success
    table = stored(storage, "Bronze", "bronze.readings").sort_values("plant")
    assert list(zip(table["plant"], table["kwh"])) == [("A", 1), ("B", 20)]


def test_static_partitions_need_a_text_column(project_writer, storage):
    root = project_writer.write(
        manifest={"partitions": {"type": "static", "values": ["1", "2"]}},
        sources=[{"source_id": "src-sites", "source_name": "bronze.sites", "file_format": "csv",
                  "source_path_or_query": "data/sites.csv", "partition_column": "region"}],
        functions=FUNCS, data={"data/sites.csv": "region,site\n1,a\n2,b\n"})
    with dg.instance_for_test() as instance:
        result = materialize(root, storage, instance, partition="1")
    assert "partition_column 'region' is int64, but static partitions are text" in error_text(result)
