"""The transformation function registry: ``@odibi_function`` and name + engine resolution.

As in odibi_de_v2, functions are registered by name and engine (``pandas``, ``spark`` or
``any``). Resolution imports the row's module first (so its decorators run), then prefers what
that module registered for ``(function, engine)`` / ``(function, "any")``, then the module's own
attribute, and only then a function of that name registered by any other module (the original's
name-only lookup): two projects in one process do not shadow each other's functions.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odibi_dagster.functions.modules import import_project_module

REGISTRY_ENGINES = ("pandas", "spark", "any")


@dataclass(frozen=True)
class RegisteredFunction:
    name: str
    engine: str
    fn: Callable[..., Any]
    module: str | None = None
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


class FunctionRegistry:
    """Process-wide map ``(name, engine) -> function``; thread-safe like the original."""

    def __init__(self) -> None:
        self._functions: dict[tuple[str, str], RegisteredFunction] = {}  # (name, engine) -> latest
        self._by_module: dict[tuple[str | None, str, str], RegisteredFunction] = {}
        self._lock = threading.Lock()

    def register(
        self,
        name: str,
        engine: str,
        fn: Callable[..., Any],
        module: str | None = None,
        description: str | None = None,
        **metadata: Any,
    ) -> None:
        engine = engine.lower()
        if engine not in REGISTRY_ENGINES:
            raise ValueError(f"engine '{engine}' is not one of {', '.join(REGISTRY_ENGINES)}")
        if not callable(fn):
            raise TypeError(f"'{name}' is not callable")
        entry = RegisteredFunction(name, engine, fn, module, description, metadata)
        with self._lock:
            self._functions[(name, engine)] = entry
            self._by_module[(module, name, engine)] = entry

    def unregister(self, name: str, engine: str) -> bool:
        engine = engine.lower()
        with self._lock:
            for key in [key for key in self._by_module if key[1:] == (name, engine)]:
                del self._by_module[key]
            return self._functions.pop((name, engine), None) is not None

    def resolve(self, name: str, engine: str, module: str | None = None) -> Callable[..., Any] | None:
        """The function for ``engine``, else the engine-independent one, else None.

        With ``module``, only what that module registered counts.
        """
        if module is not None:
            entry = self._by_module.get((module, name, engine)) or self._by_module.get((module, name, "any"))
        else:
            entry = self._functions.get((name, engine)) or self._functions.get((name, "any"))
        return entry.fn if entry else None

    def get_all(self, engine: str | None = None) -> list[tuple[str, str]]:
        return sorted(key for key in self._functions if engine is None or key[1] == engine)

    def get_metadata(self, name: str, engine: str) -> dict[str, Any]:
        entry = self._functions.get((name, engine))
        return dict(entry.metadata) if entry else {}

    def clear(self) -> None:
        with self._lock:
            self._functions.clear()
            self._by_module.clear()


REGISTRY = FunctionRegistry()


def odibi_function(
    engine: str = "any",
    name: str | None = None,
    module: str | None = None,
    description: str | None = None,
    **metadata: Any,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a transformation function for an engine when its module is imported.

    >>> @odibi_function(engine="pandas")
    ... def clean_boilers(inputs, constants): ...
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn_name = name or fn.__name__
        owner = module or fn.__module__
        if fn.__module__.endswith(f".{owner}"):  # `module="functions"` in a project's functions.py, which
            owner = fn.__module__  # is imported as odibi_project_<hash>.functions: resolution asks for that
        REGISTRY.register(fn_name, engine, fn, owner, description or fn.__doc__, **metadata)
        fn._odibi_registered = True  # type: ignore[attr-defined]
        fn._odibi_engine = engine.lower()  # type: ignore[attr-defined]
        fn._odibi_name = fn_name  # type: ignore[attr-defined]
        return fn

    return decorate


class FunctionNotFound(LookupError):
    """The row's module imports but offers no function of that name for the engine."""


def resolve_function(module: str, function: str, engine: str | None = None,
                     root: Path | None = None) -> Callable[..., Any]:
    """Find a transformation's callable; raises ImportError or FunctionNotFound with the reason.

    ``root``: the project folder (a module there is imported under the project's own package).
    With ``engine=None`` (load-time checks, before a run picks its engine) any engine will do.
    """
    imported = import_project_module(module, root)
    engines = (engine,) if engine else ("pandas", "spark")
    for candidate in engines:
        found = REGISTRY.resolve(function, candidate, module=imported.__name__)
        if found is not None:
            return found
    fn = getattr(imported, function, None)
    if callable(fn):
        return fn
    for candidate in engines:
        found = REGISTRY.resolve(function, candidate)
        if found is not None:
            return found
    for_engine = f"for {engine}" if engine else "for any engine"
    raise FunctionNotFound(f"module '{module}' has no function '{function}' and none is registered {for_engine}")
