"""odibi_dagster: config-driven medallion projects (odibi_de_v2 style) as Dagster assets."""

from odibi_dagster.functions.registry import odibi_function

__version__ = "0.1.0"
__all__ = ["OdibiProjectComponent", "__version__", "odibi_function"]


def __getattr__(name: str):
    # the Component needs Dagster's components package: imported when asked for (``dg`` finds it
    # through dir() below), so `import odibi_dagster` stays light for functions modules and the CLI
    if name == "OdibiProjectComponent":
        from odibi_dagster.component import OdibiProjectComponent

        return OdibiProjectComponent
    raise AttributeError(f"module 'odibi_dagster' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
