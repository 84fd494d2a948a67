"""The transformation log: one record per transformation run, its sinks and its reader."""

from odibi_dagster.logging.reader import read_transformation_log
from odibi_dagster.logging.records import RECORD_FIELDS, build_record, record_from_event
from odibi_dagster.logging.sinks import BaseLogSink, FileLogSink, SparkDeltaLogSink

__all__ = ["RECORD_FIELDS", "BaseLogSink", "FileLogSink", "SparkDeltaLogSink", "build_record",
           "read_transformation_log", "record_from_event"]
