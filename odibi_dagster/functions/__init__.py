"""Finding and calling transformation functions: the registry and the calling convention."""

from odibi_dagster.functions.calling import ExecutionContext, call_transformation
from odibi_dagster.functions.registry import REGISTRY, FunctionRegistry, odibi_function, resolve_function

__all__ = ["REGISTRY", "ExecutionContext", "FunctionRegistry", "call_transformation", "odibi_function",
           "resolve_function"]
