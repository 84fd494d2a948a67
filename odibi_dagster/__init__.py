"""odibi_dagster: config-driven medallion projects (odibi_de_v2 style) as Dagster assets."""

from odibi_dagster.functions.registry import odibi_function

__version__ = "0.1.0"
__all__ = ["__version__", "odibi_function"]
