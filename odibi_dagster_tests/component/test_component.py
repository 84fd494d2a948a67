"""The Component in Dagster's own component sandbox (``create_defs_folder_sandbox``): the scaffolder,
loading one and several projects into one code location, post-processing, and bad ``defs.yaml``s.
The real ``create-dagster`` / ``dg`` commands are driven in ``test_dg_cli.py``."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import dagster as dg
import pandas as pd
import pydantic
import pytest
import yaml
from dagster.components.testing import create_defs_folder_sandbox

from odibi_dagster import OdibiProjectComponent
from odibi_dagster.config import load_project_folder
from odibi_dagster.config.sql import export_project
from odibi_dagster.engines.arrow_tables import read_frame
from odibi_dagster.engines.storage import TableLocation

COMPONENT = "odibi_dagster.OdibiProjectComponent"


def write_defs(folder: Path, attributes: dict, extra: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "defs.yaml").write_text(yaml.safe_dump({"type": COMPONENT, "attributes": attributes, **(extra or {})}))
    return folder


def small_project(folder: Path, name: str, factor: int) -> Path:
    """A project whose functions module is `functions.py`, as in every other project of this kind."""
    folder.mkdir(parents=True)
    (folder / "manifest.yaml").write_text(yaml.safe_dump({
        "project_name": name, "layer_order": ["Bronze", "Silver"], "default_engine": "pandas",
        "retry": {"max_retries": 0}, "schedules": [{"name": "nightly", "cron": "0 2 * * *"}],
        "transformation_modules": ["functions"]}))
    (folder / "sources.yaml").write_text(yaml.safe_dump([{
        "source_id": "numbers", "source_name": "bronze.numbers", "file_format": "csv",
        "source_path_or_query": "numbers.csv"}]))
    (folder / "transformations.yaml").write_text(yaml.safe_dump([{
        "transformation_id": "scale", "layer": "Silver", "module": "functions", "function": "scale",
        "inputs": ["bronze.numbers"], "outputs": [{"table": "silver.numbers"}]}]))
    (folder / "functions.py").write_text(textwrap.dedent(f"""
        from odibi_dagster import odibi_function

        @odibi_function(module="functions")
        def scale(inputs):
            frame = inputs["bronze.numbers"].copy()
            frame["value"] = frame["value"] * {factor}
            return frame
        """))
    (folder / "numbers.csv").write_text("id,value\n1,1\n2,2\n")
    return folder


def names(defs: dg.Definitions) -> dict[str, set[str]]:
    repo = defs.get_repository_def()
    return {"jobs": {job.name for job in repo.get_all_jobs()}, "schedules": {s.name for s in repo.schedule_defs},
            "sensors": {s.name for s in repo.sensor_defs}, "resources": set(repo.get_top_level_resources())}


def test_the_scaffolder_writes_a_commented_defs_yaml_and_a_starter_project_that_loads_and_runs(tmp_path,
                                                                                                  monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ODIBI_STORAGE_ROOT", raising=False)
    with create_defs_folder_sandbox() as sandbox:
        path = sandbox.scaffold_component(component_cls=OdibiProjectComponent, defs_path="energy")
        text = (path / "defs.yaml").read_text()
        assert text.startswith(f"type: {COMPONENT}\n")
        assert yaml.safe_load(text)["attributes"] == {"project_dir": "energy"}
        for attribute in ("project_dir", "config_db", "project", "env", "engine", "storage_root"):
            line = next(line for line in text.splitlines() if line.lstrip("# ").startswith(f"{attribute}:"))
            comment = text.splitlines()[text.splitlines().index(line) - 1]
            assert comment.lstrip().startswith("#"), f"no comment above {attribute}"
        assert load_project_folder(path / "energy").slug == "energy"
        with sandbox.build_all_defs() as defs:
            keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
            assert {"energy/bronze/readings", "energy/bronze/entities", "energy/gold/daily_totals"} <= keys
            assert {"energy", "energy__Bronze"} <= names(defs)["jobs"]
            assert names(defs)["resources"] == {"odibi_engine__energy", "odibi_io_manager__energy"}
            with dg.instance_for_test() as instance:
                result = defs.resolve_job_def("energy").execute_in_process(instance=instance)
            assert result.success
            assert len(result.get_asset_materialization_events()) == len(keys)
        # no storage_root: odibi_storage in the dg project's root, not the working directory
        assert (sandbox.project_root / "odibi_storage" / "qat" / "energy").is_dir()
    assert not (tmp_path / "odibi_storage").exists()


def test_scaffold_params_are_checked_before_anything_is_written():
    with create_defs_folder_sandbox() as sandbox:
        for params, message in (({"project_dr": "x"}, "project_dr\n  Extra inputs are not permitted"),
                                ({"project_type": "rocket"}, ("project_type\n  Input should be 'manufacturing', "
                                                              "'analytics', 'ml_pipeline', 'data_integration' or "
                                                              "'custom'"))):
            with pytest.raises(pydantic.ValidationError, match=re.escape(message)):
                sandbox.scaffold_component(component_cls=OdibiProjectComponent, defs_path="bad", scaffold_params=params)
            assert not (sandbox.defs_folder_path / "bad" / "defs.yaml").exists()


def test_scaffolding_for_an_existing_project_points_at_it(tmp_path):
    with create_defs_folder_sandbox() as sandbox:
        path = sandbox.scaffold_component(component_cls=OdibiProjectComponent, defs_path="plant",
                                          scaffold_params={"project_dir": "../../../../projects/plant"})
        assert yaml.safe_load((path / "defs.yaml").read_text())["attributes"] == {
            "project_dir": "../../../../projects/plant"}
        assert sorted(item.name for item in path.iterdir()) == ["defs.yaml"]


def test_two_projects_load_side_by_side_with_their_own_resources_and_same_named_modules(tmp_path):
    storage = {"alpha": tmp_path / "store_a", "beta": tmp_path / "store_b"}
    with create_defs_folder_sandbox() as sandbox:
        for slug, factor in (("alpha", 10), ("beta", 100)):
            small_project(tmp_path / "projects" / slug, slug.title(), factor)
            write_defs(sandbox.defs_folder_path / slug, {"project_dir": str(tmp_path / "projects" / slug),
                                                           "storage_root": str(storage[slug]), "env": "prod"})
        with sandbox.build_all_defs() as defs:
            found = names(defs)
            assert {"alpha", "beta", "alpha__Silver", "beta__Silver"} <= found["jobs"]
            assert found["schedules"] == {"alpha__nightly", "beta__nightly"}
            assert found["resources"] == {"odibi_engine__alpha", "odibi_io_manager__alpha",
                                          "odibi_engine__beta", "odibi_io_manager__beta"}
            assert {"alpha_hooks_steps", "beta_hooks_steps"} <= found["sensors"]
            with dg.instance_for_test() as instance:
                for slug in ("alpha", "beta"):
                    assert defs.resolve_job_def(slug).execute_in_process(instance=instance).success
    for slug, factor in (("alpha", 10), ("beta", 100)):
        silver = pd.read_parquet(TableLocation(storage[slug], "prod", slug, "Silver", "silver.numbers").parquet_file)
        assert silver["value"].tolist() == [factor, 2 * factor]  # each project ran its own functions.py
        assert not (storage[slug] / "prod" / ("beta" if slug == "alpha" else "alpha")).exists()


def test_unset_attributes_fall_back_to_the_environment_and_the_scoped_key_switches_the_engine(
        tmp_path, monkeypatch, spark):
    folder = small_project(tmp_path / "alpha", "Alpha", 2)
    pandas_only = (folder / "functions.py").read_text().replace('@odibi_function(module="functions")',
                                                                 '@odibi_function(module="functions", engine="pandas")')
    (folder / "functions.py").write_text(pandas_only)
    with (folder / "functions.py").open("a") as functions:  # the same function for Spark
        functions.write(textwrap.dedent("""
            @odibi_function(module="functions", engine="spark", name="scale")
            def scale_on_spark(inputs):
                from pyspark.sql import functions as F
                return inputs["bronze.numbers"].withColumn("value", F.col("value") * 2)
            """))
    monkeypatch.setenv("ODIBI_ENV", "prod")
    monkeypatch.setenv("ODIBI_STORAGE_ROOT", str(tmp_path / "store"))
    with create_defs_folder_sandbox() as sandbox:
        write_defs(sandbox.defs_folder_path / "alpha", {"project_dir": str(folder)})
        with sandbox.build_all_defs() as defs, dg.instance_for_test() as instance:
            result = defs.resolve_job_def("alpha").execute_in_process(
                instance=instance, run_config={"resources": {"odibi_engine__alpha": {"config": {"engine": "spark"}}}})
            assert result.success
            meta = instance.get_latest_materialization_event(
                dg.AssetKey(["alpha", "silver", "numbers"])).asset_materialization.metadata
    assert (meta["engine"].value, meta["format"].value) == ("spark", "delta")
    silver = TableLocation(tmp_path / "store", "prod", "alpha", "Silver", "silver.numbers")  # ODIBI_ENV, ..._ROOT
    assert silver.stored_format() == "delta" and sorted(read_frame(silver)["value"]) == [2, 4]


def test_post_processing_changes_asset_attributes_and_the_layer_jobs_still_select_the_layer(tmp_path):
    small_project(tmp_path / "alpha", "Alpha", 1)
    with create_defs_folder_sandbox() as sandbox:
        write_defs(sandbox.defs_folder_path / "alpha", {"project_dir": str(tmp_path / "alpha")}, extra={
            "post_processing": {"assets": [{"target": "group:Silver", "attributes": {
                "tags": {"team": "data"}, "group_name": "curated"}}]}})
        with sandbox.build_all_defs() as defs:
            graph = defs.resolve_asset_graph()
            silver = graph.get(dg.AssetKey(["alpha", "silver", "numbers"]))
            bronze = graph.get(dg.AssetKey(["alpha", "bronze", "numbers"]))
            assert silver.tags["team"] == "data" and "team" not in bronze.tags
            assert silver.tags["layer"] == "Silver" and silver.group_name == "curated"  # the project's tags stay
            job = defs.resolve_job_def("alpha__Silver")
            assert job.asset_layer.executable_asset_keys == {silver.key}  # selected by layer, not by group


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_config_tables_load_through_the_component(tmp_path, request, database):
    folder = small_project(tmp_path / "alpha", "Alpha", 3)
    url = f"sqlite:///{tmp_path / 'config.db'}" if database == "sqlite" else request.getfixturevalue("postgres_url")
    export_project(folder, url)
    with create_defs_folder_sandbox() as sandbox:
        write_defs(sandbox.defs_folder_path / "alpha", {"config_db": url, "project": "Alpha",
                                                          "storage_root": str(tmp_path / "store")})
        with sandbox.build_all_defs() as defs:
            assert defs.resolve_asset_graph().has(dg.AssetKey(["alpha", "silver", "numbers"]))
            with dg.instance_for_test() as instance:
                assert defs.resolve_job_def("alpha").execute_in_process(instance=instance).success
    silver = pd.read_parquet(TableLocation(tmp_path / "store", "qat", "alpha", "Silver", "silver.numbers").parquet_file)
    assert silver["value"].tolist() == [3, 6]  # the functions module found through the stored project_root


@pytest.mark.parametrize(("attributes", "message"), [
    ({"project_dir": "x", "config_db": "sqlite:///c.db", "project": "X"}, "give either `project_dir` or `config_db`"),
    ({}, "give `project_dir` (a project folder) or `config_db` with `project`"),
    ({"config_db": "sqlite:///c.db"}, "`config_db` needs `project`"),
    ({"config_db": "postgresql://etl:Pa55word@db/config"}, "field 'attributes.project': `config_db` needs `project`"),
    ({"config_db": "postgresql://etl:Pa55word@db/config", "project_dir": "x"}, "not both"),
    ({"project_dir": "nowhere"}, "project_dir 'nowhere' is not a folder"),
    ({"project_dir": "x", "engine": "polars"}, "Input should be 'pandas' or 'spark'"),
    ({"project_dir": "x", "storage_rot": "/data"}, "storage_rot"),
])
def test_a_bad_defs_yaml_fails_the_load_naming_the_attribute(attributes, message):
    with create_defs_folder_sandbox() as sandbox:
        write_defs(sandbox.defs_folder_path / "bad", attributes)
        with pytest.raises(Exception) as error, sandbox.build_all_defs():
            pass
        text = "".join(str(item) for item in _chain(error.value))
        assert message in text
        assert "defs.yaml" in text
        assert "Pa55word" not in text


def test_a_reload_after_the_projects_swapped_folders_loads(tmp_path):
    """Loading again in one process (a reload) is a new load: no project counts as already loaded."""
    for slug in ("alpha", "beta"):
        small_project(tmp_path / slug, slug.title(), 1)
    with create_defs_folder_sandbox() as sandbox:
        for first, second in (("alpha", "beta"), ("beta", "alpha")):
            write_defs(sandbox.defs_folder_path / "one", {"project_dir": str(tmp_path / first)})
            write_defs(sandbox.defs_folder_path / "two", {"project_dir": str(tmp_path / second)})
            with sandbox.build_all_defs() as defs:
                assert {"alpha", "beta"} <= names(defs)["jobs"]


def test_two_components_loading_one_project_are_refused_naming_both(tmp_path):
    small_project(tmp_path / "alpha", "Alpha", 1)
    with create_defs_folder_sandbox() as sandbox:
        for name in ("first", "second"):
            write_defs(sandbox.defs_folder_path / name, {"project_dir": str(tmp_path / "alpha")})
        with pytest.raises(Exception) as error, sandbox.build_all_defs():
            pass
        text = "".join(str(item) for item in _chain(error.value))
        first, second = (str(sandbox.defs_folder_path / name / "defs.yaml") for name in ("first", "second"))
        said = "{}, field 'attributes': project 'alpha' is already loaded by {}"
        assert said.format(second, first) in text or said.format(first, second) in text  # both, in load order


def test_a_config_error_in_the_project_names_its_file_row_and_field(tmp_path):
    folder = small_project(tmp_path / "alpha", "Alpha", 1)
    rows = yaml.safe_load((folder / "transformations.yaml").read_text())
    rows[0]["layer"] = "Silvr"
    (folder / "transformations.yaml").write_text(yaml.safe_dump(rows))
    with create_defs_folder_sandbox() as sandbox:
        write_defs(sandbox.defs_folder_path / "alpha", {"project_dir": str(folder)})
        with pytest.raises(Exception) as error, sandbox.build_all_defs():
            pass
        text = "".join(str(item) for item in _chain(error.value))
        assert f"{folder / 'transformations.yaml'}:1, row 'scale', field 'layer': layer 'Silvr' is not in " \
               f"layer_order" in text


def _chain(error: BaseException):
    while error is not None:
        yield error
        error = error.__cause__ or error.__context__
