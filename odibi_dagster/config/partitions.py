"""Partitions and incremental loads in config: the manifest's ``partitions:``, a source's
``incremental:``, and the ``{partition_key}``-style placeholders of a source's path or query.

Validated here, one block at a time; the Dagster partitions definition is built from
``PartitionsConfig`` in ``odibi_dagster.partitions``; what a window or a mark means for the data
lives there too.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from odibi_dagster.config.errors import did_you_mean

PARTITION_TYPES = ("hourly", "daily", "weekly", "monthly", "static")
PLACEHOLDERS = ("partition_key", "partition_start", "partition_end")
COLUMN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # a column named in SQL and Delta predicates
_PLACEHOLDER = re.compile(r"\{([A-Za-z_]+)\}")
_BIND = re.compile(r"(?<![:\w]):(partition_key|partition_start|partition_end)\b")
STATIC_VALUE = re.compile(r"^[A-Za-z0-9_.@=+-][A-Za-z0-9_.@=+ -]*$")


def column_name(value: str, field: str) -> str:
    if not COLUMN_NAME.match(value):
        raise ValueError(f"{field} '{value}' must be a plain column name (letters, digits and _, not starting with "
                         f"a digit)")
    return value


def check_time_zone(value: str) -> str:
    """An IANA time zone name (a schedule's, the partitions')."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"time zone '{value}' is not an IANA time zone (e.g. 'UTC', 'Europe/Berlin')") from None
    return value


def placeholders_in(text: str) -> list[str]:
    """The partition placeholders of a file path (``{partition_key}``) or a SQL query
    (``:partition_key``), in order of appearance."""
    found = [name for name in _PLACEHOLDER.findall(text) if name in PLACEHOLDERS]
    return found + [name for name in _BIND.findall(text) if name not in found]


def unknown_placeholders(text: str) -> list[str]:
    """``{names}`` in a path that are not placeholders (a typo would be read as a literal brace)."""
    return [name for name in _PLACEHOLDER.findall(text) if name not in PLACEHOLDERS]


class PartitionsConfig(BaseModel):
    """The project's one partitioning (the manifest's ``partitions:``): time windows or static values."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(description="`hourly`, `daily`, `weekly`, `monthly` (time windows, start inclusive, end "
                                  "exclusive) or `static` (a list of values).", examples=["daily"])
    start: str | None = Field(default=None, examples=["2024-01-01"],
                              description="Time windows: the first partition's start, `YYYY-MM-DD` (or "
                                          "`YYYY-MM-DD HH:MM` for hourly).")
    end: str | None = Field(default=None, examples=["2025-01-01"],
                            description="Time windows: where the last partition ends (exclusive); empty: partitions "
                                        "up to the present.")
    timezone: str = Field(default="UTC", description="Time windows: the time zone they are cut in; naive timestamps "
                                                     "in the data are read in it.")
    values: list[str] | None = Field(default=None, examples=[["north", "south"]],
                                     description="`static`: the partition keys.")

    @field_validator("type", mode="before")
    @classmethod
    def _known_type(cls, value: Any) -> Any:
        text = str(value).lower() if isinstance(value, str) else value
        if text not in PARTITION_TYPES:
            raise ValueError(f"unknown partitions type '{value}'{did_you_mean(str(value), PARTITION_TYPES)}; choose "
                             f"one of {', '.join(PARTITION_TYPES)}")
        return text

    @field_validator("start", "end", mode="before")
    @classmethod
    def _date_text(cls, value: Any) -> Any:
        return value.isoformat() if isinstance(value, (date, datetime)) else value

    _timezone = field_validator("timezone")(lambda cls, value: check_time_zone(value))

    @field_validator("values", mode="before")
    @classmethod
    def _values_as_text(cls, value: Any) -> Any:
        if isinstance(value, list):
            for item in value:
                if isinstance(item, bool) or not isinstance(item, (str, int)):
                    # a ValueError: pydantic reports it with the field's place (a TypeError it would not)
                    raise ValueError(f"static partition value {item!r} must be text or a whole number")  # noqa: TRY004
            return [str(item) for item in value]
        return value

    @model_validator(mode="after")
    def _fields_of_type(self) -> PartitionsConfig:
        if self.type == "static":
            if self.start or self.end:
                raise ValueError("static partitions take 'values', not 'start' / 'end'")
            if not self.values:
                raise ValueError("static partitions need 'values' (a non-empty list)")
            repeated = sorted({value for value in self.values if self.values.count(value) > 1})
            if repeated:
                raise ValueError(f"static partition values {repeated} appear more than once")
            for value in self.values:
                if not STATIC_VALUE.match(value):
                    raise ValueError(f"static partition value '{value}' may hold only letters, digits, spaces and "
                                     f"_ . @ = + -")
            return self
        if self.values is not None:
            raise ValueError(f"{self.type} partitions take 'start' (and 'end'), not 'values'")
        if not self.start:
            raise ValueError(f"{self.type} partitions need 'start' (YYYY-MM-DD)")
        start = self._parse(self.start, "start")
        if self.end is not None and self._parse(self.end, "end") <= start:
            raise ValueError(f"partitions end '{self.end}' is not after start '{self.start}'")
        return self

    def _parse(self, text: str, field: str) -> datetime:
        formats = ["%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"] if self.type == "hourly" else ["%Y-%m-%d"]
        for fmt in formats:
            try:
                return datetime.strptime(text, fmt)
            except ValueError:
                continue
        shown = " or ".join(f.replace("%Y", "YYYY").replace("%m", "MM").replace("%d", "DD").replace("%H", "HH")
                            .replace("%M", "MM") for f in formats[:2])
        raise ValueError(f"partitions {field} '{text}' is not a date ({shown})")

    @property
    def is_static(self) -> bool:
        return self.type == "static"


class IncrementalConfig(BaseModel):
    """A source read past its high-water mark: only rows with ``column`` above the last run's maximum."""

    model_config = ConfigDict(extra="forbid")

    column: str = Field(description="The column that grows with new rows (a timestamp, date or number).",
                        examples=["updated_at"])
    mode: Literal["append", "merge"] = Field(
        default="append", description="`append`: new rows are added; `merge`: upserted on `merge_keys` (rows "
                                      "updated since the mark replace their old version).")
    merge_keys: list[str] = Field(default_factory=list, description="`merge`: the columns that identify a row.")

    @field_validator("column")
    @classmethod
    def _column(cls, value: str) -> str:
        return column_name(value, "incremental column")

    @field_validator("mode", mode="before")
    @classmethod
    def _lower_mode(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _merge_needs_keys(self) -> IncrementalConfig:
        if self.mode == "merge" and not self.merge_keys:
            raise ValueError("incremental mode 'merge' needs merge_keys")
        if self.mode == "append" and self.merge_keys:
            raise ValueError("incremental merge_keys are used by mode 'merge' only")
        return self
