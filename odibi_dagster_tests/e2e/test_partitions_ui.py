"""The partitioned example in Dagster's web UI: a backfill of three days launched from the
asset's "Materialize" dialog, run by the daemon of ``dagster dev``, seen in the asset's
Partitions tab, and checked in the instance and the stored table."""

from __future__ import annotations

import re
import shutil
import time

import dagster as dg
import pytest
from deltalake import DeltaTable
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from odibi_dagster.demo import READINGS_PROJECT_DIR
from odibi_dagster_tests.e2e.conftest import open_page, serving
from odibi_dagster_tests.e2e.test_web_ui import screenshot

pytestmark = pytest.mark.e2e
DAYS = ["2024-01-02", "2024-01-03", "2024-01-04"]


@pytest.fixture(scope="module")
def readings_dev(tmp_path_factory):
    work = tmp_path_factory.mktemp("e2e_partitions")
    project_dir = work / "plant_readings"
    shutil.copytree(READINGS_PROJECT_DIR, project_dir, ignore=shutil.ignore_patterns("__pycache__"))
    with serving(work, project_dir, "dagster_dev_partitions") as served:
        yield served


def test_a_backfill_of_three_partitions_from_the_ui_materializes_them(browser, readings_dev):
    page = open_page(browser, readings_dev.url)
    page.goto("/assets/plant_readings/bronze/readings")
    dialog = page.get_by_role("dialog").filter(has_text="Launch runs to materialize")
    for _ in range(3):  # the first-visit "Join the Dagster community" dialog may swallow the first click
        page.get_by_role("button", name="Materialize").first.click()
        try:
            dialog.wait_for(timeout=15_000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    selection = dialog.get_by_placeholder(re.compile(r"^ex: 2024"))
    selection.fill(f"[{DAYS[0]}...{DAYS[-1]}]")
    selection.press("Enter")
    dialog.get_by_text("3 partitions").wait_for()
    dialog.get_by_text("Backfills all partitions in a single run.").wait_for()  # BackfillPolicy.single_run()
    dialog.get_by_role("button", name="Launch backfill").click()
    page.get_by_text(re.compile(r"^Created backfill [a-z]{8}$")).wait_for()

    deadline = time.time() + 240  # the daemon picks the backfill up, then its run goes
    while True:
        page.goto("/assets/plant_readings/bronze/readings?view=partitions")
        page.get_by_text(re.compile(r"^Missing \(\d+\)$")).wait_for()
        if page.get_by_text("Materialized (3)").count() or time.time() > deadline:
            break
        page.wait_for_timeout(3000)
    screenshot(page, "partitions_backfill")
    assert page.get_by_text("Materialized (3)").count() == 1
    assert page.get_by_text("Missing (11)").count() == 1
    page.context.close()

    key = dg.AssetKey(["plant_readings", "bronze", "readings"])
    with dg.DagsterInstance.from_config(str(readings_dev.home)) as instance:
        assert sorted(instance.get_materialized_partitions(key)) == DAYS
        backfill = instance.get_backfills()[0]
        runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id}))
        assert len(runs) == 1  # one run for the three days
        assert (runs[0].tags["dagster/asset_partition_range_start"],
                runs[0].tags["dagster/asset_partition_range_end"]) == (DAYS[0], DAYS[-1])
    stored = DeltaTable(str(readings_dev.storage / "qat/plant_readings/Bronze/bronze.readings")).to_pandas()
    assert sorted(stored["reading_time"].dt.strftime("%Y-%m-%d").unique()) == DAYS
    assert len(stored) == 3 * 72  # three plants, 24 hours, three days
