"""The transformation log: one record per transformation run, and the sinks that receive it."""

from odibi_dagster.logging.records import record_from_event
from odibi_dagster.logging.sinks import BaseLogSink, FileLogSink, SparkDeltaLogSink

__all__ = ["BaseLogSink", "FileLogSink", "SparkDeltaLogSink", "record_from_event"]
