"""Declarative automation from the manifest's ``automation:``, evaluated by Dagster's own
``evaluate_automation_conditions`` over a real instance after real runs (the daemon's sensor is
in ``hooks/test_daemon_schedules.py``)."""

from __future__ import annotations

import dagster as dg
import pytest

from odibi_dagster.assets import build_definitions
from odibi_dagster.config import load_project_folder
from odibi_dagster.config.errors import ConfigError

BRONZE = dg.AssetKey(["test_project", "bronze", "orders"])
SILVER = dg.AssetKey(["test_project", "silver", "orders"])
GOLD = dg.AssetKey(["test_project", "gold", "orders"])


def write_project(project_writer, automation, bronze_checks=()):
    return project_writer.write(
        manifest={"automation": automation},
        sources=[{"source_id": "orders", "source_name": "bronze.orders", "file_format": "csv",
                  "source_path_or_query": "orders.csv", "checks": list(bronze_checks)}],
        transformations=[
            {"transformation_id": "clean", "layer": "Silver", "function": "same", "inputs": ["bronze.orders"],
             "outputs": [{"table": "silver.orders"}]},
            {"transformation_id": "total", "layer": "Gold", "function": "same", "inputs": ["silver.orders"],
             "outputs": [{"table": "gold.orders"}]}],
        functions="""
        @odibi_function(module="{module}")
        def same(inputs):
            return next(iter(inputs.values()))
        """.replace("{module}", project_writer.module),
        data={"orders.csv": "order_id,amount\n1,10\n2,20\n"})


def requested(result) -> set[dg.AssetKey]:
    return {key for key in (BRONZE, SILVER, GOLD) if result.get_num_requested(key)}


@pytest.fixture
def instance():
    with dg.instance_for_test() as test_instance:
        yield test_instance


def test_each_rule_becomes_its_automation_condition_and_the_sensor_targets_the_project(project_writer, storage):
    root = write_project(project_writer, {"default": "on_missing", "Silver": "eager",
                                          "Gold": {"on_cron": "0 6 * * *", "timezone": "Europe/Berlin"}})
    defs = build_definitions(load_project_folder(root), storage_root_dir=storage)
    graph = defs.resolve_asset_graph()
    conditions = {key: graph.get(key).automation_condition for key in (BRONZE, SILVER, GOLD)}
    assert conditions[BRONZE] == dg.AutomationCondition.on_missing()
    assert conditions[SILVER] == dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
    assert conditions[GOLD] == dg.AutomationCondition.on_cron("0 6 * * *", "Europe/Berlin")
    sensor = next(sensor for sensor in defs.sensors if sensor.name == "test_project_automation")
    assert isinstance(sensor, dg.AutomationConditionSensorDefinition)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.asset_selection.resolve(graph) == {BRONZE, SILVER, GOLD}


@pytest.mark.parametrize("nothing", [{}, None])  # None: `automation:` with nothing under it
def test_without_automation_no_asset_has_a_condition_and_there_is_no_sensor(project_writer, storage, nothing):
    defs = build_definitions(load_project_folder(write_project(project_writer, nothing)), storage_root_dir=storage)
    graph = defs.resolve_asset_graph()
    assert all(graph.get(key).automation_condition is None for key in (BRONZE, SILVER, GOLD))
    assert [sensor.name for sensor in defs.sensors or []] == []


def test_bronze_materialized_makes_eager_silver_requested_and_not_the_unautomated_gold(project_writer, storage,
                                                                                        instance):
    root = write_project(project_writer, {"Silver": "eager"})
    defs = build_definitions(load_project_folder(root), storage_root_dir=storage)
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert requested(first) == set()  # nothing materialized yet: silver waits for its input
    assert dg.materialize([defs.get_assets_def(BRONZE)], instance=instance,
                          resources=defs.resources, selection=[BRONZE]).success
    second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert requested(second) == {SILVER}


def test_eager_silver_waits_while_a_blocking_check_of_bronze_has_failed(project_writer, storage, instance):
    root = write_project(project_writer, {"Silver": "eager"},
                         bronze_checks=[{"type": "row_count", "min": 1, "on_fail": "fail"}])
    defs = build_definitions(load_project_folder(root), storage_root_dir=storage)
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    job = defs.resolve_implicit_global_asset_job_def()
    assert job.get_subset(asset_selection={BRONZE}).execute_in_process(instance=instance).success
    # the same check made stricter and run alone on the stored table (the UI's "Execute checks"): it fails
    strict = build_definitions(load_project_folder(write_project(
        project_writer, {"Silver": "eager"}, bronze_checks=[{"type": "row_count", "min": 5, "on_fail": "fail"}])),
        storage_root_dir=storage)
    check = dg.AssetCheckKey(BRONZE, "row_count")
    checks_only = strict.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection=set(), asset_check_selection={check})
    checks_only.execute_in_process(instance=instance, raise_on_error=False)
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key([check])[check]
    assert latest.status.value == "FAILED"
    blocked = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert requested(blocked) == set()
    # positive control: the check passes again, and silver is requested
    assert job.get_subset(asset_selection=set(), asset_check_selection={check}).execute_in_process(
        instance=instance).success
    passed = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=blocked.cursor)
    assert requested(passed) == {SILVER}


@pytest.mark.parametrize(("automation", "message"), [
    ({"Silver": "lazy"}, "automation for 'Silver' is 'lazy'; choose eager, on_missing or on_cron"),
    ({"Silver": "on_cron"}, "write it as {on_cron: '0 6 * * *'}"),
    ({"Silver": {"on_cron": "0 25 * * *"}}, "cron '0 25 * * *' is not a cron expression"),
    ({"Silver": {"on_cron": "0 6 * * *", "timezone": "Mars/Base"}}, "time zone 'Mars/Base' is not an IANA"),
    ({"Silvr": "eager"}, "layer 'Silvr' is not in layer_order (did you mean 'Silver'?)"),
    ("eager", "automation maps a layer (or default) to a rule, e.g. {default: eager}; got 'eager'"),
    ({"Silver": 5}, "automation for 'Silver' is 5; choose eager, on_missing or on_cron"),
    ({"Silver": ["eager"]}, "automation for 'Silver' is ['eager']; choose eager"),
])
def test_a_bad_automation_rule_is_a_config_error_naming_the_field(project_writer, automation, message):
    with pytest.raises(ConfigError) as error:
        load_project_folder(write_project(project_writer, automation))
    assert message in str(error.value)
    assert "manifest.yaml" in str(error.value) and "automation" in str(error.value)
