"""Hooks: the seed's HookManager and events, derived from Dagster's own events by one translator."""

from odibi_dagster.hooks.events import EVENTS
from odibi_dagster.hooks.manager import HookManager, UnknownHookEvent

__all__ = ["EVENTS", "HookManager", "UnknownHookEvent"]
