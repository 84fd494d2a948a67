"""The ``odibi_engine`` resource: which engine a run uses, where its tables live, how Spark runs."""

from pathlib import Path
from typing import Literal

import dagster as dg
from pydantic import Field, PrivateAttr

from odibi_dagster.config.settings import resolve_engine
from odibi_dagster.engines.base import Backend


class OdibiEngine(dg.ConfigurableResource):
    """Engine, storage and Spark settings for a run.

    ``engine`` is meant to be set per run (launchpad, ``--config-json``); when empty the project's
    ``default_engine`` applies. Transformations, bronze readers and the IO manager all follow it.
    """

    engine: str | None = Field(
        default=None, description="Engine for this run: 'pandas' or 'spark'. Empty: the project's default_engine."
    )
    default_engine: str = Field(default="pandas", description="The project's default engine.")
    storage_root: str = Field(description="Folder under which every table is stored.")
    spark_master: str | None = Field(default=None, description="Spark master URL; empty: local[*].")
    spark_remote: str | None = Field(
        default=None, description="Spark Connect URL (sc://host:port), e.g. a remote cluster or Databricks Connect."
    )
    spark_conf: dict[str, str] = Field(default_factory=dict, description="Extra Spark settings.")
    delta: Literal["auto", "native", "deltalake"] = Field(
        default="auto",
        description="Delta on Spark: native format('delta') where the session has Delta, else the deltalake "
        "package through Arrow; 'auto' decides by session.",
    )

    catalog_tables: bool = Field(
        default=False,
        description="Spark with native Delta: also register each table in the catalog under its config name "
        "(an external table at the usual path).",
    )

    full_refresh: bool = Field(
        default=False,
        description="Incremental sources start over in this run: every row is read and the table is replaced "
                    "(set per run, like engine).")

    _backends: dict = PrivateAttr(default_factory=dict)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # A misnamed engine, or a Spark that cannot start, fails the run at start-up: before any
        # step runs, and without retries.
        self.backend(self.engine_name).start()

    @property
    def engine_name(self) -> str:
        """The run's engine: ``engine`` from run config, else the project's default."""
        return resolve_engine(run=self.engine or self.default_engine)

    def engine_for(self, override: str | None) -> str:
        """The engine for one transformation: its ``constants.engine`` override, else the run's."""
        return resolve_engine(row=override, run=self.engine or self.default_engine)

    @property
    def root(self) -> Path:
        return Path(self.storage_root)

    def backend(self, engine: str) -> Backend:
        if engine not in self._backends:
            if engine == "pandas":
                from odibi_dagster.engines.pandas_engine import PandasBackend  # pandas only when a step runs

                self._backends[engine] = PandasBackend()
            else:
                from odibi_dagster.engines.spark_engine import SparkBackend  # pyspark only when Spark is used
                from odibi_dagster.engines.spark_session import SparkSettings

                settings = SparkSettings(master=self.spark_master, remote=self.spark_remote,
                                         conf=tuple(sorted(self.spark_conf.items())))
                self._backends[engine] = SparkBackend(settings, self.delta, self.catalog_tables)
        return self._backends[engine]

    def backend_for_frame(self, obj: object) -> Backend:
        """The backend that can store ``obj`` (a pandas or a Spark DataFrame)."""
        for engine in ("pandas", "spark"):
            if engine == "spark" and type(obj).__module__.split(".")[0] != "pyspark":
                continue
            backend = self.backend(engine)
            if backend.is_frame(obj):
                return backend
        raise TypeError(f"expected a pandas or Spark DataFrame, got {type(obj).__name__}")
