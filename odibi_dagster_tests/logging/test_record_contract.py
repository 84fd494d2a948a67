"""The log record's columns as the contract states them, written out here rather than read from
the code under test: the original's sixteen (transformation_id ... error_message, with the entity
labels plant and asset), then the columns each later release added at the end, in order."""

from odibi_dagster.logging.records import EARLIER_FIELDS, RECORD_FIELDS

ORIGINAL = ("transformation_id", "project", "env", "layer", "engine", "plant", "asset", "run_id", "start_time",
            "end_time", "status", "duration_seconds", "rows_in", "rows_out", "attempt", "error_message")
DATA_QUALITY = ("rows_dropped", "rows_quarantined", "checks_failed")
PARTITIONS = ("partition_key",)
SCD2 = ("scd2_inserted", "scd2_closed", "scd2_unchanged")


def test_the_record_has_the_contracts_columns_in_order():
    assert RECORD_FIELDS == ORIGINAL + DATA_QUALITY + PARTITIONS + SCD2


def test_each_earlier_release_is_a_prefix_so_old_sinks_are_upgraded_by_adding_columns():
    assert EARLIER_FIELDS == (ORIGINAL, ORIGINAL + DATA_QUALITY, ORIGINAL + DATA_QUALITY + PARTITIONS)
