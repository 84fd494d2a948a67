"""Names Dagster needs from config values: asset keys, op names, identifiers, tags, owners."""

from __future__ import annotations

import re
from dataclasses import dataclass

import dagster as dg

from odibi_dagster.config.model import identifier, op_name

__all__ = ["ResourceKeys", "asset_key", "identifier", "op_name", "owners", "tag_value"]

_NOT_TAG = re.compile(r"[^A-Za-z0-9_.-]")


def asset_key(project_slug: str, table: str) -> dg.AssetKey:
    """``[<project_slug>, *table.split(".")]``."""
    return dg.AssetKey([project_slug, *table.split(".")])


def tag_value(value: object) -> str:
    """Dagster tag values allow letters, digits, ``_ . -`` and 63 characters."""
    return _NOT_TAG.sub("_", str(value))[:63]


def owners(owner: str | None) -> list[str]:
    """An email stays; any other owner becomes a ``team:`` owner."""
    if not owner:
        return []
    return [owner] if "@" in owner else [f"team:{identifier(owner)}"]


@dataclass(frozen=True)
class ResourceKeys:
    """The resource keys of a project's engine and IO manager.

    A code location of one project uses the plain keys (run config names ``odibi_engine``); where
    several projects share a code location (Components), each gets keys scoped by its slug, so
    each has its own engine, IO manager and storage root.
    """

    engine: str = "odibi_engine"
    io_manager: str = "odibi_io_manager"

    @classmethod
    def scoped(cls, project_slug: str) -> ResourceKeys:
        return cls(engine=f"odibi_engine__{project_slug}", io_manager=f"odibi_io_manager__{project_slug}")
