"""The calling convention: arguments injected by parameter name, results mapped to output tables."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

INJECTABLE = ("inputs", "constants", "outputs", "spark", "env", "engine", "context", "partition")


@dataclass
class ExecutionContext:
    """What a transformation may want to know about its run (the original's ``ExecutionContext``)."""

    engine: str
    project: str
    env: str
    layer: str
    transformation_id: str
    spark: Any = None
    logger: logging.Logger | Any = None
    hooks: Any = None
    sql_provider: Any = None
    extras: dict[str, Any] = field(default_factory=dict)  # entity labels (plant, asset, ...) and layer
    table_path: Callable[[str], str] | None = None  # where a self-managed function writes a table
    partition: Any = None  # the PartitionWindow (key, start, end) of a partitioned step; None otherwise

    @property
    def plant(self) -> Any:
        return self.extras.get("plant")

    @property
    def asset(self) -> Any:
        return self.extras.get("asset")


class TransformationError(RuntimeError):
    """A transformation's function failed or returned something that cannot be stored."""


def call_transformation(fn: Callable[..., Any], transformation_id: str, available: Mapping[str, Any]) -> Any:
    """Call ``fn`` with the subset of ``available`` its signature declares (everything for ``**kwargs``)."""
    signature = inspect.signature(fn)
    params = signature.parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        kwargs = dict(available)
    else:
        kwargs = {name: available[name] for name in params if name in available}
    missing = [
        name for name, p in params.items()
        if name not in kwargs and p.default is inspect.Parameter.empty
        and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]
    if missing:
        raise TransformationError(
            f"transformation '{transformation_id}': function {fn.__name__}() needs {missing}, which cannot be "
            f"supplied; declare any of {', '.join(INJECTABLE)} (or **kwargs)"
        )
    return fn(**kwargs)


def tables_from_result(result: Any, tables: list[str], transformation_id: str, is_frame: Callable[[Any], bool]
                       ) -> dict[str, Any]:
    """A managed function returns one DataFrame (one output) or a dict table -> DataFrame."""
    if is_frame(result):
        if len(tables) != 1:
            raise TransformationError(
                f"transformation '{transformation_id}' returned one DataFrame but has outputs {tables}; "
                f"return a dict table -> DataFrame")
        return {tables[0]: result}
    if isinstance(result, Mapping):
        missing = [table for table in tables if table not in result]
        if missing:
            raise TransformationError(
                f"transformation '{transformation_id}' returned tables {sorted(result)} but not {missing}")
        undeclared = sorted(set(result) - set(tables))
        if undeclared:
            raise TransformationError(
                f"transformation '{transformation_id}' returned tables {undeclared} that its outputs do not declare "
                f"({tables}): add them to outputs, or leave them out of the result (nothing was written)")
        for table in tables:
            if not is_frame(result[table]):
                raise TransformationError(f"transformation '{transformation_id}' returned "
                                          f"{type(result[table]).__name__} for '{table}', not a DataFrame")
        return {table: result[table] for table in tables}
    hint = " (declare io: self_managed for a function that writes its own tables)" if result is None else ""
    raise TransformationError(
        f"transformation '{transformation_id}' returned {type(result).__name__}, not a DataFrame or a dict of "
        f"them{hint}")
