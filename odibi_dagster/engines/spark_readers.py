"""Bronze readers on Spark, with the portable ``source_options`` meaning what they mean on pandas.

``spark:`` options go to Spark's reader as they are. SQL sources use JDBC when the source gives
``connection_config.jdbc_url`` (and the driver is on the cluster), else SQLAlchemy through pandas.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pyspark.sql import functions as F
from pyspark.sql import types as T

from odibi_dagster.config.connections import substitute_env
from odibi_dagster.config.model import Source
from odibi_dagster.config.partitions import placeholders_in
from odibi_dagster.engines.arrow_tables import read_delta
from odibi_dagster.engines.readers import (
    SourceReadError,
    delta_source_path,
    json_is_multiline,
    refuse_renamed_header,
    source_files,
)
from odibi_dagster.engines.readers import read_source as read_with_pandas

SPARK_TYPES = {
    "string": T.StringType(), "str": T.StringType(),
    "int": T.LongType(), "integer": T.LongType(), "long": T.LongType(), "bigint": T.LongType(),
    "double": T.DoubleType(), "float": T.DoubleType(),
    "boolean": T.BooleanType(), "bool": T.BooleanType(),
    "date": T.DateType(), "timestamp": T.TimestampType(),
}


def read_source(spark: Any, source: Source, root: Path | None, native_delta: bool,
                params: Mapping[str, Any] | None = None, since: tuple[str, Any] | None = None) -> Any:
    """``params`` and ``since`` as in ``readers.read_source``."""
    options = dict(source.source_options)
    extra = dict(options.get("spark") or {})
    fmt = source.file_format
    if fmt == "csv":
        frame = _read_csv(spark, source, root, options, extra)
    elif fmt == "json":
        files = source_files(source, root)
        reader = spark.read.options(**extra).option("multiLine", json_is_multiline(options, files[0]))
        if "encoding" in options:
            reader = reader.option("encoding", _spark_encoding(options["encoding"]))
        frame = reader.json(files)
    elif fmt == "parquet":
        frame = spark.read.options(**extra).parquet(*source_files(source, root))
    elif fmt == "delta":
        path = delta_source_path(source, root)
        frame = (spark.read.format("delta").load(str(path)) if native_delta
                 else spark.createDataFrame(read_delta(path)))
    elif fmt == "sql":
        frame = _read_sql(spark, source, root, extra, params, since)
    else:
        raise SourceReadError(f"source '{source.source_id}': file_format '{fmt}' cannot be read on spark "
                              f"(supported: csv, json, parquet, delta, sql)")
    return _apply_schema(frame, source)


# Python's names of encodings (as `source_options.encoding` takes them for both engines) -> Spark's
_SPARK_CHARSETS = {"iso8859-1": "iso-8859-1", "ascii": "us-ascii", "utf-8-sig": "utf-8", "utf-16-be": "utf-16be",
                   "utf-16-le": "utf-16le", "utf-32-be": "utf-32be", "utf-32-le": "utf-32le"}


def _spark_encoding(encoding: str) -> str:
    """``encoding`` as Spark names it (``latin-1`` is ``iso-8859-1`` to Spark, which refuses the former)."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return encoding  # Spark says which it knows
    return _SPARK_CHARSETS.get(name, name)


def _read_csv(spark: Any, source: Source, root: Path | None, options: dict, extra: dict) -> Any:
    nulls = [str(value) for value in (options.get("null_values") or [""]) if str(value) != ""]
    null_value = nulls[0] if nulls else ""  # Spark takes one; the others are applied below
    encoding = _spark_encoding(options.get("encoding", "utf-8"))
    reader = (spark.read.option("header", bool(options.get("header", True)))
              .option("sep", options.get("delimiter", ","))
              .option("encoding", encoding)
              # each file read whole, as pandas reads it: line by line, Spark splits a quoted field that
              # spans lines into rows of its own, and garbles UTF-16 and UTF-32 text; `multiline: false`
              # splits large files across tasks where no quoted field spans lines
              .option("multiLine", options.get("multiline", True) or encoding.startswith(("utf-16", "utf-32")))
              .option("inferSchema", True)
              .option("nullValue", null_value)
              .option("escape", '"')  # a quote inside a quoted field is doubled (RFC 4180), as pandas reads it
              # a ragged row is an error (Spark names the file and the record) rather than a
              # silently dropped field; `spark: {mode: PERMISSIVE}` asks for Spark's permissive mode
              .option("mode", "FAILFAST")
              # each file's header is checked against the columns: by default Spark ignores the
              # headers after the first and puts another file's columns in place by position
              .option("enforceSchema", False)
              .options(**extra))
    files = source_files(source, root)
    # Spark's option names ignore case: `spark: {Header: "false"}` reads without a header
    header = str(next((value for key, value in extra.items() if key.lower() == "header"),
                      options.get("header", True))).lower() == "true"
    try:
        frame = reader.csv(files)
    except Exception:  # a renamed header name that is another column's name already (`a,a,a1`: a1 twice)
        if header:
            _refuse_renamed_header(spark, source, reader, files, null_value)
        raise
    if header and _renamed_by_spark(frame.columns):
        _refuse_renamed_header(spark, source, reader, files, null_value)
    if len(nulls) > 1:  # Spark takes one nullValue; the others become null in text columns
        for name, dtype in frame.dtypes:
            if dtype == "string":
                frame = frame.withColumn(name, F.when(F.col(name).isin(nulls[1:]), None).otherwise(F.col(name)))
    return frame


def _renamed_by_spark(columns: list[str]) -> bool:
    """Whether Spark may have renamed a header name: ``_c3`` in position 3 (a blank or null name), or
    two names ``<name><position>`` with one ``<name>`` (a repeated one). A file may use such names
    itself, so ``_refuse_renamed_header`` reads the header again before refusing."""
    prefixes = [name[: -len(str(index))].lower() for index, name in enumerate(columns)
                if name.endswith(str(index)) and len(name) > len(str(index))]
    return any(name == f"_c{index}" for index, name in enumerate(columns)) or len(prefixes) > len(set(prefixes))


def _refuse_renamed_header(spark: Any, source: Source, reader: Any, files: list[str], null_value: str) -> None:
    """The header line as Spark read it (a second, header-less read of one row, with the same
    options), refused when Spark had to rename a name of it."""
    first = reader.option("header", False).option("inferSchema", False).option("mode", "PERMISSIVE").csv(files).first()
    if first is None:
        return
    case_sensitive = str(spark.conf.get("spark.sql.caseSensitive", "false")).lower() == "true"
    where = f"source '{source.source_id}': file '{files[0]}'" if len(files) == 1 else \
        f"source '{source.source_id}': files {files}"
    # a value equal to the nullValue is null in the header too, which Spark names like a blank one
    refuse_renamed_header(where, list(first), ignore_case=not case_sensitive, null_value=null_value or None)


def _read_sql(spark: Any, source: Source, root: Path | None, extra: dict, params: Mapping[str, Any] | None,
              since: tuple[str, Any] | None) -> Any:
    config = substitute_env(source.connection_config, f"source '{source.source_id}' connection_config")
    jdbc_url = config.get("jdbc_url")
    if not jdbc_url:  # no JDBC driver needed: read through SQLAlchemy, then hand the rows to Spark
        return spark.createDataFrame(read_with_pandas(source.model_copy(update={"source_options": {}}), root,
                                                      params, since))
    if placeholders_in(source.source_path_or_query):
        raise SourceReadError(f"source '{source.source_id}': Spark's JDBC reader cannot bind :partition_key and the "
                              f"like; leave jdbc_url out to read the query through SQLAlchemy")
    # an incremental source's mark is applied as a filter, which Spark pushes down to the database
    text = source.source_path_or_query.strip()
    reader = spark.read.format("jdbc").option("url", jdbc_url).options(**extra)
    for key in ("user", "password", "driver"):
        if config.get(key):
            reader = reader.option(key, config[key])
    is_query = text.lower().startswith(("select", "with"))
    return reader.option("query" if is_query else "dbtable", text).load()


def _apply_schema(frame: Any, source: Source) -> Any:
    for column, type_name in (source.source_options.get("schema") or {}).items():
        if column not in frame.columns:
            raise SourceReadError(f"source '{source.source_id}': schema names column '{column}', which the data "
                                  f"does not have (columns: {frame.columns})")
        frame = frame.withColumn(column, F.col(column).cast(SPARK_TYPES[str(type_name).lower()]))
    return frame
