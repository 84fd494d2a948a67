"""Log sinks with the seed's constructors: ``write(records)`` receives a list of record dicts.

Their schemas derive from ``records.RECORD_COLUMNS``. ``build_sink`` turns the manifest's
``log_sink`` config into sinks; ``deliver`` writes records to sinks and reports, never raises.
"""

from __future__ import annotations

import csv
import fcntl
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odibi_dagster.logging.records import RECORD_COLUMNS, RECORD_FIELDS, added_since

if TYPE_CHECKING:
    import pyarrow as pa
    import sqlalchemy as sa

    from odibi_dagster.config.model import LogSinkConfig

LOG_FOLDER = "_logs"  # under the storage root: where relative file and Delta sink paths live


class BaseLogSink(ABC):
    @abstractmethod
    def write(self, records: list[dict[str, Any]]) -> None:
        """Store the records; raise on failure (the caller reports it and keeps the run going)."""

    def describe(self) -> str:
        """The sink as a message names it (never with a password)."""
        return type(self).__name__

    def redact(self, text: str) -> str:
        """``text`` without this sink's secrets."""
        return text


def _text(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


class FileLogSink(BaseLogSink):
    """CSV with a header; ``append=True`` adds to what earlier runs wrote, never overwriting it.

    Writers in several processes (steps of a multiprocess run, concurrent runs) take turns
    through an advisory lock on the file, so lines never interleave and the header is written once.
    """

    def __init__(self, file_path: str | os.PathLike, append: bool = True):
        self.file_path = Path(file_path)
        self.append = append

    def describe(self) -> str:
        return f"file sink {self.file_path}"

    def write(self, records: list[dict[str, Any]]) -> None:
        self.file_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.file_path, "a+" if self.append else "w", newline="", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            header = handle.readline().rstrip("\r\n")
            if header and added_since(header.split(",")):
                _add_new_columns(handle)
                header = ",".join(RECORD_FIELDS)
            if header and header != ",".join(RECORD_FIELDS):
                raise ValueError(f"{self.file_path} is not a transformation log (its header: '{header[:200]}')")
            handle.seek(0, os.SEEK_END)
            writer = csv.DictWriter(handle, fieldnames=RECORD_FIELDS, extrasaction="ignore")
            if handle.tell() == 0:
                writer.writeheader()
            writer.writerows({key: _text(value) for key, value in record.items()} for record in records)
            handle.flush()


def _add_new_columns(handle: Any) -> None:
    """A log file of an earlier release: add the newer columns, empty, to every row (the caller
    holds the file's lock)."""
    handle.seek(0)
    rows = list(csv.reader(handle))
    handle.seek(0)
    handle.truncate()
    writer = csv.writer(handle)
    writer.writerow(RECORD_FIELDS)
    writer.writerows(row + [""] * (len(RECORD_FIELDS) - len(row)) for row in rows[1:])
    handle.flush()


class SparkDeltaLogSink(BaseLogSink):
    """A Delta table named like the seed's (``schema.TransformationRunLog``), appended through Spark.

    With native Delta the table is a catalog table; otherwise it is a Delta folder under
    ``<storage_root>/_logs/<table_name>`` written through the ``deltalake`` package.
    """

    def __init__(self, spark: Any, table_name: str = "config_driven.TransformationRunLog",
                 root: str | os.PathLike | None = None):
        self.spark = spark
        self.table_name = table_name
        self.root = Path(root) if root is not None else None

    @property
    def path(self) -> Path:
        from odibi_dagster.config.settings import storage_root

        return (self.root or storage_root()) / LOG_FOLDER / self.table_name

    def describe(self) -> str:
        return f"spark_delta sink {self.table_name}"

    def write(self, records: list[dict[str, Any]]) -> None:
        from odibi_dagster.engines.spark_session import has_native_delta

        if self.spark is not None and has_native_delta(self.spark):
            schema = self.table_name.rsplit(".", 1)[0] if "." in self.table_name else None
            if schema:
                self.spark.sql(f"CREATE SCHEMA IF NOT EXISTS `{schema}`").collect()
            self.spark.createDataFrame(records_table(records)).write.format("delta").mode("append").saveAsTable(
                self.table_name)
            return
        DeltaLogSink(self.path).write(records)


class DeltaLogSink(BaseLogSink):
    """A Delta table at ``path``, appended through the ``deltalake`` package (no Spark needed)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def describe(self) -> str:
        return f"delta sink {self.path}"

    def write(self, records: list[dict[str, Any]]) -> None:
        from deltalake import DeltaTable, write_deltalake
        from deltalake.exceptions import SchemaMismatchError

        schema_mode = None
        if DeltaTable.is_deltatable(str(self.path)):
            columns = [field.name for field in DeltaTable(str(self.path)).schema().fields]
            if added_since(columns):  # written by an earlier release: the newer columns are added
                schema_mode = "merge"
            elif columns != list(RECORD_FIELDS):
                raise ValueError(f"the Delta table at {self.path} is not a transformation log (another schema: "
                                 f"{columns})")
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            write_deltalake(str(self.path), records_table(records), mode="append", schema_mode=schema_mode)
        except SchemaMismatchError as exc:
            raise ValueError(f"the Delta table at {self.path} is not a transformation log (another schema): "
                             f"{exc}") from None


class SQLLogSink(BaseLogSink):
    """A table in any SQLAlchemy database (created when missing); one bound INSERT per batch."""

    def __init__(self, url: str, table: str = "TransformationRunLog", secrets: Sequence[str] = (),
                 shown_as: str | None = None):
        """``secrets``: values read from the environment into ``url`` (never shown); ``shown_as``: how
        messages name the URL (the config's text with its ``${NAME}`` placeholders)."""
        self.url = url
        schema, _, name = table.rpartition(".")
        self.table = records_sql_table(name, schema or None)
        self.secrets = tuple(secrets)
        self.shown_as = shown_as or url

    def describe(self) -> str:
        from odibi_dagster.config.connections import shown_url

        return self.redact(f"sql sink {shown_url(self.shown_as)} table {self.table.fullname}")

    def redact(self, text: str) -> str:
        from odibi_dagster.config.connections import redact

        return redact(text, *self.secrets)

    def write(self, records: list[dict[str, Any]]) -> None:
        import sqlalchemy as sa

        from odibi_dagster.config.connections import sql_engine

        with sql_engine(self.url, where=f"SQL log sink table {self.table.fullname}", error=ConnectionError,
                        secrets=self.secrets, shown_as=self.shown_as, **_connect_timeout(self.url)) as engine:
            self._match_existing_table(engine)
            try:
                self.table.metadata.create_all(engine)
            except sa.exc.SQLAlchemyError:
                # another process created it between the check and the CREATE; a real failure repeats
                self.table.metadata.create_all(engine)
            with engine.begin() as conn:
                conn.execute(sa.insert(self.table), [{f: r.get(f) for f in RECORD_FIELDS} for r in records])


    def _match_existing_table(self, engine: sa.Engine) -> None:
        """Write to an existing table whose name differs only in letter case (PostgreSQL folds an
        unquoted ``CREATE TABLE TransformationRunLog`` to lower case), and refuse a table that is not
        a transformation log, naming its columns."""
        import sqlalchemy as sa

        inspector = sa.inspect(engine)
        existing = {name.lower(): name for name in inspector.get_table_names(schema=self.table.schema)}
        name = existing.get(self.table.name.lower())
        if name is None:
            return
        columns = [column["name"] for column in inspector.get_columns(name, schema=self.table.schema)]
        if name != self.table.name:
            self.table = records_sql_table(name, self.table.schema)
        if added := added_since(columns):
            from odibi_dagster.config.connections import add_missing_columns

            add_missing_columns(engine, self.table, added)  # a log table of an earlier release
        elif {column.lower() for column in columns} != set(RECORD_FIELDS):
            raise ValueError(f"table {name} is not a transformation log (its columns: {columns})")


class MultiLogSink(BaseLogSink):
    """Several sinks at once; each gets every record, and one failing does not stop the others."""

    def __init__(self, *sinks: BaseLogSink):
        self.sinks = sinks

    def describe(self) -> str:
        return ", ".join(sink.describe() for sink in self.sinks)

    def write(self, records: list[dict[str, Any]]) -> None:
        errors = []
        for sink in self.sinks:
            try:
                sink.write(records)
            except Exception as exc:  # noqa: BLE001 - reported together below
                errors.append(sink.redact(f"{sink.describe()}: {exc}"))
        if errors:
            raise RuntimeError("; ".join(errors))

    def redact(self, text: str) -> str:
        for sink in self.sinks:
            text = sink.redact(text)
        return text


def deliver(sinks: Iterable[BaseLogSink], records: list[dict[str, Any]],
            warn: Callable[[str], None]) -> list[BaseLogSink]:
    """Write ``records`` to every sink; a failing sink is reported through ``warn`` (naming the sink
    and the records it missed) and returned, never raised."""
    failed = []
    for sink in sinks:
        try:
            sink.write(records)
        except Exception as exc:  # noqa: BLE001 - a sink never fails a run
            missed = ", ".join(f"{r.get('transformation_id')} (attempt {r.get('attempt')}, {r.get('status')})"
                               for r in records)
            try:
                name = sink.describe()
            except Exception:  # noqa: BLE001 - naming a sink must not fail either
                name = type(sink).__name__
            warn(sink.redact(f"log sink {name} failed; {len(records)} record(s) not written: {missed}: "
                             f"{type(exc).__name__}: {exc}"))
            failed.append(sink)
    return failed


def records_schema() -> pa.Schema:
    """The log's Arrow schema (timestamps in UTC microseconds), from ``RECORD_COLUMNS``."""
    import pyarrow as pa

    types = {"text": pa.string(), "id": pa.string(), "timestamp": pa.timestamp("us", "UTC"),
             "float": pa.float64(), "int": pa.int64()}
    return pa.schema([(name, types[kind]) for name, kind in RECORD_COLUMNS.items()])


def records_table(records: list[dict[str, Any]]) -> pa.Table:
    """Records as an Arrow table with the log's fixed column types."""
    import pyarrow as pa

    return pa.Table.from_pylist([{f: r.get(f) for f in RECORD_FIELDS} for r in records], schema=records_schema())


def records_sql_table(name: str, schema: str | None = None) -> sa.Table:
    """The log's SQL table (``schema.name`` when a schema is given), from ``RECORD_COLUMNS``."""
    import sqlalchemy as sa

    types = {"text": sa.Text, "id": lambda: sa.String(200), "timestamp": lambda: sa.DateTime(timezone=True),
             "float": sa.Float, "int": sa.BigInteger}
    return sa.Table(name, sa.MetaData(), *(
        sa.Column(column, types[kind](), nullable=column != "transformation_id")
        for column, kind in RECORD_COLUMNS.items()), schema=schema)


SQL_CONNECT_TIMEOUT_SECONDS = 10


def _connect_timeout(url: str) -> dict[str, Any]:
    """A connect timeout, so that a database that never answers cannot hold a step for minutes."""
    scheme = url.split(":", 1)[0].lower()
    if scheme.startswith(("postgresql", "mysql", "mariadb")):
        return {"connect_args": {"connect_timeout": SQL_CONNECT_TIMEOUT_SECONDS}}
    if scheme.startswith("sqlite"):
        return {"connect_args": {"timeout": SQL_CONNECT_TIMEOUT_SECONDS}}
    return {}


def build_sink(config: LogSinkConfig | Mapping[str, Any] | list | None, root: str | os.PathLike | None = None,
               spark: Any = None) -> BaseLogSink | None:
    """A sink from the manifest's ``log_sink`` (one config or a list; a list gives a ``MultiLogSink``).

    Relative file and Delta paths are under ``<root>/_logs`` (``root``: the storage root) and must
    stay inside it; ``${NAME}`` in a SQL url reads environment variable NAME when the sink is built.
    """
    from odibi_dagster.config.model import LogSinkConfig

    if not config:
        return None
    if isinstance(config, list):
        return MultiLogSink(*(sink for sink in (build_sink(item, root, spark) for item in config) if sink))
    if not isinstance(config, LogSinkConfig):
        config = LogSinkConfig.model_validate(dict(config))
    return _sink(config, Path(root) if root is not None else None, spark)


def _sink(config: LogSinkConfig, root: Path | None, spark: Any) -> BaseLogSink:
    from odibi_dagster.config.connections import env_secrets, substitute_env
    from odibi_dagster.config.settings import storage_root

    logs = (root or storage_root()) / LOG_FOLDER
    if config.log_path is not None:
        path = logs / config.log_path
        if not path.resolve().is_relative_to(logs.resolve()):
            raise ValueError(f"log_sink path '{config.path}' leaves the log folder {logs}")
        return FileLogSink(path) if config.type == "file" else DeltaLogSink(path)
    if config.type == "sql":
        return SQLLogSink(substitute_env(str(config.url), "log_sink.url"), config.table or "TransformationRunLog",
                          secrets=env_secrets(config.url), shown_as=config.url)
    return SparkDeltaLogSink(spark, config.table or "config_driven.TransformationRunLog", root)
