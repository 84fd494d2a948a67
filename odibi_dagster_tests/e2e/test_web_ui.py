"""The demo in Dagster's web UI, checked in a real browser as a person would use it.

Graph -> "Materialize all" -> the run page -> an asset page; the launchpad with ``engine: spark``;
the automation page. What the page shows is checked, and then what the run did (the instance and
the stored tables), so neither a blank page nor a run that only looks fine can pass.
"""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg
import pytest

from odibi_dagster.assets.naming import asset_key
from odibi_dagster.config import load_project_folder
from odibi_dagster.engines.arrow_tables import read_frame
from odibi_dagster.engines.storage import TableLocation
from odibi_dagster_tests.e2e.conftest import ARTIFACTS, open_page

pytestmark = pytest.mark.e2e
RUN_STATUS = re.compile(r"^(Success|Failure|Canceled)$")
ASSET_NAME = '[class*="AssetNode_assetName"]'  # the name label of a node in the asset graph


def screenshot(page, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path  # a test artifact, kept after the run
    return path


def wait_for_run_end(page, timeout_s: float) -> tuple[str, str]:
    """On a run's page: wait until its status is final; return (run id, status)."""
    page.wait_for_url(re.compile(r"/runs/[0-9a-f-]{36}"))
    status = page.get_by_text(RUN_STATUS).first
    status.wait_for(timeout=timeout_s * 1000)
    return page.url.rsplit("/runs/", 1)[1].split("?")[0], status.inner_text()


def labels_fit(label: str, name: str) -> bool:
    """A graph label is the asset's name, or the name shortened in the middle (``plant_…_efficiency``)."""
    if "…" not in label:
        return label == name
    head, tail = label.split("…", 1)
    return name.startswith(head) and name.endswith(tail) and len(name) > len(head) + len(tail)


def graph_groups(page) -> dict[str, list[str]]:
    """Group (layer) name -> labels of the asset nodes drawn inside that group's box."""
    boxes = {}
    for group in page.locator("foreignObject.group").all():
        boxes[group.locator("[data-tooltip]").first.get_attribute("data-tooltip")] = group.bounding_box()
    inside: dict[str, list[str]] = {name: [] for name in boxes}
    for node in page.locator(ASSET_NAME).all():
        box = node.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        owner = [name for name, g in boxes.items()
                 if g["x"] <= x <= g["x"] + g["width"] and g["y"] <= y <= g["y"] + g["height"]]
        assert len(owner) == 1, f"asset node '{node.inner_text()}' is in groups {owner}"
        inside[owner[0]].append(node.inner_text())
    return inside


@pytest.fixture(scope="module")
def project(dagster_dev):
    return load_project_folder(dagster_dev.project_dir)


@pytest.fixture(scope="module")
def ui_run(browser, dagster_dev):
    """"Materialize all" clicked on the asset graph, followed to its run page until it ends."""
    page = open_page(browser, dagster_dev.url)
    page.goto("/asset-groups")
    page.get_by_role("button", name="Materialize all").click()
    toast = page.get_by_text(re.compile(r"^Launched run [0-9a-f]{8}$"))
    toast.wait_for(timeout=60_000)
    page.get_by_role("link", name="View").or_(page.get_by_role("button", name="View")).first.click()
    run_id, status = wait_for_run_end(page, timeout_s=240)
    screenshot(page, "run_materialize_all")
    page.context.close()
    return run_id, status


def test_asset_graph_shows_every_asset_grouped_by_layer(page, project):
    page.goto("/asset-groups")
    page.get_by_role("button", name="Materialize all").wait_for()
    page.keyboard.press("Alt+e")  # the graph's "Expand all groups" shortcut
    page.locator(ASSET_NAME).nth(len(project.table_layers) - 1).wait_for()
    drawn = graph_groups(page)
    for _ in range(20):  # the graph may still be laying out after expanding: wait until it holds still
        page.wait_for_timeout(250)
        drawn, before = graph_groups(page), drawn
        if drawn == before:
            break
    screenshot(page, "asset_graph")
    expected: dict[str, list[str]] = {}
    for table, layer in project.table_layers.items():
        expected.setdefault(layer, []).append(asset_key(project.slug, table).path[-1])
    assert sorted(drawn) == sorted(expected) == sorted(project.manifest.layer_order)
    for layer, names in expected.items():
        labels = list(drawn[layer])
        assert len(labels) == len(names), (layer, labels, names)
        for name in names:
            match = next((label for label in labels if labels_fit(label, name)), None)
            assert match is not None, f"'{name}' is not drawn in group {layer}: {labels}"
            labels.remove(match)


def test_materialize_all_from_the_ui_completes(ui_run, dagster_dev, project):
    run_id, status = ui_run
    assert status == "Success"
    keys = [asset_key(project.slug, table) for table in project.table_layers]
    with dg.DagsterInstance.from_config(str(dagster_dev.home)) as instance:
        run = instance.get_run_by_id(run_id)
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert set(run.asset_selection or ()) == set(keys)
        for key in keys:
            records = instance.fetch_materializations(key, limit=20).records
            assert any(record.run_id == run_id for record in records), f"{key.to_user_string()} not materialized"


def test_asset_page_shows_the_record_and_row_count(ui_run, page, dagster_dev):
    assert ui_run[1] == "Success"
    page.goto("/assets/energy_efficiency/gold/plant_summary")
    metadata = page.get_by_text("odibi/log/transformation_id", exact=True)
    metadata.wait_for()
    rows = len(read_frame(TableLocation(dagster_dev.storage, "qat", "energy_efficiency", "Gold_2",
                                        "gold.plant_summary")))
    status = page.get_by_text("Row count", exact=True).locator("xpath=..")
    assert status.inner_text().split() == ["Row", "count", str(rows)]
    screenshot(page, "asset_page")
    body = page.inner_text("body")
    for key, value in (("odibi/log/transformation_id", "energy-plant-summary-gold"), ("odibi/log/status", "SUCCESS"),
                       ("odibi/log/rows_out", str(rows)), ("odibi/log/engine", "pandas")):
        assert re.search(rf"{re.escape(key)}\s+\S.*\s+{re.escape(value)}\s", body), (key, value)
    # the description's markdown table, documented columns, kinds and the links to the source code
    description = page.get_by_role("table").filter(has=page.get_by_role("cell", name="Function", exact=True))
    assert "energy_functions.plant_summary" in description.inner_text()
    assert page.get_by_role("cell", name="1 = the most efficient plant").is_visible()
    assert page.get_by_text("Parquet", exact=True).is_visible()
    for label in ("plant_summary (pandas)", "plant_summary (spark)", "transformations.yaml"):
        assert page.get_by_text(f"Open {label}").is_visible(), label


def test_the_checks_tab_lists_the_checks_with_their_last_results(ui_run, page, dagster_dev):
    assert ui_run[1] == "Success"
    key = asset_key("energy_efficiency", "bronze.sensor_readings")
    with dg.DagsterInstance.from_config(str(dagster_dev.home)) as instance:
        failed = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(key, "not_null__fuel_kg")])[dg.AssetCheckKey(key, "not_null__fuel_kg")]
        failed_rows = failed.event.dagster_event.event_specific_data.metadata["failed_rows"].value
    assert failed_rows == 18  # the generated demo data (2,000 readings, a fixed seed) has 18 without fuel
    page.goto("/assets/energy_efficiency/bronze/sensor_readings?view=checks")
    page.get_by_text("Checks (3)").wait_for()
    page.get_by_text("unique__reading_id", exact=True).first.wait_for()
    body = page.inner_text("body")
    for name, status in (("not_null__fuel_kg", "Failed"), ("range__steam_kg", "Failed"),
                         ("unique__reading_id", "Succeeded")):  # each check of the list, with its last result
        assert re.search(rf"{name}\s+(?:{name}\s+)?{status}\s", body), (name, status)
    page.get_by_text("not_null__fuel_kg", exact=True).first.click()
    page.get_by_text("fuel_kg never null; on failure: quarantine").wait_for()
    body = page.inner_text("body")
    assert re.search(rf"failed_rows\s+{failed_rows}\s", body)
    screenshot(page, "asset_checks")
    page.get_by_text("[Show Markdown]").click()  # the sample of failing rows, drawn as a table
    sample = page.get_by_role("dialog")
    sample.get_by_role("columnheader", name="fuel_kg", exact=True).wait_for()
    assert sample.get_by_role("row").count() == 1 + 5  # the header and five failing readings
    screenshot(page, "asset_check_sample")


def test_the_quarantine_table_is_drawn_beside_its_table(page, project):
    page.goto("/assets/energy_efficiency/bronze/sensor_readings_quarantine")
    page.get_by_text("Rows of bronze.sensor_readings that failed a quarantine check").first.wait_for()
    page.goto("/asset-groups")
    page.get_by_role("button", name="Materialize all").wait_for()
    page.keyboard.press("Alt+e")
    page.locator(ASSET_NAME).nth(len(project.table_layers) - 1).wait_for()
    page.wait_for_timeout(1000)
    bronze = graph_groups(page)["Bronze"]
    assert any(labels_fit(label, "sensor_readings_quarantine") for label in bronze), bronze


def test_launchpad_with_engine_spark_runs_the_spark_engine(ui_run, page, dagster_dev, project):
    assert ui_run[1] == "Success"  # the bronze tables this layer reads exist
    page.goto("/jobs")
    page.get_by_text("energy_efficiency__Silver_1", exact=True).click()
    page.get_by_role("button", name="Materialize all").click(modifiers=["Shift"])  # opens the launchpad
    dialog = page.get_by_role("dialog")
    dialog.locator(".CodeMirror-line", has_text="default_engine: pandas").click()
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    page.keyboard.type("engine: spark")
    dialog.get_by_text("No errors").wait_for()
    screenshot(page, "launchpad_spark")
    dialog.get_by_role("button", name="Materialize").click()
    run_id, status = wait_for_run_end(page, timeout_s=300)
    screenshot(page, "run_spark")
    assert status == "Success"
    key = asset_key(project.slug, "silver.sensor_readings")
    with dg.DagsterInstance.from_config(str(dagster_dev.home)) as instance:
        run = instance.get_run_by_id(run_id)
        assert run.run_config["resources"]["odibi_engine"]["config"]["engine"] == "spark"
        event = instance.get_latest_materialization_event(key)
        assert event.run_id == run_id
        metadata = event.asset_materialization.metadata
    assert metadata["engine"].value == "spark" and metadata["format"].value == "delta"
    assert metadata["odibi/log/engine"].value == "spark"
    assert (dagster_dev.storage / "qat" / "energy_efficiency" / "Silver_1" / "silver.sensor_readings"
            / "_delta_log").is_dir()
    page.goto("/assets/energy_efficiency/silver/sensor_readings")
    page.get_by_text("odibi/log/engine", exact=True).wait_for()
    assert re.search(r"odibi/log/engine\s+\S.*\s+spark\s", page.inner_text("body"))


def test_the_hook_sensors_and_the_schedule_are_listed(page):
    page.goto("/automation")
    # the names as users see them, written out: the project's five hook sensors and its schedule
    expected = ["energy_efficiency_hooks_run_start", "energy_efficiency_hooks_run_success",
                "energy_efficiency_hooks_run_failure", "energy_efficiency_hooks_run_canceled",
                "energy_efficiency_hooks_steps", "energy_efficiency_daily"]
    page.get_by_text(expected[0], exact=True).wait_for()
    screenshot(page, "automation")
    for name in expected:
        assert page.get_by_text(name, exact=True).is_visible(), name


def test_a_run_blocked_by_a_failing_check_runs_nothing_downstream(ui_run, browser, dagster_dev, project):
    """A replayed file repeats reading ids: the blocking `unique` check fails, bronze keeps its
    previous version and the layers below are not executed."""
    import pyarrow.parquet as pq

    assert ui_run[1] == "Success"
    data = dagster_dev.project_dir / "data"
    replayed = data / "sensor_readings_replayed.parquet"  # matched by the source's glob
    pq.write_table(pq.read_table(data / "sensor_readings.parquet").slice(0, 3), replayed)
    bronze = TableLocation(dagster_dev.storage, "qat", "energy_efficiency", "Bronze", "bronze.sensor_readings")
    before = read_frame(bronze)
    page = open_page(browser, dagster_dev.url)
    try:
        page.goto("/asset-groups")
        page.get_by_role("button", name="Materialize all").click()
        page.get_by_text(re.compile(r"^Launched run [0-9a-f]{8}$")).wait_for(timeout=60_000)
        page.get_by_role("link", name="View").or_(page.get_by_role("button", name="View")).first.click()
        run_id, status = wait_for_run_end(page, timeout_s=240)
        assert status == "Failure"
        page.get_by_text(re.compile(r"^Not executed \(\d+\)$")).click()
        downstream = ["energy_sensor_readings_silver", "energy_boiler_daily_silver", "energy_plant_daily_gold",
                      "energy_plant_summary_gold"]
        for step in downstream:
            page.get_by_text(f"energy_efficiency__{step}", exact=True).first.wait_for()
        assert page.get_by_text("check(s) 'unique__reading_id' (6 of", exact=False).first.is_visible()
        screenshot(page, "run_blocked_by_check")
    finally:
        replayed.unlink()
        page.context.close()
    with dg.DagsterInstance.from_config(str(dagster_dev.home)) as instance:
        started = {record.event_log_entry.dagster_event.step_key for record in instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.STEP_START).records}
        key = dg.AssetCheckKey(asset_key("energy_efficiency", "bronze.sensor_readings"), "unique__reading_id")
        check = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
        evaluation = check.event.dagster_event.event_specific_data
    assert not {f"energy_efficiency__{step}" for step in downstream} & started
    assert (check.run_id, evaluation.passed, evaluation.severity) == (run_id, False, dg.AssetCheckSeverity.ERROR)
    assert read_frame(bronze).equals(before)  # nothing was written
