"""The transformation log: one record per transformation run, its sinks and its reader."""

from odibi_dagster.logging.reader import read_transformation_log
from odibi_dagster.logging.records import RECORD_FIELDS, build_record
from odibi_dagster.logging.sinks import (
    BaseLogSink,
    DeltaLogSink,
    FileLogSink,
    MultiLogSink,
    SparkDeltaLogSink,
    SQLLogSink,
    build_sink,
)

__all__ = ["RECORD_FIELDS", "BaseLogSink", "DeltaLogSink", "FileLogSink", "MultiLogSink", "SQLLogSink",
           "SparkDeltaLogSink", "build_record", "build_sink", "read_transformation_log"]
