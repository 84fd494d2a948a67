"""Checks in real Dagster runs: asset check results, drop, quarantine, blocking, checks alone,
the log record's quality fields and the ``check_failure`` hook (live and through the sensor)."""

import json
import time

import dagster as dg
import pandas as pd
import pytest

from odibi_dagster.assets import build_definitions
from odibi_dagster.config import load_project_folder
from odibi_dagster.engines.arrow_tables import read_frame
from odibi_dagster.engines.storage import TableLocation
from odibi_dagster.hooks.sensors import build_hook_sensors
from odibi_dagster.logging import read_transformation_log
from odibi_dagster_tests.assets.test_runs import failures, run, started

ORDERS = """
order_id,customer_id,status,amount,discount,email
1,10,placed,100.0,5,a@x.org
2,11,shipped,-3.0,-5,b@x.org
2,12,bogus,50.0,60,c@x.org
4,,placed,10.0,0,not-an-email
5,14,returned,20.0,1,e@x.org
"""
FUNCS = """
def passthrough(inputs):
    return next(iter(inputs.values()))

def count_rows(inputs):
    frame = next(iter(inputs.values()))
    return pd.DataFrame({"rows": [len(frame)]})
"""
SILVER_CHECKS = [
    {"type": "not_null", "columns": ["customer_id"], "on_fail": "quarantine"},
    {"type": "unique", "columns": ["order_id"], "on_fail": "warn"},
    {"type": "range", "column": "amount", "min": 0, "on_fail": "drop"},
    {"type": "regex", "column": "email", "pattern": "[^@ ]+@[^@ ]+", "on_fail": "quarantine"},
    {"type": "expression", "expr": "amount >= discount", "on_fail": "quarantine", "name": "amount_covers_discount"},
]
HOOKS = """
import json, os

def register(hooks):
    def write(payload):
        with open(os.environ["ODIBI_TEST_HOOK_LOG"], "a") as handle:
            handle.write(json.dumps(payload, default=str) + "\\n")
    hooks.register("check_failure", write, {"severity": "ERROR"})
"""


def write_orders_project(project_writer, *, silver_checks=SILVER_CHECKS, gold_checks=(), gate=None, manifest=None,
                         orders=ORDERS, hooks=False):
    silver = {"table": "silver.orders", "checks": list(silver_checks)}
    if gate is not None:
        silver["quality_gate"] = {"min_pass_rate": gate}
    module = f"hooks_{project_writer.module}"
    root = project_writer.write(
        manifest={**(manifest or {}), **({"hooks_module": module} if hooks else {})},
        sources=[{"source_id": "src-orders", "source_name": "bronze.orders", "file_format": "csv",
                  "source_path_or_query": "orders.csv", "checks": [{"type": "row_count", "min": 1}]}],
        data={"orders.csv": orders}, functions=FUNCS, transformations=[
            {"transformation_id": "clean-orders", "layer": "Silver", "function": "passthrough",
             "inputs": ["bronze.orders"], "outputs": [silver]},
            {"transformation_id": "gold-orders", "layer": "Gold", "function": "count_rows",
             "inputs": ["silver.orders"], "outputs": [{"table": "gold.orders", "checks": list(gold_checks)}]}])
    if hooks:
        (root / f"{module}.py").write_text(HOOKS)
    return root


def stored(storage, layer, table):
    return read_frame(TableLocation(storage, "qat", "test_project", layer, table))


def check_execution(instance, key, name):
    return instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey.from_user_string(key), name)])[dg.AssetCheckKey(
            dg.AssetKey.from_user_string(key), name)]


@pytest.fixture
def instance():
    with dg.instance_for_test() as test_instance:
        yield test_instance


def test_checks_drop_quarantine_and_warn_and_report_asset_check_results(project_writer, storage, instance):
    project = load_project_folder(write_orders_project(project_writer))
    defs = build_definitions(project, storage_root_dir=storage)
    result = run(defs, instance)
    assert result.success
    # rows: 1 kept; 2 (amount -3) dropped; 3 (discount > amount), 4 (null customer, bad e-mail) quarantined; 5 kept
    assert stored(storage, "Silver", "silver.orders")["order_id"].tolist() == [1, 5]
    quarantine = stored(storage, "Silver", "silver.orders_quarantine")
    assert quarantine["order_id"].tolist() == [2, 4]
    assert quarantine["_failed_checks"].tolist() == ["unique__order_id,amount_covers_discount",
                                                     "not_null__customer_id,regex__email"]
    assert set(quarantine["_run_id"]) == {result.run_id}
    assert str(quarantine["_quarantined_at"].dtype) == "datetime64[us, UTC]"
    assert stored(storage, "Gold", "gold.orders")["rows"].tolist() == [2]

    evaluation = check_execution(instance, "test_project/silver/orders", "regex__email").event.dagster_event
    data = evaluation.event_specific_data
    assert (data.passed, data.severity) == (False, dg.AssetCheckSeverity.WARN)
    metadata = {key: value.value for key, value in data.metadata.items()}
    assert (metadata["failed_rows"], metadata["total_rows"], metadata["pass_rate"]) == (1, 5, 0.8)
    assert metadata["sample"].splitlines()[2] == "| 4 | null | placed | 10.0 | 0 | not-an-email |"
    assert isinstance(data.metadata["sample"], dg.MarkdownMetadataValue)  # a table on the check's page
    assert check_execution(instance, "test_project/bronze/orders", "row_count").event.dagster_event.\
        event_specific_data.passed

    record = read_transformation_log("Test Project", instance).set_index("transformation_id").loc["clean-orders"]
    assert (record["rows_in"], record["rows_out"], record["rows_dropped"], record["rows_quarantined"]) == (5, 2, 1, 2)
    assert record["checks_failed"] == "not_null__customer_id,unique__order_id,range__amount,regex__email," \
                                      "amount_covers_discount"
    bronze = read_transformation_log("Test Project", instance).set_index("transformation_id").loc["src-orders"]
    assert (bronze["rows_dropped"], bronze["rows_quarantined"], bronze["checks_failed"]) == (0, 0, "")
    gold = read_transformation_log("Test Project", instance).set_index("transformation_id").loc["gold-orders"]
    assert pd.isna(gold["rows_dropped"]) and gold["checks_failed"] is None  # no checks: no quality fields

    # a second run appends to the quarantine table
    assert run(defs, instance).success
    assert stored(storage, "Silver", "silver.orders_quarantine")["order_id"].tolist() == [2, 4, 2, 4]


def test_the_quarantine_table_is_an_asset_beside_its_table_and_an_input_like_any(project_writer, storage, instance):
    root = write_orders_project(project_writer)
    project = load_project_folder(root)
    defs = build_definitions(project, storage_root_dir=storage)
    graph = defs.resolve_asset_graph()
    quarantine = dg.AssetKey.from_user_string("test_project/silver/orders_quarantine")
    node = graph.get(quarantine)
    assert node.group_name == "Silver" and node.parent_keys == {dg.AssetKey.from_user_string(
        "test_project/bronze/orders")}
    checks = {key.name for key in graph.asset_check_keys if key.asset_key.path[-1] == "orders"}
    assert {"not_null__customer_id", "amount_covers_discount", "row_count"} <= checks
    blocking = {key.name for key in graph.asset_check_keys if graph.get_check_spec(key).blocking}
    assert blocking == {"row_count"}  # on_fail: fail (the default) blocks; drop, quarantine and warn do not


def test_a_failing_fail_check_writes_nothing_blocks_downstream_and_is_not_retried(project_writer, storage,
                                                                                  instance, monkeypatch, tmp_path):
    log = tmp_path / "hooks.jsonl"
    monkeypatch.setenv("ODIBI_TEST_HOOK_LOG", str(log))
    root = write_orders_project(project_writer, manifest={"retry": {"max_retries": 2, "delay": 0}}, hooks=True,
                                silver_checks=[{"type": "unique", "columns": ["order_id"], "on_fail": "warn"}])
    defs = build_definitions(load_project_folder(root), storage_root_dir=storage)
    assert run(defs, instance).success
    before = stored(storage, "Silver", "silver.orders")

    strict = write_orders_project(project_writer, manifest={"retry": {"max_retries": 2, "delay": 0}}, hooks=True,
                                  silver_checks=[{"type": "unique", "columns": ["order_id"]}],
                                  orders=ORDERS + "6,16,placed,1.0,0,f@x.org\n")
    defs = build_definitions(load_project_folder(strict), storage_root_dir=storage)
    result = run(defs, instance)
    assert not result.success
    step = "test_project__clean_orders"
    assert "check(s) 'unique__order_id' (2 of 6 rows) failed; nothing was written" in failures(result)[step]
    assert "test_project__gold_orders" not in started(result)  # downstream blocked
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]  # bad data: no retry
    pd.testing.assert_frame_equal(stored(storage, "Silver", "silver.orders"), before)  # the previous version
    data = check_execution(instance, "test_project/silver/orders", "unique__order_id").event.dagster_event.\
        event_specific_data
    assert (data.passed, data.severity, data.metadata["failed_rows"].value) == (False, dg.AssetCheckSeverity.ERROR, 2)
    log_records = read_transformation_log("Test Project", instance)
    record = log_records[log_records["run_id"] == result.run_id].set_index("transformation_id").loc["clean-orders"]
    assert record["status"] == "FAILED" and record["checks_failed"] == "unique__order_id"
    assert "nothing was written" in record["error_message"]


def test_a_failed_gate_writes_neither_the_table_nor_its_quarantine(project_writer, storage, instance):
    root = write_orders_project(project_writer, gate=0.9)
    result = run(build_definitions(load_project_folder(root), storage_root_dir=storage), instance)
    message = failures(result)["test_project__clean_orders"]
    assert "quality gate failed: 40.00% of 5 rows pass every row-level check, below min_pass_rate 90.00%" in message
    for table in ("silver.orders", "silver.orders_quarantine"):
        assert TableLocation(storage, "qat", "test_project", "Silver", table).stored_format() is None


def test_a_check_on_a_column_the_data_lacks_fails_before_writing(project_writer, storage, instance):
    root = write_orders_project(project_writer, silver_checks=[{"type": "not_null", "columns": ["customer"],
                                                                "on_fail": "drop"}])
    result = run(build_definitions(load_project_folder(root), storage_root_dir=storage), instance)
    assert ("transformation 'clean-orders' output 'silver.orders': check 'not_null__customer' names column(s) "
            "['customer'] that the data lacks") in failures(result)["test_project__clean_orders"]
    assert TableLocation(storage, "qat", "test_project", "Silver", "silver.orders").stored_format() is None


def test_executing_only_the_checks_reads_the_stored_table_and_rewrites_nothing(project_writer, storage, instance):
    root = write_orders_project(project_writer, gold_checks=[{"type": "row_count", "min": 5, "on_fail": "warn"}])
    defs = build_definitions(load_project_folder(root), storage_root_dir=storage)
    assert run(defs, instance).success
    silver = TableLocation(storage, "qat", "test_project", "Silver", "silver.orders")
    written = silver.parquet_file.stat().st_mtime_ns
    key = dg.AssetKey.from_user_string("test_project/silver/orders")
    job = defs.resolve_implicit_global_asset_job_def()
    # what the UI's "Execute checks" launches: the asset job subset to check keys alone
    checks_only = job.get_subset(asset_selection=set(), asset_check_selection={
        dg.AssetCheckKey(key, "regex__email"), dg.AssetCheckKey(key, "range__amount")})
    result = checks_only.execute_in_process(instance=instance)
    assert result.success
    assert silver.parquet_file.stat().st_mtime_ns == written
    assert not result.get_asset_materialization_events()
    evaluations = {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data
                   for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert set(evaluations) == {"regex__email", "range__amount"}
    # the stored table holds only the rows that passed: both checks pass on it
    assert all(e.passed and e.metadata["total_rows"].value == 2 for e in evaluations.values())
    assert "test_project__gold_orders" not in started(result)


def test_a_table_selected_without_its_quarantine_still_keeps_the_quarantined_rows(project_writer, storage,
                                                                                  instance):
    defs = build_definitions(load_project_folder(write_orders_project(project_writer)), storage_root_dir=storage)
    assert run(defs, instance, ["test_project/bronze/orders"]).success
    result = run(defs, instance, ["test_project/silver/orders"])
    assert result.success
    assert stored(storage, "Silver", "silver.orders_quarantine")["order_id"].tolist() == [2, 4]
    event = instance.get_latest_materialization_event(dg.AssetKey.from_user_string(
        "test_project/silver/orders_quarantine"))
    assert event.run_id == result.run_id and event.asset_materialization.metadata["odibi/rows_quarantined"].value == 2


def test_check_failure_fires_through_the_step_sensor_for_a_cli_or_ui_run(project_writer, storage, instance,
                                                                         monkeypatch, tmp_path):
    log = tmp_path / "hooks.jsonl"
    monkeypatch.setenv("ODIBI_TEST_HOOK_LOG", str(log))
    root = write_orders_project(project_writer, hooks=True, gold_checks=[{"type": "row_count", "min": 5}])
    project = load_project_folder(root)
    step_sensor = next(s for s in build_hook_sensors(project, "pandas") if s.name.endswith("_steps"))
    cursor = step_sensor.evaluate_tick(dg.build_sensor_context(instance=instance)).cursor
    time.sleep(0.01)
    result = run(build_definitions(project, storage_root_dir=storage), instance)
    assert not result.success
    for _ in range(3):
        cursor = step_sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor)).cursor
    payloads = [json.loads(line) for line in log.read_text().splitlines()]
    # the hook's filter keeps ERROR ones: gold's row_count; silver's WARN failures are filtered out
    assert len(payloads) == 1
    payload = payloads[0]
    assert {key: payload[key] for key in ("project", "env", "engine", "layer", "transformation_id", "table", "check",
                                          "severity", "failed_rows")} == {
        "project": "Test Project", "env": "qat", "engine": "pandas", "layer": "Gold",
        "transformation_id": "gold-orders", "table": "gold.orders", "check": "row_count", "severity": "ERROR",
        "failed_rows": None}
    assert payload["timestamp"]


def test_the_log_status_and_failed_commands_show_the_quality_fields(project_writer, storage, tmp_path, monkeypatch,
                                                                     capsys):
    from odibi_dagster.cli.main import main

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    root = write_orders_project(project_writer, gold_checks=[{"type": "row_count", "min": 5}])
    with dg.DagsterInstance.get() as home_instance:
        assert not run(build_definitions(load_project_folder(root), storage_root_dir=storage), home_instance).success
    assert main(["log", "--project", "Test Project"]) == 0
    lines = {line.split()[2]: line for line in capsys.readouterr().out.splitlines()[1:]}  # after date, time
    header_free = lines["clean-orders"].split()
    # start date, time, id, layer, engine, status, duration, rows_out, rows_dropped, rows_quarantined, checks_failed
    assert header_free[5] == "SUCCESS" and header_free[7:11] == [
        "2", "1", "2", "not_null__customer_id,unique__order_id,range__amount,regex__email,amount_covers_discount"]
    assert main(["status", "--project", "Test Project"]) == 0
    assert "data quality: 1 rows dropped, 2 rows quarantined, 2 runs with failed checks" in capsys.readouterr().out
    assert main(["failed", "--project", "Test Project", "--hours", "1"]) == 0
    failed = capsys.readouterr().out
    assert "gold-orders" in failed and "row_count" in failed and "nothing was written" in failed


def test_check_failure_fires_live_in_run_project_and_hook_filters_apply(project_writer, tmp_path, monkeypatch):
    from odibi_dagster.hooks import HookManager
    from odibi_dagster.orchestration import run_project

    monkeypatch.setenv("ODIBI_STORAGE_ROOT", str(tmp_path / "storage"))
    root = write_orders_project(project_writer)
    hooks, seen, quarantine_only = HookManager(), [], []
    hooks.register("check_failure", seen.append)
    hooks.register("check_failure", quarantine_only.append, {"table": "silver.orders", "check": "regex__email"})
    result = run_project("Test Project", engine="pandas", project_dir=root, hooks=hooks, quiet=True)
    assert result["status"] == "success"
    assert sorted((p["table"], p["check"], p["severity"], p["failed_rows"]) for p in seen) == [
        ("silver.orders", "amount_covers_discount", "WARN", 1), ("silver.orders", "not_null__customer_id", "WARN", 1),
        ("silver.orders", "range__amount", "WARN", 1), ("silver.orders", "regex__email", "WARN", 1),
        ("silver.orders", "unique__order_id", "WARN", 2)]
    assert all(p["transformation_id"] == "clean-orders" and p["layer"] == "Silver" and p["engine"] == "pandas"
               for p in seen)
    assert [p["check"] for p in quarantine_only] == ["regex__email"]


def test_a_refused_table_write_is_not_retried_so_its_quarantine_rows_land_once(project_writer, storage, instance):
    """Quarantined rows are written before their table (a failing table write never loses them); a
    refused table write (here an append with a new column) fails the step without a retry, so
    they are not appended again by each attempt."""
    funcs = FUNCS + "\ndef with_extra(inputs):\n    return next(iter(inputs.values())).assign(extra=1)\n"
    root = write_orders_project(project_writer, manifest={"retry": {"max_retries": 2, "delay": 0}})
    rows = [{"transformation_id": "clean-orders", "layer": "Silver", "function": "passthrough",
             "module": project_writer.module, "inputs": ["bronze.orders"],
             "outputs": [{"table": "silver.orders", "mode": "append", "checks": SILVER_CHECKS}]}]
    import yaml

    (root / "transformations.yaml").write_text(yaml.safe_dump(rows, sort_keys=False))
    (root / f"{project_writer.module}.py").write_text("import pandas as pd\n" + funcs)
    assert run(build_definitions(load_project_folder(root), storage_root_dir=storage), instance).success
    rows[0]["function"] = "with_extra"  # the same rows with a new column: the append is refused
    (root / "transformations.yaml").write_text(yaml.safe_dump(rows, sort_keys=False))
    result = run(build_definitions(load_project_folder(root), storage_root_dir=storage), instance)
    assert not result.success and "append into 'silver.orders' refused" in failures(result)[
        "test_project__clean_orders"]
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert stored(storage, "Silver", "silver.orders")["order_id"].tolist() == [1, 5]  # unchanged
    quarantine = stored(storage, "Silver", "silver.orders_quarantine")
    assert quarantine.groupby("_run_id").size().tolist() == [2, 2]  # the first run's rows, and this run's once


@pytest.mark.parametrize("table_format", ["parquet", "delta"])
def test_a_retried_step_keeps_its_quarantine_rows_once(project_writer, storage, instance, monkeypatch, table_format):
    """The table's write fails once after the quarantine rows were appended (a transient error, here
    a patched OSError: a flaky disk cannot be made on this machine, where tests run as root); the
    retry removes the earlier attempt's rows of this run before appending its own."""
    from odibi_dagster.engines.pandas_engine import PandasBackend

    original, failed = PandasBackend.write_table, []

    def flaky(self, location, frame, spec):
        if location.table == "silver.orders" and not failed:
            failed.append(location.table)
            raise OSError("disk hiccup")
        return original(self, location, frame, spec)

    monkeypatch.setattr(PandasBackend, "write_table", flaky)
    root = write_orders_project(project_writer, manifest={"retry": {"max_retries": 1, "delay": 0}})
    import yaml

    rows = yaml.safe_load((root / "transformations.yaml").read_text())
    rows[0]["outputs"][0]["format"] = table_format
    (root / "transformations.yaml").write_text(yaml.safe_dump(rows, sort_keys=False))
    result = run(build_definitions(load_project_folder(root), storage_root_dir=storage), instance)
    assert result.success and failed == ["silver.orders"]
    assert len([e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]) == 1
    quarantine = stored(storage, "Silver", "silver.orders_quarantine")
    assert sorted(quarantine["order_id"].tolist()) == [2, 4] and set(quarantine["_run_id"]) == {result.run_id}
    assert sorted(stored(storage, "Silver", "silver.orders")["order_id"].tolist()) == [1, 5]
