"""Which engine runs: one function, the documented defaults for the code location and run_project;
the Spark connection from the environment."""


import dagster as dg
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


def test_spark_connection_comes_from_the_environment_at_run_time_and_never_shows(project_writer, storage,
                                                                                  monkeypatch):
    from dagster._core.remote_representation.external_data import RepositorySnap
    from dagster._serdes import serialize_value

    from odibi_dagster.assets import build_definitions
    from odibi_dagster.config import load_project_folder

    monkeypatch.setenv("ODIBI_SPARK_REMOTE", "sc://spark.example:443/;token=dapi-first-0000")
    monkeypatch.setenv("ODIBI_SPARK_MASTER", "spark://master.example:7077")
    root = project_writer.write(sources=[{"source_id": "s", "source_name": "bronze.s", "file_format": "csv",
                                          "source_path_or_query": "s.csv"}], data={"s.csv": "a\n1\n"})
    defs = build_definitions(load_project_folder(root), storage_root_dir=storage)

    @dg.asset(required_resource_keys={"odibi_engine"})
    def probe(context: dg.AssetExecutionContext) -> None:
        engine = context.resources.odibi_engine
        context.add_output_metadata({"remote_seen": engine.spark_remote == "sc://spark.example:443/;token=dapi-"
                                                                            "secret-1234",
                                     "master": str(engine.spark_master)})

    with_probe = dg.Definitions.merge(defs, dg.Definitions(assets=[probe]))
    # changed after the definitions were built: a run reads the value when it starts
    monkeypatch.setenv("ODIBI_SPARK_REMOTE", "sc://spark.example:443/;token=dapi-secret-1234")
    result = dg.materialize([probe], resources=with_probe.resources)
    metadata = result.asset_materializations_for_node("probe")[0].metadata
    assert metadata["remote_seen"].value is True and metadata["master"].value == "spark://master.example:7077"
    snapshot = serialize_value(RepositorySnap.from_def(with_probe.get_repository_def()))
    assert "ODIBI_SPARK_REMOTE" in snapshot and "dapi-" not in snapshot
