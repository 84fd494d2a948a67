"""The hook events and the keys of their payloads: the seed's, plus the per-transformation ones.

The seed's payloads exactly, plus what this project adds: every payload carries ``project``,
``env``, ``engine`` and ``timestamp``, and below the run ``layer`` (so bronze events have it too).
Keys marked optional appear only on some outcomes (``error`` on failure, ``sources_processed`` on
success).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventSpec:
    keys: frozenset[str]
    optional: frozenset[str] = frozenset()

    @property
    def all_keys(self) -> frozenset[str]:
        return self.keys | self.optional


_BASE = {"project", "env", "engine", "timestamp"}
_TRANSFORM = _BASE | {"layer", "transformation_id", "module", "function", "attempt"}

EVENTS: dict[str, EventSpec] = {
    "orchestrator_run_start": EventSpec(frozenset(_BASE | {"target_layers"})),
    "orchestrator_run_end": EventSpec(frozenset(_BASE | {"status", "layers_executed", "duration_seconds"}),
                                      frozenset({"error"})),
    "bronze_start": EventSpec(frozenset(_BASE | {"layer"})),
    "bronze_end": EventSpec(frozenset(_BASE | {"layer", "status"}), frozenset({"sources_processed", "error"})),
    "layer_start": EventSpec(frozenset(_BASE | {"layer"})),
    "layer_end": EventSpec(frozenset(_BASE | {"layer", "status", "duration_seconds"}), frozenset({"error"})),
    "transform_start": EventSpec(frozenset(_TRANSFORM)),
    "transform_success": EventSpec(frozenset(_TRANSFORM | {"duration_seconds"})),
    "transform_retry": EventSpec(frozenset(_TRANSFORM | {"max_retries", "error"})),
    "transform_failure": EventSpec(frozenset(_TRANSFORM | {"duration_seconds", "error"})),
    # data quality: once per failing check (a source's checks carry its source_id as transformation_id)
    "check_failure": EventSpec(frozenset(_BASE | {"layer", "transformation_id", "table", "check", "severity",
                                                  "failed_rows"})),
}
