"""The validated project model: manifest, bronze sources and transformations.

Field names follow the original odibi_de_v2 tables (``TransformationRegistry``,
``IngestionSourceConfig``, ``manifest.json``) so that a user of the original recognises them.
Each model checks one row on its own; rules that span rows live in ``validation.py``.
"""

from __future__ import annotations

import codecs
import json
import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from odibi_dagster.config.automation import AutomationRule, check_cron, check_rules
from odibi_dagster.config.checks import CheckConfig, QualityGate, check_names
from odibi_dagster.config.errors import did_you_mean
from odibi_dagster.config.partitions import (
    IncrementalConfig,
    PartitionsConfig,
    check_time_zone,
    column_name,
    placeholders_in,
    unknown_placeholders,
)

ENGINES = ("pandas", "spark")
WRITE_MODES = ("overwrite", "append", "merge")
FILE_FORMATS = ("csv", "json", "parquet", "delta", "sql")

# Table names become asset key parts and storage folders: keep them to identifiers joined by dots,
# so a table name can never climb out of the storage root.
TABLE_NAME = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")
LAYER_NAME = re.compile(r"^[A-Za-z0-9_]+$")
STORAGE_NAME = re.compile(r"^(?!\.{1,2}$)[A-Za-z0-9_.-]+$")  # an environment or project slug as a folder name
MAX_TABLE_NAME = 200  # a table is a folder: file systems allow 255 bytes per name

# Audit / bookkeeping columns of the original tables: accepted and ignored.
LEGACY_COLUMNS = frozenset(
    {"created_at", "updated_at", "created_by", "updated_by", "transformation_group_id", "secret_config_id"}
)

# source_options both engines honour; anything else goes under `pandas:` or `spark:`.
PORTABLE_SOURCE_OPTIONS = ("header", "delimiter", "encoding", "null_values", "schema", "multiline", "pandas", "spark")
SCHEMA_TYPES = ("string", "str", "int", "integer", "long", "bigint", "double", "float", "boolean", "bool", "date",
                "timestamp")

Engine = Literal["pandas", "spark"]
WriteMode = Literal["overwrite", "append", "merge"]
OutputMode = Literal["overwrite", "append", "merge", "scd2"]
SCD2_COLUMNS = ("valid_from", "valid_to", "is_current")  # what an scd2 table adds to the data's columns


def slugify(name: str) -> str:
    """``"Energy Efficiency"`` -> ``"energy_efficiency"`` (the original's project slug, made key-safe)."""
    slug = re.sub(r"[^0-9a-zA-Z]+", "_", name.strip().lower()).strip("_")
    return slug or "project"


def identifier(text: str) -> str:
    """``text`` as an ASCII Python identifier (Dagster's op, input and output names)."""
    name = re.sub(r"[^0-9A-Za-z_]", "_", text)
    if not name or name[0].isdigit() or keyword.iskeyword(name):
        name = f"t_{name}"
    return name


def op_name(project_slug: str, row_id: str, kind: str = "") -> str:
    """The step name in run logs: the project slug and the row's id (``kind``: ``source__`` for sources)."""
    return identifier(f"{project_slug}__{kind}{row_id}")


class DuplicateKeyError(ValueError):
    def __init__(self, key: str):
        super().__init__(f"key '{key}' appears twice in one JSON object: the second would silently replace the first")
        self.key = key


def json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads``' ``object_pairs_hook``: a key given twice is an error, not a silent last-wins."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKeyError(key)
        result[key] = value
    return result


def _json_text(value: Any) -> Any:
    """SQL tables (and hand-written YAML) may hold JSON as text; parse it with a clear error."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return json.loads(text, object_pairs_hook=json_object)
        except json.JSONDecodeError as exc:
            raise ValueError(f"invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    return value


def _json_text_too(schema: dict[str, Any]) -> None:
    """JSON Schema: SQL tables hold this field as JSON text, and a YAML file may too."""
    kept = {key: schema.pop(key) for key in ("title", "description", "default", "examples") if key in schema}
    options = dict(schema)
    schema.clear()
    schema.update(kept, anyOf=[options, {"type": "string", "description": "the same as JSON text"}])


def _short_columns(schema: dict[str, Any]) -> None:
    """JSON Schema: ``columns: {name: "a description"}`` is short for ``{name: {description: ...}}``."""
    schema["additionalProperties"] = {"anyOf": [schema["additionalProperties"], {"type": "string"}]}
    _json_text_too(schema)


def _check_table_name(table: str) -> str:
    if not TABLE_NAME.match(table):
        raise ValueError(
            f"table name '{table}' must be identifiers (letters, digits, _) joined by dots, e.g. 'silver.boilers'"
        )
    if len(table) > MAX_TABLE_NAME:
        raise ValueError(f"table name '{table[:40]}...' has {len(table)} characters; at most {MAX_TABLE_NAME} (it "
                         f"names a folder)")
    return table


class _Row(BaseModel):
    """Base of every config row: unknown keys are errors, and the row remembers where it came from."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=False)

    _where: str = PrivateAttr(default="")
    _line: int | None = PrivateAttr(default=None)

    def located(self, where: str, line: int | None) -> _Row:
        self._where, self._line = where, line
        return self

    @property
    def where(self) -> str:
        return self._where

    @property
    def line(self) -> int | None:
        return self._line


class LayerConfig(_Row):
    """Settings of one layer, under ``layers.<layer>``."""

    name: str | None = Field(default=None, description="Not used: a layer is named by its key. Refused at load.")
    description: str = Field(default="", description="What the layer holds; shown on its asset group.")
    depends_on: list[str] = Field(
        default_factory=list, examples=[["Silver_1", "Bronze"]],
        description="The layers this layer reads from. When given, an input from any other layer is an error at "
                    "load; empty: any earlier layer.")
    max_workers: int | None = Field(
        default=None, ge=1, examples=[2],
        description="At most this many of the layer's steps run at once (a Dagster concurrency limit; with "
                    "`executor: multiprocess`).")
    cache_tables: list[str] = Field(
        default_factory=list, examples=[["silver.boiler_daily"]],
        description="Tables cached after this layer, as `cache_plan: {<layer>: [...]}` (Spark only; pandas logs "
                    "that caching is skipped).")

    @field_validator("name")
    @classmethod
    def _no_name(cls, value: str | None) -> str | None:
        if value is not None:
            raise ValueError("a layer is named by its key under 'layers:' (and in layer_order); 'name' is not "
                             "used: remove it, or put a longer title in 'description'")
        return value


class RetryConfig(_Row):
    """How a failed step is retried (every asset's Dagster ``RetryPolicy``)."""

    max_retries: int = Field(default=3, ge=0, description="Retries after the first attempt; 0 turns retries off.")
    delay: float = Field(default=2.0, ge=0, description="Seconds before the first retry.")
    backoff: Literal["exponential", "linear", "none"] = Field(
        default="exponential", description="How the delay grows from one retry to the next.")


class ScheduleConfig(_Row):
    """A schedule that materializes the project, some layers or an asset selection."""

    name: str = Field(description="The schedule's name in Dagster.", examples=["energy_daily"])
    cron: str = Field(description="When it runs, as a cron expression.", examples=["0 6 * * *"])
    layers: list[str] | None = Field(default=None, description="Only these layers' assets (default: every asset).")
    selection: str | None = Field(
        default=None, examples=["group:Gold_1"],
        description="A Dagster asset selection string instead of `layers`.")
    timezone: str = Field(default="UTC", description="The time zone the cron expression is read in.")
    default_status: Literal["running", "stopped"] = Field(
        default="stopped", description="Whether the schedule is on when the code location first loads.")
    description: str = Field(default="", description="Shown on the schedule's page.")

    _cron = field_validator("cron")(lambda cls, value: check_cron(value))

    _timezone = field_validator("timezone")(lambda cls, value: check_time_zone(value))

    @model_validator(mode="after")
    def _one_target(self) -> ScheduleConfig:
        if self.layers and self.selection:
            raise ValueError("give either 'layers' or 'selection', not both")
        return self


class LogSinkConfig(_Row):
    """One log sink that receives every transformation log record of every run of the project."""

    type: Literal["file", "delta", "sql", "spark_delta"] = Field(
        description="`file`: a CSV file; `delta`: a Delta table (deltalake); `sql`: a table in any SQLAlchemy "
                    "database; `spark_delta`: a Delta catalog table through Spark (a Delta folder without it).")
    path: str | None = Field(
        default=None, examples=["runs.csv"],
        description="`file` and `delta`: a path relative to `<storage_root>/_logs` (default "
                    "`transformation_log.csv` / `transformation_log`); it must stay inside that folder.")
    url: str | None = Field(
        default=None, examples=["postgresql+psycopg2://etl:${LOG_DB_PASSWORD}@db/ops"],
        description="`sql`: a SQLAlchemy URL; `${NAME}` reads environment variable NAME (which must be set when "
                    "the project loads).")
    table: str | None = Field(
        default=None, examples=["TransformationRunLog"],
        description="`sql`: the table (created when missing; default `TransformationRunLog`); `spark_delta`: the "
                    "catalog table (default `config_driven.TransformationRunLog`).")

    @field_validator("type", mode="before")
    @classmethod
    def _lower_type(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _fields_of_type(self) -> LogSinkConfig:
        allowed = {"file": {"path"}, "delta": {"path"}, "sql": {"url", "table"}, "spark_delta": {"table"}}[self.type]
        given = {name for name in ("path", "url", "table") if getattr(self, name) is not None}
        if given - allowed:
            raise ValueError(f"a '{self.type}' log sink takes {sorted(allowed)}, not {sorted(given - allowed)}")
        if self.type == "sql" and not self.url:
            raise ValueError("a 'sql' log sink needs 'url' (a SQLAlchemy URL; ${NAME} reads a secret from the "
                             "environment)")
        if self.path is not None:
            parts = Path(self.path).parts
            if Path(self.path).is_absolute() or ".." in parts or not parts:
                raise ValueError(f"log sink path '{self.path}' must be a relative path inside <storage_root>/_logs")
        if self.table is not None and not TABLE_NAME.match(self.table):
            raise ValueError(f"log sink table '{self.table}' must be identifiers joined by dots")
        return self

    @property
    def log_path(self) -> str | None:
        """``file`` and ``delta``: the path under ``<storage_root>/_logs`` (the default when none is given)."""
        default = {"file": "transformation_log.csv", "delta": "transformation_log"}.get(self.type)
        return (self.path or default) if default else None


class Manifest(_Row):
    """The project: its layers, environments, engine, retries, schedules and sinks (``manifest.yaml``)."""

    project_name: str = Field(
        description="The project's name; its slug (lower case, `_` for other characters) prefixes every asset "
                    "key and storage folder.", examples=["Energy Efficiency"])
    project_type: str = Field(default="custom", description="A label (`manufacturing`, `analytics`, ...).")
    description: str = Field(default="", description="What the project is for.")
    version: str = Field(default="1.0.0", description="The config's version, for people.")
    layer_order: list[str] = Field(
        default_factory=lambda: ["Bronze", "Silver_1", "Gold_1"], min_length=1,
        examples=[["Bronze", "Silver_1", "Gold_1"]],
        description="The layers in the order they run; sources belong to the first. Letters, digits and `_`.")
    layers: dict[str, LayerConfig] = Field(default_factory=dict, description="Settings per layer (see below).")
    environments: list[str] = Field(
        default_factory=lambda: ["qat", "prod"], min_length=1,
        description="The environments rows may name; a row of another environment produces no asset.")
    default_env: str = Field(default="qat", description="The environment when `ODIBI_ENV` names none.")
    default_engine: Engine | None = Field(
        default=None, description="`pandas` or `spark` when a run names none (code location: after `ODIBI_ENGINE`, "
                                  "else pandas; `run_project`: else spark).")
    entity_labels: dict[str, str] = Field(
        default_factory=lambda: {"entity_1": "plant", "entity_2": "asset", "entity_3": "equipment"},
        description="What a row's `entity_1..3` mean: they become tags and log record columns under these names.")
    transformation_modules: list[str] = Field(
        default_factory=list, examples=[["energy_functions"]],
        description="Modules imported at load so that their `@odibi_function`s register (beside the manifest, "
                    "or importable).")
    cache_plan: dict[str, list[str]] = Field(
        default_factory=dict, examples=[{"Silver_2": ["silver.boiler_daily"]}],
        description="Layer -> tables read once per run and cached in the shared Spark session after that layer.")
    schedules: list[ScheduleConfig] = Field(default_factory=list, description="Schedules (see below).")
    retry: RetryConfig = Field(default_factory=RetryConfig, description="Retries of failed steps (see below).")
    owner: str | None = Field(
        default=None, description="The assets' owner: an email, or a team name (shown as `team:<name>`).")
    tags: list[str] | dict[str, str] = Field(
        default_factory=list, description="Tags on every asset: a list of names or a mapping name -> value.")
    log_sink: LogSinkConfig | list[LogSinkConfig] | None = Field(
        default=None, description="Where every run writes its transformation log records besides the asset "
                                  "metadata: one sink or a list (see below).")
    hooks_module: str | None = Field(
        default=None, examples=["energy_hooks"],
        description="A module beside the manifest with `register(hooks)`; its hooks are called for runs from the "
                    "UI, schedules and the CLI by the code location's sensors (on by default when set).")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Free-form data, kept and not interpreted.")
    partitions: PartitionsConfig | None = Field(
        json_schema_extra=_json_text_too, default=None,
        examples=[{"type": "daily", "start": "2024-01-01", "timezone": "UTC"}],
        description="The project's partitioning: every source and output with a `partition_column` is "
                    "partitioned by it, runs per partition and is backfilled by ranges (see `partitions` below).")
    automation: dict[str, AutomationRule] = Field(
        default_factory=dict, json_schema_extra=_json_text_too,
        examples=[{"default": "eager", "Gold_1": {"on_cron": "0 6 * * *"}}],
        description="Declarative automation: a layer (or `default`, for every layer not named) -> `eager` "
                    "(materialize when an input updates; waits for upstream blocking checks), `on_missing` (once, "
                    "when never materialized) or `on_cron: '<cron>'` (once per tick after the inputs updated). "
                    "The code location's automation sensor is on when this is set.")
    executor: Literal["in_process", "multiprocess"] = Field(
        default="in_process",
        description="How Dagster runs the steps (not in the original): one by one in one process (fast for small "
                    "steps), or a process per step in parallel with `max_workers` enforced.")

    @field_validator("partitions", mode="before")
    @classmethod
    def _json_partitions(cls, value: Any) -> Any:
        return _json_text(value)

    @field_validator("automation", mode="before")
    @classmethod
    def _automation_rules(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip().startswith("{"):  # a rule without its layer
            return check_rules(value.strip() or None)
        return check_rules(_json_text(value))

    @field_validator("default_engine", mode="before")
    @classmethod
    def _lower_engine(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("environments")
    @classmethod
    def _environment_names(cls, value: list[str]) -> list[str]:
        for env in value:
            if not STORAGE_NAME.match(env):
                raise ValueError(f"environment '{env}' names a storage folder: use letters, digits, _ . and - only")
        return value

    @field_validator("layer_order")
    @classmethod
    def _layer_names(cls, value: list[str]) -> list[str]:
        for layer in value:
            if not LAYER_NAME.match(layer):
                raise ValueError(f"layer name '{layer}' may hold only letters, digits and _")
        if len(set(value)) != len(value):
            raise ValueError("layer_order lists a layer twice")
        return value

    @property
    def slug(self) -> str:
        return slugify(self.project_name)

    @property
    def log_sinks(self) -> list[LogSinkConfig]:
        """``log_sink`` as a list (it may name one sink or several)."""
        if self.log_sink is None:
            return []
        return self.log_sink if isinstance(self.log_sink, list) else [self.log_sink]

    @property
    def bronze_layer(self) -> str:
        """Bronze sources belong to the first layer of ``layer_order``."""
        return self.layer_order[0]

    def cache_layer(self, table: str) -> str | None:
        """The layer after which ``table`` is cached: ``cache_plan`` or that layer's ``cache_tables``."""
        for layer, tables in self.cache_plan.items():
            if table in tables:
                return layer
        return next((name for name, layer in self.layers.items() if table in layer.cache_tables), None)


class InputSpec(_Row):
    """An input that is not a plain table name: ``{table: ...}`` or ``{type: query, sql: ...}``."""

    table: str | None = Field(default=None, description="`type: table`: the table to read.")
    type: Literal["table", "query"] = Field(default="table", description="A table, or a SQL query.")
    sql: str | None = Field(
        default=None, examples=["SELECT * FROM weather WHERE temp_c > 0"],
        description="`type: query`: the query (Spark SQL on Spark; on `connection` with pandas).")
    name: str | None = Field(default=None, description="The key the function sees the query's rows under.")
    connection: str | None = Field(
        default=None, description="The SQLAlchemy URL a query runs on (`${NAME}` reads the environment); needed "
                                  "on pandas.")

    @model_validator(mode="after")
    def _shape(self) -> InputSpec:
        if self.type == "query":
            if not self.sql:
                raise ValueError("a query input needs 'sql'")
        elif not self.table:
            raise ValueError("a table input needs 'table'")
        else:
            _check_table_name(self.table)
        return self

    @property
    def key(self) -> str:
        """The name under which the function sees this input in ``inputs``."""
        return self.table if self.type == "table" else (self.name or "query")


class ColumnSpec(_Row):
    """A column documented in config: shown in the asset's column schema in the UI."""

    type: str | None = Field(default=None, description="The column's type, as shown before the first run.")
    description: str = Field(default="", description="What the column holds.")


def _column_specs(value: Any) -> Any:
    """``columns: {name: "a description"}`` is short for ``{name: {description: ...}}``."""
    value = _json_text(value) or {}
    if isinstance(value, dict):
        return {name: {"description": spec} if isinstance(spec, str) else spec for name, spec in value.items()}
    return value


class _Checked(_Row):
    """The data-quality fields of a source and of an output (see ``checks.py``)."""

    checks: list[CheckConfig] = Field(
        json_schema_extra=_json_text_too, default_factory=list,
        examples=[[{"type": "not_null", "columns": ["order_id"], "on_fail": "quarantine"}]],
        description="Data-quality checks, each a Dagster asset check on the asset, evaluated on the rows about to "
                    "be written (see `checks[]` below).")
    quality_gate: QualityGate | None = Field(
        json_schema_extra=_json_text_too, default=None, examples=[{"min_pass_rate": 0.95}],
        description="`min_pass_rate`: the share of rows that must pass every row-level check, or nothing is "
                    "written.")
    quarantine_table: str | None = Field(
        default=None, description="Where rows failing a `quarantine` check go (appended); default "
                                  "`<table>_quarantine`.")
    partition_column: str | None = Field(
        default=None, examples=["reading_date"],
        description="Partitioned by the manifest's `partitions` on this column (a date or timestamp for time "
                    "windows, text for static values): each run writes one partition (or a range), replacing exactly "
                    "its rows.")

    @field_validator("checks", mode="before")
    @classmethod
    def _json_checks(cls, value: Any) -> Any:
        value = _json_text(value)
        return [] if value is None else value

    @field_validator("quality_gate", mode="before")
    @classmethod
    def _json_gate(cls, value: Any) -> Any:
        return _json_text(value)

    @field_validator("checks")
    @classmethod
    def _unique_check_names(cls, value: list[CheckConfig]) -> list[CheckConfig]:
        return check_names(value)

    @field_validator("quarantine_table")
    @classmethod
    def _quarantine_name(cls, value: str | None) -> str | None:
        return None if value is None else _check_table_name(value)

    @field_validator("partition_column")
    @classmethod
    def _partition_column(cls, value: str | None) -> str | None:
        return None if value is None else column_name(value, "partition_column")

    @model_validator(mode="after")
    def _quarantine_needs_a_check(self) -> _Checked:
        if self.quarantine_table and not self._quarantines_rows:
            raise ValueError(f"quarantine_table '{self.quarantine_table}' is set, but no check has on_fail: "
                             f"quarantine")
        return self

    @property
    def _quarantines_rows(self) -> bool:
        return any(check.on_fail == "quarantine" for check in self.checks)

    @property
    def has_checks(self) -> bool:
        return bool(self.checks or self.quality_gate)

    @property
    def quarantine(self) -> str | None:
        """The quarantine table (``<table>_quarantine`` unless named): set only when a check quarantines rows."""
        if not self._quarantines_rows:
            return None
        return self.quarantine_table or f"{self.table}_quarantine"  # type: ignore[attr-defined]


class OutputSpec(_Checked):
    """One table a transformation writes: one asset."""

    table: str = Field(
        description="The table's name: identifiers joined by dots; the asset key is "
                    "`[<project_slug>, *table.split('.')]`.", examples=["silver.boiler_daily"])
    mode: OutputMode = Field(
        default="overwrite",
        description="`overwrite` replaces the table; `append` adds rows (same columns unless `schema_evolution`); "
                    "`merge` upserts on `merge_keys` (Delta MERGE); `scd2` keeps every version of each key, with "
                    "`valid_from`, `valid_to` and `is_current` (slowly changing dimension, type 2).")
    merge_keys: list[str] = Field(default_factory=list, description="`merge` and `scd2`: the columns that identify "
                                                                    "a row (the business key).")
    track_columns: list[str] = Field(
        default_factory=list, examples=[["segment", "manager"]],
        description="`scd2`: the columns whose change makes a new version; default: every column but the keys.")
    effective_column: str | None = Field(
        default=None, examples=["changed_at"],
        description="`scd2`: a column of the data giving each change's time (the new version's `valid_from`); "
                    "default: the run's start time, UTC.")
    scd2_deletes: Literal["ignore", "close"] = Field(
        default="ignore", description="`scd2`: `close` closes the current version of keys absent from the data at "
                                      "the run's time; `ignore` keeps them current.")
    partition_by: list[str] = Field(default_factory=list, description="Columns the stored Delta table is "
                                                                      "partitioned by.")
    format: Literal["parquet", "delta"] | None = Field(
        default=None, description="The storage format; default: parquet on pandas, Delta on Spark, for `merge` "
                                  "and for `partition_by`.")
    schema_evolution: bool = Field(default=False, description="`append` and `merge`: new columns are added to the "
                                                              "table instead of refused.")
    null_keys: Literal["error", "skip"] = Field(
        default="error", description="`merge`: rows whose merge key is null never match, so each merge would insert "
                                     "them again: `error` refuses the write, `skip` leaves them out (counted in the "
                                     "metadata as `odibi/rows_skipped_null_keys`).")
    description: str = Field(default="", description="What the table holds; the asset's description.")
    columns: dict[str, ColumnSpec] = Field(json_schema_extra=_short_columns, 
        default_factory=dict, examples=[{"plant": "Plant name", "efficiency": {"type": "double",
                                                                               "description": "Output / input"}}],
        description="Documented columns: `{name: description}` or `{name: {type, description}}`, shown in the UI.")

    _columns = field_validator("columns", mode="before")(_column_specs)

    @field_validator("table")
    @classmethod
    def _table_name(cls, value: str) -> str:
        return _check_table_name(value)

    @field_validator("mode", mode="before")
    @classmethod
    def _lower_mode(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _merge_needs_keys(self) -> OutputSpec:
        if self.mode == "merge" and not self.merge_keys:
            raise ValueError(f"output '{self.table}' has mode 'merge' but no 'merge_keys'")
        scd2_fields = [name for name in ("track_columns", "effective_column") if getattr(self, name)] + (
            ["scd2_deletes"] if self.scd2_deletes != "ignore" else [])
        if self.mode != "scd2" and scd2_fields:
            raise ValueError(f"output '{self.table}' sets {scd2_fields}, which only mode 'scd2' uses")
        if self.mode == "scd2":
            if not self.merge_keys:
                raise ValueError(f"output '{self.table}' has mode 'scd2' but no 'merge_keys' (the business key)")
            named = [*self.merge_keys, *self.track_columns, *([self.effective_column] if self.effective_column else [])]
            if reserved := sorted(set(named) & set(SCD2_COLUMNS)):
                raise ValueError(f"output '{self.table}' (scd2) names {reserved}, which the table adds itself "
                                 f"({', '.join(SCD2_COLUMNS)}): rename the column in the data")
            for field in ("merge_keys", "track_columns"):
                names = getattr(self, field)
                if repeated := sorted({name for name in names if names.count(name) > 1}):
                    raise ValueError(f"output '{self.table}' (scd2): {field} names {repeated} more than once")
            ignored = [name for name, used in (("partition_by", self.partition_by), ("schema_evolution",
                       self.schema_evolution), ("null_keys: skip", self.null_keys == "skip")) if used]
            if ignored:
                raise ValueError(f"output '{self.table}' (scd2) sets {ignored}: an scd2 table keeps the columns it "
                                 f"was created with, unpartitioned, and refuses null keys; leave them out")
            if both := sorted(set(self.merge_keys) & set(self.track_columns)):
                raise ValueError(f"output '{self.table}' (scd2): {both} are merge_keys and track_columns at once")
            if self.partition_column:
                raise ValueError(f"output '{self.table}': mode 'scd2' keeps every version of a key across time, so "
                                 f"it cannot be replaced per partition; leave partition_column out")
            if self.format == "parquet":
                raise ValueError(f"output '{self.table}': mode 'scd2' needs a Delta table (one MERGE commit per "
                                 f"run); leave format out, or set delta")
        if self.partition_column and self.format == "parquet":
            raise ValueError(f"output '{self.table}' has partition_column and format 'parquet': one partition's rows "
                             f"are replaced in a Delta table (leave format out, or set delta)")
        if self.partition_column and self.mode != "overwrite":
            raise ValueError(f"output '{self.table}' has partition_column and mode '{self.mode}': a partitioned "
                             f"output replaces its partition's rows each run, so its mode must be overwrite")
        return self


def _text_encoding(name: Any) -> bool:
    """Whether ``name`` is a text encoding Python knows (``rot13`` and ``base64`` are codecs, not encodings)."""
    try:
        return bool(getattr(codecs.lookup(str(name)), "_is_text_encoding", True))
    except LookupError:
        return False


class Source(_Checked):
    """One bronze source (``sources.yaml`` / ``IngestionSourceConfig``): one asset in the first layer."""

    source_id: str = Field(description="The row's id; bronze log records carry it.", examples=["src-weather"])
    source_name: str = Field(description="The bronze table (and asset) it becomes.", examples=["bronze.weather"])
    source_type: str = Field(
        default="local", description="`local` (a path), `sql`, or an fsspec URL scheme (`s3`, `abfs`, ...).")
    file_format: str = Field(description="`csv`, `json`, `parquet`, `delta` or `sql`.", examples=["csv"])
    source_path_or_query: str = Field(
        description="A file path or glob (relative to the project folder), a URL, a SQL query or a table name.",
        examples=["data/weather.csv"])
    source_options: dict[str, Any] = Field(json_schema_extra=_json_text_too, 
        default_factory=dict, examples=[{"header": True, "null_values": ["NA", ""], "pandas": {"dtype": "str"}}],
        description="Reader options both engines honour: `header` (true/false, default true), `delimiter` "
                    "(default `,`), `encoding` (Python's names, default utf-8), `null_values` (a list, default "
                    "`['']`), `schema` (column: type), `multiline` (true/false: JSON records, or CSV fields that "
                    "span lines on Spark); engine-specific ones under `pandas:` or `spark:`.")
    connection_config: dict[str, Any] = Field(json_schema_extra=_json_text_too, 
        default_factory=dict, examples=[{"url": "postgresql+psycopg2://etl:${PG_PASSWORD}@db/plant"}],
        description="`sql` sources: `url` (SQLAlchemy), `jdbc_url` (Spark), `engine_options`; `${NAME}` reads "
                    "environment variable NAME when the source is read. Never shown in the UI.")
    environment: str | None = Field(default=None, description="Only in this environment; empty: every one.")
    enabled: bool = Field(default=True, description="A disabled row produces no asset.")
    write_mode: WriteMode = Field(default="overwrite", description="How the bronze table is written: "
                                                                   "`overwrite`, `append` or `merge`.")
    merge_config: dict[str, Any] = Field(json_schema_extra=_json_text_too, default_factory=dict, examples=[{"merge_keys": ["reading_id"]}],
                                         description="`merge`: `merge_keys`, and `null_keys` (`error` or `skip`, "
                                                     "as on an output).")
    description: str = Field(default="", description="The asset's description.")
    project: str | None = Field(default=None, description="The project the row belongs to (SQL tables).")
    is_autoloader: bool = Field(default=False, description="Streaming sources are not supported: must be false.")
    incremental: IncrementalConfig | None = Field(
        json_schema_extra=_json_text_too, default=None,
        examples=[{"column": "updated_at", "mode": "append"}],
        description="Read only rows past the high-water mark of the last successful materialization (see "
                    "`incremental` below); the first run, and a run with `full_refresh: true`, loads everything.")

    @field_validator("source_options", "connection_config", "merge_config", mode="before")
    @classmethod
    def _json_dict(cls, value: Any) -> Any:
        return _json_text(value) or {}

    @field_validator("incremental", mode="before")
    @classmethod
    def _json_incremental(cls, value: Any) -> Any:
        return _json_text(value)

    @field_validator("source_name")
    @classmethod
    def _table_name(cls, value: str) -> str:
        return _check_table_name(value)

    @field_validator("source_options")
    @classmethod
    def _portable_options(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if key not in PORTABLE_SOURCE_OPTIONS:
                raise ValueError(f"unknown option '{key}'{did_you_mean(key, PORTABLE_SOURCE_OPTIONS)}; engine-specific "
                                 f"options go under 'pandas:' or 'spark:'")
        for key in ("header", "multiline"):  # "false" as text would be true, and a data row read as the header
            if key in value and not isinstance(value[key], bool):
                raise ValueError(f"option '{key}' must be true or false, not {value[key]!r}")
        delimiter = value.get("delimiter", ",")
        if not (isinstance(delimiter, str) and delimiter and not set(delimiter) & {"\n", "\r", '"'}):
            raise ValueError(f"option 'delimiter' must be a non-empty text without line breaks or quotes, not "
                             f"{delimiter!r}")
        if delimiter.startswith("\\"):  # '\t' in single quotes (YAML) is two characters: Spark reads a tab
            raise ValueError(f"option 'delimiter' is {delimiter!r}, a backslash and a letter; for a tab write \"\\t\" "
                             f"(in double quotes in YAML) or the tab itself")
        if "encoding" in value and not _text_encoding(value["encoding"]):
            raise ValueError(f"option 'encoding': {value['encoding']!r} is not a text encoding Python knows (e.g. "
                             f"utf-8, latin-1, utf-16)")
        for key in ("schema", "pandas", "spark"):  # left empty (`schema:` in YAML) they mean none
            if value.get(key) is not None and not isinstance(value[key], dict):
                raise ValueError(f"option '{key}' must be a mapping, not {value[key]!r}")
        nulls = value.get("null_values")
        if nulls is not None and not (isinstance(nulls, list) and all(
                isinstance(item, (str, int, float)) and not isinstance(item, bool) for item in nulls)):
            raise ValueError(f"option 'null_values' must be a list of texts, e.g. ['NA', '', '-999'], not {nulls!r}")
        for column, type_name in (value.get("schema") or {}).items():
            if str(type_name).lower() not in SCHEMA_TYPES:
                raise ValueError(f"schema type '{type_name}' of column '{column}' is not one of "
                                 f"{', '.join(SCHEMA_TYPES)}")
        return value

    @field_validator("file_format", "write_mode", "source_type", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("file_format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value == "api":
            raise ValueError("'api' sources are not supported: fetch the data into a file or a table (for example "
                             "with a transformation whose io is self_managed) and read that with csv, json, parquet, "
                             "delta or sql")
        if value not in FILE_FORMATS:
            raise ValueError(f"unknown file_format '{value}'; choose one of {', '.join(FILE_FORMATS)}")
        return value

    @field_validator("is_autoloader")
    @classmethod
    def _no_streaming(cls, value: bool) -> bool:
        if value:
            raise ValueError("streaming (Auto Loader) sources are not supported; load them in batch")
        return value

    @model_validator(mode="after")
    def _merge_needs_keys(self) -> Source:
        if self.write_mode == "merge" and not self.merge_keys:
            raise ValueError("write_mode 'merge' needs merge_config.merge_keys")
        for key in self.merge_config:
            if key not in ("merge_keys", "null_keys"):
                raise ValueError(f"merge_config: unknown key '{key}'{did_you_mean(key, ['merge_keys', 'null_keys'])}")
        if self.merge_config.get("null_keys", "error") not in ("error", "skip"):
            raise ValueError(f"merge_config.null_keys is '{self.merge_config['null_keys']}'; choose error or skip")
        return self

    @model_validator(mode="after")
    def _partitions_and_increments(self) -> Source:
        placeholders = placeholders_in(self.source_path_or_query)
        if placeholders and not self.partition_column:
            raise ValueError(f"source_path_or_query uses {placeholders}, but the source has no partition_column: "
                             f"only a partitioned source has a partition to fill them with")
        if self.file_format != "sql" and (unknown := unknown_placeholders(self.source_path_or_query)):
            raise ValueError(f"source_path_or_query has {{{unknown[0]}}}, which is not a placeholder"
                             f"{did_you_mean(unknown[0], ['partition_key', 'partition_start', 'partition_end'])} "
                             f"(placeholders: {{partition_key}}, {{partition_start}}, {{partition_end}})")
        if self.file_format == "sql" and any(f"{{{name}}}" in self.source_path_or_query for name in placeholders):
            raise ValueError("a SQL query takes the partition as bound parameters :partition_key, :partition_start, "
                             ":partition_end, not as {placeholders} pasted into its text")
        if self.partition_column and self.write_mode != "overwrite":
            raise ValueError(f"a partitioned source replaces its partition's rows each run: write_mode "
                             f"'{self.write_mode}' cannot be used with partition_column")
        if self.incremental is not None:
            if self.partition_column:
                raise ValueError("a source is either partitioned (partition_column) or incremental, not both")
            if {"write_mode", "merge_config"} & self.model_fields_set and (
                    self.write_mode != "overwrite" or self.merge_config):
                raise ValueError("incremental sets how new rows are written (incremental.mode and merge_keys): "
                                 "leave write_mode and merge_config out")
        return self

    @property
    def table(self) -> str:
        return self.source_name

    @property
    def all_tables(self) -> list[str]:
        """The bronze table and its quarantine table: every asset of the source."""
        return [self.table, *([self.quarantine] if self.quarantine else [])]

    @property
    def merge_keys(self) -> list[str]:
        if self.incremental is not None:
            return list(self.incremental.merge_keys)
        return list(self.merge_config.get("merge_keys") or [])

    @property
    def output(self) -> OutputSpec:
        """The source's bronze table, described like a transformation output."""
        mode = self.incremental.mode if self.incremental is not None else self.write_mode
        return OutputSpec(table=self.source_name, mode=mode, merge_keys=self.merge_keys,
                          null_keys=self.merge_config.get("null_keys", "error"), checks=self.checks,
                          quality_gate=self.quality_gate, quarantine_table=self.quarantine_table,
                          partition_column=self.partition_column)


class Transformation(_Row):
    """One transformation (``transformations.yaml`` / ``TransformationRegistry``): an asset per output."""

    transformation_id: str = Field(description="The row's id; hooks and log records carry it.",
                                   examples=["energy-plant-daily-gold"])
    project: str | None = Field(default=None, description="The project the row belongs to (SQL tables).")
    environment: str | None = Field(default=None, description="Only in this environment; empty: every one.")
    layer: str = Field(description="A layer of `layer_order`; the outputs' asset group.", examples=["Gold_1"])
    step: int = Field(default=1, description="Order within the layer: when steps run one by one, a lower step "
                                             "runs first among those ready.")
    enabled: bool = Field(default=True, description="A disabled row produces no asset.")
    entity_1: str | None = Field(default=None, description="Named by `entity_labels.entity_1` (e.g. the plant).")
    entity_2: str | None = Field(default=None, description="Named by `entity_labels.entity_2` (e.g. the asset).")
    entity_3: str | None = Field(default=None, description="Named by `entity_labels.entity_3`.")
    module: str = Field(description="The module holding the function (beside the manifest, or importable).",
                        examples=["energy_functions"])
    function: str = Field(description="The function's name: registered with `@odibi_function`, or "
                                      "`module.function`.", examples=["plant_daily_efficiency"])
    inputs: list[str | InputSpec] = Field(json_schema_extra=_json_text_too, 
        default_factory=list, examples=[["silver.boiler_daily", {"type": "query", "sql": "SELECT 1 AS x"}]],
        description="Tables the function reads (sources' or other outputs'), or `{type: query, sql: ...}`; they "
                    "make the lineage.")
    constants: dict[str, Any] = Field(json_schema_extra=_json_text_too, 
        default_factory=dict, examples=[{"threshold": 0.8, "engine": "spark"}],
        description="Free values for the function; the reserved `engine` runs this row on that engine.")
    outputs: list[OutputSpec] = Field(json_schema_extra=_json_text_too, default_factory=list, description="The tables it writes (see below).")
    description: str = Field(default="", description="The assets' description (an output's own wins).")
    io: Literal["managed", "self_managed"] = Field(
        default="managed", description="`managed`: the function returns its tables; `self_managed`: it writes "
                                       "them itself (at `context.table_path(table)`).")

    @field_validator("inputs", "outputs", mode="before")
    @classmethod
    def _json_list(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip() and not value.strip().startswith(("[", "{")):
            raise ValueError(f"expected a list, e.g. ['{value.strip()[:60]}'] (in a SQL table: JSON text); got the "
                             f"text '{value.strip()[:60]}'")
        value = _json_text(value)
        return [] if value is None else value

    @field_validator("constants", mode="before")
    @classmethod
    def _json_dict(cls, value: Any) -> Any:
        return _json_text(value) or {}

    @field_validator("inputs")
    @classmethod
    def _input_tables(cls, value: list[str | InputSpec]) -> list[str | InputSpec]:
        for item in value:
            if isinstance(item, str):
                _check_table_name(item)
        return value

    @field_validator("constants")
    @classmethod
    def _engine_override(cls, value: dict[str, Any]) -> dict[str, Any]:
        engine = value.get("engine")
        if engine is not None and str(engine).lower() not in ENGINES:
            raise ValueError(f"constants.engine '{engine}' is not an engine; choose one of {', '.join(ENGINES)}")
        return value

    @model_validator(mode="after")
    def _needs_outputs(self) -> Transformation:
        if not self.outputs:
            raise ValueError("a transformation needs at least one entry in 'outputs'")
        partitioned = [output.table for output in self.outputs if output.partition_column]
        if partitioned and len(partitioned) != len(self.outputs):
            raise ValueError(f"outputs {partitioned} have a partition_column and the others do not: the outputs of "
                             f"one transformation run together, so either all are partitioned or none is")
        if partitioned and self.io == "self_managed":
            raise ValueError("a partitioned output is written per partition by the IO manager, so it needs io: "
                             "managed")
        if self.io == "self_managed" and any(output.has_checks for output in self.outputs):
            raise ValueError("checks and quality_gate run on the rows before they are written, so they need "
                             "io: managed (a self_managed function writes its tables itself)")
        return self

    @property
    def partitioned(self) -> bool:
        return any(output.partition_column for output in self.outputs)

    @property
    def engine_override(self) -> str | None:
        engine = self.constants.get("engine")
        return str(engine).lower() if engine else None

    @property
    def input_keys(self) -> list[str]:
        return [item if isinstance(item, str) else item.key for item in self.inputs]

    @property
    def input_tables(self) -> list[str]:
        """Tables this row reads (its lineage); query inputs are not tables."""
        return [
            item if isinstance(item, str) else item.table
            for item in self.inputs
            if isinstance(item, str) or item.type == "table"
        ]

    @property
    def output_tables(self) -> list[str]:
        return [output.table for output in self.outputs]

    @property
    def all_output_tables(self) -> list[str]:
        """The outputs' tables and their quarantine tables: every asset of the row."""
        return self.output_tables + [output.quarantine for output in self.outputs if output.quarantine]

    def entity_labels(self, labels: dict[str, str]) -> dict[str, str]:
        """``{"plant": "Argo", "asset": "Boiler 6"}`` from entity_1..3 and the manifest's labels."""
        values = {"entity_1": self.entity_1, "entity_2": self.entity_2, "entity_3": self.entity_3}
        return {labels.get(key, key): value for key, value in values.items() if value}


@dataclass
class Project:
    """A loaded, validated project for one environment: only enabled rows of that environment."""

    manifest: Manifest
    sources: list[Source]
    transformations: list[Transformation]
    env: str
    root: Path | None = None  # the project folder; relative source paths resolve against it
    origin: str = ""  # where the config came from, for messages
    table_layers: dict[str, str] = field(default_factory=dict)  # table -> layer of its producer

    def __post_init__(self) -> None:
        if not self.table_layers:
            for source in self.sources:
                for table in source.all_tables:
                    self.table_layers[table] = self.manifest.bronze_layer
            for row in self.transformations:
                for table in row.all_output_tables:
                    self.table_layers[table] = row.layer

    @property
    def name(self) -> str:
        return self.manifest.project_name

    @property
    def slug(self) -> str:
        return self.manifest.slug

    @property
    def partitioned(self) -> bool:
        """Whether any source or output is partitioned (the manifest's ``partitions`` in use)."""
        return any(source.partition_column for source in self.sources) or any(
            row.partitioned for row in self.transformations)

    def layers_in_use(self) -> list[str]:
        """Layers of ``layer_order`` that hold at least one asset, in order."""
        used = set(self.table_layers.values())
        return [layer for layer in self.manifest.layer_order if layer in used]
