"""Partitions and incremental loads in config: the bad inputs of the issue, each a clear error
naming the file, the row and the field, and the good ones loading into a partitions definition."""

import dagster as dg
import pytest

from odibi_dagster.config import ConfigError, load_project_folder
from odibi_dagster.config.partitions import placeholders_in
from odibi_dagster.demo import READINGS_PROJECT_DIR
from odibi_dagster.partitions.definition import partitions_definition

SOURCE = {"source_id": "src-r", "source_name": "bronze.readings", "file_format": "csv",
          "source_path_or_query": "data/r.csv"}
ROW = {"transformation_id": "t-silver", "layer": "Silver", "function": "passthrough",
       "inputs": ["bronze.readings"], "outputs": [{"table": "silver.readings"}]}
DAILY = {"type": "daily", "start": "2024-01-01", "end": "2024-01-15"}
FUNCS = "def passthrough(inputs):\n    return next(iter(inputs.values()))\n"


def load(project_writer, *, partitions=DAILY, source=None, row=None, extra_rows=()):
    root = project_writer.write(
        manifest={"partitions": partitions} if partitions is not None else {},
        sources=[{**SOURCE, **(source or {})}], transformations=[{**ROW, **(row or {})}, *extra_rows],
        functions=FUNCS, data={"data/r.csv": "plant,day\nA,2024-01-01\n"})
    return load_project_folder(root)


def error_of(project_writer, **kwargs) -> str:
    with pytest.raises(ConfigError) as caught:
        load(project_writer, **kwargs)
    return str(caught.value)


@pytest.mark.parametrize("partitions, words", [
    ({"type": "daly", "start": "2024-01-01"}, ["field 'partitions.type'", "unknown partitions type 'daly'",
                                                "did you mean 'daily'"]),
    ({"type": "daily", "start": "2024-13-01"}, ["field 'partitions'", "start '2024-13-01' is not a date"]),
    ({"type": "daily", "start": "2024-02-01", "end": "2024-01-01"}, ["end '2024-01-01' is not after start"]),
    ({"type": "static"}, ["static partitions need 'values'"]),
    ({"type": "static", "values": []}, ["static partitions need 'values'"]),
    ({"type": "static", "values": ["a", "a"]}, ["['a'] appear more than once"]),
    ({"type": "static", "values": ["o'brien"]}, ["may hold only letters"]),
    ({"type": "monthly"}, ["monthly partitions need 'start'"]),
    ({"type": "daily", "start": "2024-01-01", "values": ["x"]}, ["not 'values'"]),
    ({"type": "daily", "start": "2024-01-01", "timezone": "Mars/Olympus"}, ["not an IANA time zone"]),
])
def test_a_bad_manifest_partitions_block_is_refused(project_writer, partitions, words):
    message = error_of(project_writer, partitions=partitions)
    assert "manifest.yaml" in message
    for word in words:
        assert word in message


@pytest.mark.parametrize("source, row, partitions, words", [
    ({"source_path_or_query": "data/{partition_key}.csv"}, None, DAILY,
     ["row 'src-r'", "uses ['partition_key'], but the source has no partition_column"]),
    ({"source_path_or_query": "data/{partiton_key}.csv", "partition_column": "day"}, None, DAILY,
     ["{partiton_key}, which is not a placeholder", "did you mean 'partition_key'"]),
    ({"partition_column": "day"}, None, None,
     ["field 'partition_column'", "the manifest declares no partitions"]),
    (None, {"outputs": [{"table": "silver.readings", "partition_column": "day"}]}, None,
     ["row 't-silver'", "field 'outputs.0.partition_column'", "declares no partitions"]),
    ({"partition_column": "day", "write_mode": "append"}, None, DAILY, ["write_mode 'append' cannot be used"]),
    (None, {"outputs": [{"table": "silver.readings", "partition_column": "day", "mode": "append"}]}, DAILY,
     ["mode must be overwrite"]),
    (None, {"outputs": [{"table": "silver.readings", "partition_column": "day", "format": "parquet"}]}, DAILY,
     ["format 'parquet'"]),
    (None, {"outputs": [{"table": "silver.readings", "partition_column": "day"}, {"table": "silver.other"}]}, DAILY,
     ["row 't-silver'", "either all are partitioned or none is"]),
    (None, {"outputs": [{"table": "silver.readings", "partition_column": "day; DROP"}]}, DAILY,
     ["must be a plain column name"]),
    ({"incremental": {"column": "day", "mode": "merge"}}, None, None,
     ["row 'src-r'", "field 'incremental'", "incremental mode 'merge' needs merge_keys"]),
    ({"incremental": {"column": "day", "mode": "upsert"}}, None, None, ["field 'incremental.mode'"]),
    ({"incremental": {"column": "day"}, "partition_column": "day"}, None, DAILY,
     ["either partitioned (partition_column) or incremental"]),
    ({"incremental": {"column": "day"}, "write_mode": "append"}, None, None, ["leave write_mode and merge_config out"]),
    ({"file_format": "sql", "source_path_or_query": "SELECT * FROM r WHERE d = '{partition_key}'",
      "partition_column": "d", "connection_config": {"url": "sqlite:///x.db"}}, None, DAILY,
     ["bound parameters :partition_key"]),
])
def test_bad_partition_and_incremental_fields_are_refused(project_writer, source, row, partitions, words):
    message = error_of(project_writer, source=source, row=row, partitions=partitions)
    for word in words:
        assert word in message, message


def test_a_placeholder_path_is_checked_against_the_source_roots_for_any_partition(project_writer):
    message = error_of(project_writer, source={"source_path_or_query": "../../{partition_key}/r.csv",
                                               "partition_column": "day"})
    assert "row 'src-r'" in message and "field 'source_path_or_query'" in message
    project = load(project_writer, source={"source_path_or_query": "data/{partition_key}*.csv",
                                           "partition_column": "day"})
    assert project.sources[0].partition_column == "day"


def test_placeholders_in_paths_and_bound_parameters_in_queries():
    assert placeholders_in("data/{partition_start}_{partition_key}.csv") == ["partition_start", "partition_key"]
    assert placeholders_in("SELECT * FROM t WHERE d >= :partition_start AND d < :partition_end "
                           "AND x::text = 'a'") == ["partition_start", "partition_end"]
    assert placeholders_in("data/{other}.csv") == []


@pytest.mark.parametrize("config, first, count", [
    ({"type": "daily", "start": "2024-01-01", "end": "2024-01-15"}, "2024-01-01", 14),
    ({"type": "hourly", "start": "2024-01-01 06:00", "end": "2024-01-02"}, "2024-01-01-06:00", 18),
    ({"type": "weekly", "start": "2024-01-07", "end": "2024-02-04"}, "2024-01-07", 4),
    ({"type": "monthly", "start": "2024-01-01", "end": "2025-02-01"}, "2024-01-01", 13),
    ({"type": "static", "values": ["north", "south", 3]}, "north", 3),
])
def test_each_partitions_type_becomes_its_dagster_definition(config, first, count):
    from odibi_dagster.config.partitions import PartitionsConfig

    definition = partitions_definition(PartitionsConfig(**config))
    keys = definition.get_partition_keys()
    assert (keys[0], len(keys)) == (first, count)


def test_the_readings_example_is_partitioned_daily_with_an_incremental_source():
    project = load_project_folder(READINGS_PROJECT_DIR)
    from odibi_dagster.assets import build_definitions

    defs = build_definitions(project, storage_root_dir="/tmp/unused")
    graph = defs.resolve_asset_graph()
    partitioned = {key.to_user_string() for key in graph.get_all_asset_keys()
                   if graph.get(key).partitions_def is not None}
    assert partitioned == {"plant_readings/bronze/readings", "plant_readings/silver/readings",
                           "plant_readings/gold/plant_daily"}
    daily = graph.get(dg.AssetKey(["plant_readings", "bronze", "readings"])).partitions_def
    assert isinstance(daily, dg.DailyPartitionsDefinition) and len(daily.get_partition_keys()) == 14
    events = next(source for source in project.sources if source.incremental)
    assert (events.incremental.column, events.output.mode, events.output.merge_keys) == ("updated_at", "merge",
                                                                                          ["event_id"])


@pytest.mark.parametrize("output, words", [
    ({"mode": "scd2"}, ["field 'outputs.0'", "mode 'scd2' but no 'merge_keys'"]),
    ({"mode": "scd2", "merge_keys": ["valid_from"]}, ["names ['valid_from'], which the table adds itself"]),
    ({"mode": "scd2", "merge_keys": ["id"], "track_columns": ["is_current"]}, ["names ['is_current']"]),
    ({"mode": "scd2", "merge_keys": ["id"], "effective_column": "valid_to"}, ["names ['valid_to']"]),
    ({"mode": "scd2", "merge_keys": ["id"], "track_columns": ["id"]}, ["are merge_keys and track_columns at once"]),
    ({"mode": "scd2", "merge_keys": ["id"], "scd2_deletes": "drop"}, ["field 'outputs.0.scd2_deletes'"]),
    ({"mode": "merge", "merge_keys": ["id"], "track_columns": ["x"]}, ["sets ['track_columns'], which only mode 'scd2'"]),
    ({"mode": "scd2", "merge_keys": ["id"], "partition_column": "day"}, ["cannot be replaced per partition"]),
    ({"mode": "scd2", "merge_keys": ["id"], "format": "parquet"}, ["needs a Delta table"]),
    ({"mode": "scd2", "merge_keys": ["id", "id"]}, ["merge_keys names ['id'] more than once"]),
    ({"mode": "scd2", "merge_keys": ["id"], "track_columns": ["v", "v"]}, ["track_columns names ['v'] more"]),
    ({"mode": "scd2", "merge_keys": ["id"], "schema_evolution": True}, ["sets ['schema_evolution']"]),
    ({"mode": "scd2", "merge_keys": ["id"], "partition_by": ["x"]}, ["sets ['partition_by']"]),
    ({"mode": "scd2", "merge_keys": ["id"], "null_keys": "skip"}, ["sets ['null_keys: skip']"]),
])
def test_a_bad_scd2_output_is_refused_naming_row_output_and_field(project_writer, output, words):
    message = error_of(project_writer, row={"outputs": [{"table": "silver.readings", **output}]})
    assert "transformations.yaml" in message and "row 't-silver'" in message
    for word in words:
        assert word in message, message
