"""Names Dagster needs from config values: asset keys, op names, identifiers, tags, owners."""

from __future__ import annotations

import keyword
import re

import dagster as dg

_NOT_TAG = re.compile(r"[^A-Za-z0-9_.-]")
_NOT_IDENT = re.compile(r"\W")


def asset_key(project_slug: str, table: str) -> dg.AssetKey:
    """``[<project_slug>, *table.split(".")]`` (DESIGN section 3)."""
    return dg.AssetKey([project_slug, *table.split(".")])


def identifier(text: str) -> str:
    name = _NOT_IDENT.sub("_", text)
    if not name or name[0].isdigit() or keyword.iskeyword(name):
        name = f"t_{name}"
    return name


def op_name(project_slug: str, row_id: str, kind: str = "") -> str:
    """The step name in run logs: the project slug and the row's id."""
    return identifier(f"{project_slug}__{kind}{row_id}")


def tag_value(value: object) -> str:
    """Dagster tag values allow letters, digits, ``_ . -`` and 63 characters."""
    return _NOT_TAG.sub("_", str(value))[:63]


def owners(owner: str | None) -> list[str]:
    """An email stays; any other owner becomes a ``team:`` owner."""
    if not owner:
        return []
    return [owner] if "@" in owner else [f"team:{identifier(owner)}"]
