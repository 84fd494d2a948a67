"""The ``odibi_engine`` resource: which engine a run uses and where its tables live."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from odibi_dagster.config.settings import check_engine


class EngineUnavailable(RuntimeError):
    """The engine asked for cannot run here (for example Spark before it is configured)."""


class OdibiEngine(dg.ConfigurableResource):
    """Engine and storage for a run.

    ``engine`` is meant to be set per run (launchpad, ``--config-json``); when empty the project's
    ``default_engine`` applies. Transformations, bronze readers and the IO manager all follow it.
    """

    engine: str | None = Field(
        default=None, description="Engine for this run: 'pandas' or 'spark'. Empty: the project's default_engine."
    )
    default_engine: str = Field(default="pandas", description="The project's default engine.")
    storage_root: str = Field(description="Folder under which every table is stored.")

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # A misnamed engine fails the run at start-up, before any step (and its retries) runs.
        self.engine_name  # noqa: B018 - validates

    @property
    def engine_name(self) -> str:
        return check_engine(self.engine or self.default_engine, "resource odibi_engine, field engine")

    def engine_for(self, override: str | None) -> str:
        """The engine for one transformation: its ``constants.engine`` override, else the run's."""
        return check_engine(override, "constants.engine") if override else self.engine_name

    @property
    def root(self) -> Path:
        return Path(self.storage_root)

    def require(self, engine: str) -> None:
        if engine != "pandas":
            raise EngineUnavailable(f"the '{engine}' engine is not available in this build; use engine: pandas")
