"""The partition, or range of partitions, a step runs for: ``PartitionWindow``.

A function that declares ``partition`` gets it (``context.partition`` too); the source readers
fill path placeholders and SQL bound parameters from it; the engines keep, check and replace
exactly its rows (``engines.arrow_windows``, ``engines.spark_windows``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import dagster as dg


class PartitionError(ValueError):
    """Rows and partitions do not fit: a partition column missing, of the wrong type, null, or a
    row outside the partition being written. Nothing was written."""


@dataclass(frozen=True)
class PartitionWindow:
    """``key``: the partition key, or ``"A...B"`` for a range; ``start`` / ``end``: the time window
    (start inclusive, end exclusive, aware, in the partitions' time zone), None for static
    partitions; ``keys``: every key of the window."""

    key: str
    start: datetime | None
    end: datetime | None
    keys: tuple[str, ...]
    hourly: bool = False
    parts: tuple[PartitionWindow, ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def of(cls, definition: dg.PartitionsDefinition, key_range: dg.PartitionKeyRange) -> PartitionWindow:
        """The window of ``key_range`` (one key when start == end) in ``definition``."""
        keys = tuple(definition.get_partition_keys_in_range(key_range))
        hourly = isinstance(definition, dg.TimeWindowPartitionsDefinition) and "%H" in definition.fmt
        if isinstance(definition, dg.TimeWindowPartitionsDefinition):
            windows = [definition.time_window_for_partition_key(key) for key in keys]
            parts = tuple(cls(key, window.start, window.end, (key,), hourly) for key, window in zip(keys, windows))
        else:
            parts = tuple(cls(key, None, None, (key,)) for key in keys)
        if len(parts) == 1:
            return parts[0]
        return cls(f"{keys[0]}...{keys[-1]}", parts[0].start, parts[-1].end, keys, hourly, parts)

    @property
    def is_static(self) -> bool:
        return self.start is None

    def each(self) -> tuple[PartitionWindow, ...]:
        """The window's single partitions (itself when it holds one)."""
        return self.parts or (self,)

    def describe(self) -> str:
        return f"partitions {self.key}" if len(self.keys) > 1 else f"partition {self.key}"

    def _text(self, moment: datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H" if self.hourly else "%Y-%m-%d")

    def placeholders(self) -> dict[str, str]:
        """What ``{partition_key}``, ``{partition_start}`` and ``{partition_end}`` become in a file path
        (dates as YYYY-MM-DD, hours as YYYY-MM-DDTHH)."""
        if self.is_static:
            return {"partition_key": self.key, "partition_start": self.key, "partition_end": self.key}
        assert self.start is not None and self.end is not None
        key = self._text(self.start) if self.hourly and len(self.keys) == 1 else self.key
        return {"partition_key": key, "partition_start": self._text(self.start), "partition_end": self._text(self.end)}

    def bind_params(self) -> dict[str, Any]:
        """``:partition_key``, ``:partition_start`` and ``:partition_end`` for a SQL query: dates (or,
        hourly, timestamps) in the partitions' time zone, without a zone."""
        if self.is_static:
            return {"partition_key": self.key, "partition_start": None, "partition_end": None}
        return {"partition_key": self.key, "partition_start": self.local(self.start),
                "partition_end": self.local(self.end)}

    def local(self, moment: datetime | None) -> Any:
        """``moment`` as wall time of the partitions' time zone: a date, or a naive timestamp (hourly)."""
        if moment is None:
            return None
        naive = moment.replace(tzinfo=None)
        return naive if self.hourly else naive.date()

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "start": self.start.isoformat() if self.start else None,
                "end": self.end.isoformat() if self.end else None, "keys": list(self.keys)}


def window_of(definition: dg.PartitionsDefinition | None, key_range: dg.PartitionKeyRange | None
              ) -> PartitionWindow | None:
    """The window of a partitioned step (None for an unpartitioned one)."""
    if definition is None or key_range is None:
        return None
    return PartitionWindow.of(definition, key_range)


def step_window(context: dg.AssetExecutionContext) -> PartitionWindow | None:
    """The partitions a step runs for (None when its assets are unpartitioned)."""
    definition = context.assets_def.partitions_def
    return window_of(definition, context.partition_key_range) if definition is not None else None
