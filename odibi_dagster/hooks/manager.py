"""``HookManager``: the seed's API (register, emit, list_hooks) plus unregister and a decorator.

Callbacks get the payload dict. Filters match payload keys exactly. A callback that raises is
logged with the event name and isolated: the run, the transformation and the other callbacks
go on (the original let it propagate, and re-ran a transformation whose success hook raised).
"""

from __future__ import annotations

import functools
import logging
import threading
import warnings
from collections.abc import Callable
from typing import Any

from odibi_dagster.hooks.events import EVENTS

logger = logging.getLogger("odibi_dagster.hooks")
Callback = Callable[[dict[str, Any]], Any]


class UnknownHookEvent(ValueError):
    """``register`` was given an event that is never emitted."""


class HookManager:
    def __init__(self) -> None:
        self._hooks: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def register(self, event: str, callback: Callback, filters: dict[str, Any] | None = None) -> None:
        """Call ``callback(payload)`` on ``event`` when every filter equals the payload's value."""
        spec = EVENTS.get(event)
        if spec is None:
            raise UnknownHookEvent(f"unknown hook event '{event}'; known events: {', '.join(EVENTS)}")
        if not callable(callback):
            raise TypeError(f"callback for '{event}' is not callable")
        filters = dict(filters or {})
        unknown = sorted(set(filters) - spec.all_keys)
        if unknown:
            warnings.warn(f"hook filter keys {unknown} never appear in '{event}' payloads (keys: "
                          f"{', '.join(sorted(spec.all_keys))}); this hook will never fire", stacklevel=2)
        with self._lock:
            self._hooks.setdefault(event, []).append({"callback": callback, "filters": filters})

    def on(self, event: str, **filters: Any) -> Callable[[Callback], Callback]:
        """Decorator form: ``@hooks.on("layer_end", layer="Gold_1")``."""

        def decorate(callback: Callback) -> Callback:
            self.register(event, callback, filters or None)
            return callback

        return decorate

    def unregister(self, event: str, callback: Callback | None = None) -> int:
        """Remove ``callback`` from ``event`` (every callback when None); returns how many were removed."""
        with self._lock:
            hooks = self._hooks.get(event, [])
            keep = [hook for hook in hooks if callback is not None and hook["callback"] is not callback]
            self._hooks[event] = keep
            return len(hooks) - len(keep)

    def emit(self, event: str, payload: dict[str, Any]) -> None:
        for call in self.calls(event, payload):
            call()

    def calls(self, event: str, payload: dict[str, Any]) -> list[Callable[[], None]]:
        """The calls ``emit`` makes, one per matching hook, in order: a caller that may be interrupted
        between them (``run_project``) can resume with the rest. Each logs and isolates an error."""
        with self._lock:
            hooks = list(self._hooks.get(event, []))
        return [functools.partial(_call, hook["callback"], event, payload) for hook in hooks
                if all(payload.get(key) == value for key, value in hook["filters"].items())]

    def list_hooks(self) -> dict[str, list[dict[str, Any]]]:
        with self._lock:
            return {event: [dict(hook) for hook in hooks] for event, hooks in self._hooks.items() if hooks}


def _call(callback: Callback, event: str, payload: dict[str, Any]) -> None:
    try:
        callback(payload)
    except Exception:
        logger.exception("hook %r for event '%s' raised; the run goes on", getattr(callback, "__name__", callback),
                         event)
