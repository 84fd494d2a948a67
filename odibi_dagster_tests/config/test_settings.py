"""Which engine runs: one function, the documented defaults for the code location and run_project."""

import pytest

from odibi_dagster.config.errors import ConfigError
from odibi_dagster.config.model import Manifest, Project
from odibi_dagster.config.settings import resolve_engine


def project(default_engine=None) -> Project:
    return Project(manifest=Manifest(project_name="P", default_engine=default_engine), sources=[],
                   transformations=[], env="qat")


def test_the_code_location_defaults_to_odibi_engine_then_the_manifest_then_pandas(monkeypatch):
    monkeypatch.delenv("ODIBI_ENGINE", raising=False)
    assert resolve_engine(project()) == "pandas"
    assert resolve_engine(project("spark")) == "spark"
    monkeypatch.setenv("ODIBI_ENGINE", "Pandas")
    assert resolve_engine(project("spark")) == "pandas"
    assert resolve_engine(project("pandas"), run="spark") == "spark"  # the run's config wins
    assert resolve_engine(project("pandas"), row="spark", run="pandas") == "spark"  # a row's override wins


def test_run_project_defaults_to_the_manifest_then_spark_and_ignores_odibi_engine(monkeypatch):
    monkeypatch.setenv("ODIBI_ENGINE", "pandas")
    assert resolve_engine(project(), caller="run_project") == "spark"
    assert resolve_engine(project("pandas"), caller="run_project") == "pandas"
    assert resolve_engine(project("pandas"), run="SPARK", caller="run_project") == "spark"


def test_an_unknown_engine_names_the_choices(monkeypatch):
    monkeypatch.setenv("ODIBI_ENGINE", "sparkk")
    with pytest.raises(ConfigError, match="ODIBI_ENGINE.*unknown engine 'sparkk'; choose one of pandas, spark"):
        resolve_engine(project())
    with pytest.raises(ConfigError, match="constants.engine.*unknown engine 'dask'"):
        resolve_engine(project(), row="dask")
