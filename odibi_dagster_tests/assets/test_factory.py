"""Config to asset definitions: keys, groups, kinds, tags, owners, lineage, retries, jobs, schedules."""

import dagster as dg
import pytest

from odibi_dagster.assets import build_definitions
from odibi_dagster.assets.jobs import layer_concurrency_limits
from odibi_dagster.config import load_project_folder


@pytest.fixture
def demo_defs(demo_dir, storage):
    return build_definitions(load_project_folder(demo_dir), storage_root_dir=storage)


def specs_by_key(defs):
    return {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}


def test_one_asset_per_source_and_output(demo_defs):
    assert sorted(specs_by_key(demo_defs)) == [
        "energy_efficiency/bronze/boilers", "energy_efficiency/bronze/plants",
        "energy_efficiency/bronze/sensor_readings", "energy_efficiency/bronze/sensor_readings_quarantine",
        "energy_efficiency/bronze/weather",
        "energy_efficiency/gold/efficiency_alerts", "energy_efficiency/gold/plant_daily_efficiency",
        "energy_efficiency/gold/plant_summary", "energy_efficiency/silver/boiler_assets",
        "energy_efficiency/silver/boiler_daily", "energy_efficiency/silver/sensor_readings",
    ]


def test_groups_kinds_tags_owners_descriptions(demo_defs):
    specs = specs_by_key(demo_defs)
    daily = specs["energy_efficiency/silver/boiler_daily"]
    assert daily.group_name == "Silver_2"
    assert daily.kinds == {"pandas", "delta"}  # merge output -> Delta
    assert daily.tags["layer"] == "Silver_2"
    assert daily.tags["transformation_id"] == "energy-boiler-daily-silver"
    assert daily.tags["plant"] == "combined" and daily.tags["asset"] == "all_boilers"  # tag-safe value
    assert daily.tags["energy"] == "" and daily.tags["demo"] == ""
    assert daily.owners == ["team:energy_analytics"]
    assert daily.description.startswith("Daily fuel, steam and efficiency per boiler")
    assert daily.metadata["odibi/module"] == "energy_functions"
    plants = specs["energy_efficiency/bronze/plants"]
    assert plants.group_name == "Bronze" and plants.kinds == {"pandas", "parquet", "csv"}  # + the source's format
    assert plants.tags["source_id"] == "src-plants" and plants.description.startswith("Plant register (CSV)\n")


def test_lineage_from_inputs(demo_defs):
    specs = specs_by_key(demo_defs)
    deps = lambda key: sorted(dep.asset_key.to_user_string() for dep in specs[key].deps)
    assert deps("energy_efficiency/gold/plant_daily_efficiency") == [
        "energy_efficiency/bronze/weather", "energy_efficiency/silver/boiler_daily"]
    assert deps("energy_efficiency/gold/efficiency_alerts") == deps("energy_efficiency/gold/plant_daily_efficiency")
    assert deps("energy_efficiency/bronze/plants") == []


def test_multi_output_row_is_one_subsettable_multi_asset(demo_defs):
    multi = next(a for a in demo_defs.assets if a.op.name.endswith("plant_daily_gold"))
    assert len(multi.keys) == 2 and multi.can_subset
    assert multi.op.name == "energy_efficiency__energy_plant_daily_gold"


def test_retry_policy_default_and_from_manifest(project_writer, storage):
    import yaml

    root = project_writer.write(
        transformations=[{"transformation_id": "t", "layer": "Silver", "function": "f", "outputs": [{"table": "s.t"}]}],
        functions="def f():\n    return pd.DataFrame({'a': [1]})\n")
    manifest = yaml.safe_load((root / "manifest.yaml").read_text())
    manifest.pop("retry")  # a manifest that does not mention retries: the documented default
    (root / "manifest.yaml").write_text(yaml.safe_dump(manifest))
    retry = next(iter(build_definitions(load_project_folder(root), storage_root_dir=storage).assets)).op.retry_policy
    assert (retry.max_retries, retry.delay, retry.backoff) == (3, 2, dg.Backoff.EXPONENTIAL)
    root = project_writer.write(
        manifest={"retry": {"max_retries": 1, "delay": 0.5, "backoff": "linear"}},
        transformations=[{"transformation_id": "t", "layer": "Silver", "function": "f", "outputs": [{"table": "s.t"}]}],
        functions="def f():\n    return pd.DataFrame({'a': [1]})\n")
    defs = build_definitions(load_project_folder(root), storage_root_dir=storage)
    retry = next(iter(defs.assets)).op.retry_policy
    assert (retry.max_retries, retry.delay, retry.backoff) == (1, 0.5, dg.Backoff.LINEAR)
    (root / "manifest.yaml").write_text((root / "manifest.yaml").read_text().replace(
        "max_retries: 1", "max_retries: 0"))
    defs = build_definitions(load_project_folder(root), storage_root_dir=storage)
    assert next(iter(defs.assets)).op.retry_policy is None


def test_jobs_per_layer_and_project(demo_defs):
    jobs = {job.name for job in demo_defs.resolve_all_job_defs()}
    assert {"energy_efficiency", "energy_efficiency__Bronze", "energy_efficiency__Silver_1",
            "energy_efficiency__Silver_2", "energy_efficiency__Gold_1", "energy_efficiency__Gold_2"} <= jobs
    silver = demo_defs.resolve_job_def("energy_efficiency__Silver_1")
    assert sorted(k.to_user_string() for k in silver.asset_layer.executable_asset_keys) == [
        "energy_efficiency/silver/boiler_assets", "energy_efficiency/silver/sensor_readings"]
    whole = demo_defs.resolve_job_def("energy_efficiency")
    assert len(whole.asset_layer.executable_asset_keys) == 11  # with bronze.sensor_readings_quarantine


def test_schedules_from_manifest(demo_defs, project_writer, storage):
    schedule = demo_defs.resolve_schedule_def("energy_efficiency_daily")
    assert schedule.cron_schedule == "0 6 * * *" and schedule.job_name == "energy_efficiency__energy_efficiency_daily_job"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    root = project_writer.write(
        manifest={"schedules": [{"name": "gold_hourly", "cron": "0 * * * *", "layers": ["Gold"],
                                 "default_status": "running"},
                                {"name": "by_selection", "cron": "5 * * * *", "selection": "group:Silver"}]},
        transformations=[{"transformation_id": "t", "layer": "Gold", "function": "f", "outputs": [{"table": "g.t"}]}],
        functions="def f():\n    return pd.DataFrame({'a': [1]})\n")
    defs = build_definitions(load_project_folder(root), storage_root_dir=storage)
    hourly = defs.resolve_schedule_def("gold_hourly")
    assert hourly.default_status == dg.DefaultScheduleStatus.RUNNING
    job = defs.resolve_job_def(hourly.job_name)
    assert [k.to_user_string() for k in job.asset_layer.executable_asset_keys] == ["test_project/g/t"]
    assert defs.resolve_schedule_def("by_selection").cron_schedule == "5 * * * *"


def test_executor_in_process_by_default_and_layer_limits_for_multiprocess(demo_defs, project_writer, storage):
    assert demo_defs.executor is dg.in_process_executor
    root = project_writer.write(
        manifest={"executor": "multiprocess", "layers": {"Silver": {"max_workers": 1}, "Gold": {"max_workers": 3}}},
        transformations=[{"transformation_id": "t", "layer": "Silver", "function": "f", "outputs": [{"table": "s.t"}]}],
        functions="def f():\n    return pd.DataFrame({'a': [1]})\n")
    project = load_project_folder(root)
    defs = build_definitions(project, storage_root_dir=storage)
    assert defs.executor.name == "odibi_multiprocess"
    assert layer_concurrency_limits(project) == [{"key": "odibi/layer", "value": "Silver", "limit": 1},
                                                 {"key": "odibi/layer", "value": "Gold", "limit": 3}]
    assert next(iter(defs.assets)).op.tags["odibi/layer"] == "Silver"  # the tag the limits match


def test_other_environments_and_disabled_rows_make_no_asset(demo_dir, storage):
    qat = specs_by_key(build_definitions(load_project_folder(demo_dir), storage_root_dir=storage))
    prod = specs_by_key(build_definitions(load_project_folder(demo_dir, env="prod"), storage_root_dir=storage))
    assert set(prod) - set(qat) == {"energy_efficiency/gold/plant_summary_export"}
    assert not any("dryers" in key for key in prod)


def test_engine_override_sets_kinds(project_writer, storage):
    root = project_writer.write(
        transformations=[{"transformation_id": "t", "layer": "Silver", "function": "f",
                          "constants": {"engine": "spark"}, "outputs": [{"table": "s.t"}]}],
        functions="def f():\n    return pd.DataFrame({'a': [1]})\n")
    spec = next(iter(build_definitions(load_project_folder(root), storage_root_dir=storage)
                     .resolve_all_asset_specs()))
    assert spec.kinds == {"spark", "delta"}


def test_a_translator_subclass_changes_keys_groups_and_tags_and_the_assets_still_run(demo_dir, storage):
    """As with dagster-dbt's translator: override a ``get_*`` method; lineage and storage follow."""
    from odibi_dagster.assets.specs import OdibiTranslator
    from odibi_dagster.engines.arrow_tables import read_frame
    from odibi_dagster.engines.storage import TableLocation

    class WarehouseTranslator(OdibiTranslator):
        def get_asset_key(self, project, table):
            return dg.AssetKey(["warehouse", *table.split(".")])

        def get_group_name(self, project, layer):
            return f"energy_{layer.lower()}"

        def get_tags(self, project, row):
            return {"domain": "energy"}  # the project's own tags (layer, ids) dropped

        def get_owners(self, project):
            return ["team:energy-analytics"]

    project = load_project_folder(demo_dir)
    defs = build_definitions(project, storage_root_dir=storage, translator=WarehouseTranslator())
    specs = {spec.key: spec for spec in defs.resolve_all_asset_specs()}
    summary = specs[dg.AssetKey(["warehouse", "gold", "plant_summary"])]
    tags = {key: value for key, value in summary.tags.items() if not key.startswith("dagster/kind/")}
    assert (summary.group_name, tags, summary.owners) == ("energy_gold_2", {"domain": "energy"},
                                                          ["team:energy-analytics"])
    assert {dep.asset_key for dep in summary.deps} == {dg.AssetKey(["warehouse", "gold", "plant_daily_efficiency"])}
    # the project's jobs follow the translator's keys (not the slug prefix, groups or tags it changed)
    gold_2 = defs.resolve_job_def("energy_efficiency__Gold_2").asset_layer.executable_asset_keys
    assert gold_2 == {dg.AssetKey(["warehouse", "gold", "plant_summary"])}
    with dg.instance_for_test() as instance:
        assert defs.resolve_job_def("energy_efficiency").execute_in_process(instance=instance).success
    stored = read_frame(TableLocation(storage, "qat", "energy_efficiency", "Gold_2", "gold.plant_summary"))
    assert len(stored) == 4  # storage is the project's, whatever the keys
