"""The high-water mark of an incremental source: the largest value of its ``incremental.column``
written so far, kept in the metadata of the asset's last materialization (``odibi/high_water_mark``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import dagster as dg

MARK = "odibi/high_water_mark"
MARK_TYPE = "odibi/high_water_mark_type"
MARK_TABLE = "odibi/high_water_mark_table"  # the stored table the mark belongs to (its folder)
MarkKind = Literal["timestamp", "date", "integer", "float", "string"]


@dataclass(frozen=True)
class HighWaterMark:
    value: Any  # a datetime (aware or naive), date, int, float or str
    kind: MarkKind

    @classmethod
    def of(cls, value: Any) -> HighWaterMark | None:
        """The mark of a column's maximum (None when the column held no value)."""
        if value is None:
            return None
        if isinstance(value, datetime):
            return cls(value, "timestamp")
        if isinstance(value, date):
            return cls(value, "date")
        if isinstance(value, bool):
            raise ValueError(f"a boolean ({value}) cannot be a high-water mark")  # noqa: TRY004 - a value, not a type, is wrong
        if isinstance(value, int):
            return cls(value, "integer")
        if isinstance(value, float):
            return cls(value, "float")
        if isinstance(value, str):
            return cls(value, "string")
        raise ValueError(f"a {type(value).__name__} ({value!r}) cannot be a high-water mark: use a timestamp, "
                         f"date, number or text column")

    def metadata(self, table_path: str) -> dict[str, Any]:
        text = self.value.isoformat() if isinstance(self.value, (date, datetime)) else str(self.value)
        return {MARK: dg.MetadataValue.text(text), MARK_TYPE: dg.MetadataValue.text(self.kind),
                MARK_TABLE: dg.MetadataValue.path(table_path)}

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any]) -> HighWaterMark | None:
        text, kind = (_plain(metadata.get(MARK)), _plain(metadata.get(MARK_TYPE)))
        if text is None or kind is None:
            return None
        parse = {"timestamp": datetime.fromisoformat, "date": date.fromisoformat, "integer": int,
                 "float": float, "string": str}[kind]
        return cls(parse(text), kind)

    def later(self, other: HighWaterMark | None) -> HighWaterMark:
        """The later of two marks (this one where they cannot be compared)."""
        if other is None or other.kind != self.kind:
            return self
        try:
            return other if other.value > self.value else self
        except TypeError:  # an aware and a naive timestamp
            return self

    def __str__(self) -> str:
        return f"{self.value.isoformat() if isinstance(self.value, (date, datetime)) else self.value!r} ({self.kind})"


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, dg.MetadataValue) else value


def last_mark(instance: dg.DagsterInstance, key: dg.AssetKey, table_path: str) -> HighWaterMark | None:
    """The mark of ``key``'s last materialization, if it was made for the table at ``table_path``
    (another environment or storage root has a table, and a mark, of its own)."""
    event = instance.get_latest_materialization_event(key)
    materialization = event.asset_materialization if event is not None else None
    if materialization is None or _plain(materialization.metadata.get(MARK_TABLE)) != table_path:
        return None
    return HighWaterMark.from_metadata(dict(materialization.metadata))
