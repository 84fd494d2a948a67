"""Config that used to be accepted and ignored: each field now means something or is refused at load.

``step``, ``layers.<layer>.depends_on``, ``layers.<layer>.cache_tables``, ``layers.<layer>.name``,
``file_format: api`` and ``log_sink``.
"""

import dagster as dg
import pytest

from odibi_dagster.assets import build_definitions
from odibi_dagster.config import ConfigError, load_project_folder
from odibi_dagster.engines.storage import TableMetadata
from odibi_dagster_tests.config.test_validation import FUNCS, SOURCE, errors, only, row


def test_depends_on_limits_where_a_layer_reads_from(project_writer):
    manifest = {"layers": {"Gold": {"depends_on": ["Silver"]}}}
    error, root = errors(project_writer, manifest=manifest, transformations=[
        row("t1"), row("t2", layer="Gold", inputs=["silver.t1", "bronze.a"])])
    issue = only(error)
    assert (issue.where, issue.row, issue.field) == (str(root / "transformations.yaml"), "t2", "inputs")
    assert issue.message == ("input 'bronze.a' comes from layer 'Bronze', which layer 'Gold' does not depend on "
                             "(layers.Gold.depends_on: ['Silver'])")
    # the same row without the Bronze input loads
    root = project_writer.write(sources=[SOURCE], functions=FUNCS, manifest=manifest, transformations=[
        row("t1"), row("t2", layer="Gold", inputs=["silver.t1"])])
    assert load_project_folder(root).manifest.layers["Gold"].depends_on == ["Silver"]


def test_a_layer_name_field_is_refused_with_what_to_use(project_writer):
    error, root = errors(project_writer, manifest={"layers": {"Silver": {"name": "Silver layer"}}},
                         transformations=[row("t1")])
    issue = only(error)
    assert (issue.where, issue.field) == (str(root / "manifest.yaml"), "layers.Silver.name")
    assert "a layer is named by its key under 'layers:'" in issue.message and "'description'" in issue.message


def test_api_sources_are_refused_at_load(project_writer):
    error, root = errors(project_writer, sources=[{**SOURCE, "file_format": "api"}], transformations=[row("t1")])
    issue = next(issue for issue in error.issues if issue.field == "file_format")
    assert (issue.where, issue.row, issue.field) == (str(root / "sources.yaml"), "s1", "file_format")
    assert issue.message.startswith("'api' sources are not supported: fetch the data into a file or a table")


@pytest.mark.parametrize(("log_sink", "field", "message"), [
    ({"type": "kafka"}, "log_sink.type", "Input should be 'file', 'delta', 'sql' or 'spark_delta'"),
    ({"type": "sql"}, "log_sink", "a 'sql' log sink needs 'url'"),
    ({"type": "file", "path": "../../etc/x.csv"}, "log_sink", "must be a relative path inside <storage_root>/_logs"),
    ({"type": "file", "url": "sqlite://"}, "log_sink", "a 'file' log sink takes ['path'], not ['url']"),
    ({"type": "sql", "url": "postgresql://u:${ODIBI_TEST_UNSET_PW}@db/x"}, "log_sink.url",
     "environment variable 'ODIBI_TEST_UNSET_PW' (in the url) is not set"),
    ([{"type": "file"}, {"type": "sql", "url": "sqlite:///${ODIBI_TEST_UNSET_PW}"}], "log_sink.1.url",
     "environment variable 'ODIBI_TEST_UNSET_PW' (in the url) is not set"),
])
def test_log_sink_is_checked_at_load(project_writer, monkeypatch, log_sink, field, message):
    monkeypatch.delenv("ODIBI_TEST_UNSET_PW", raising=False)
    error, root = errors(project_writer, manifest={"log_sink": log_sink}, transformations=[row("t1")])
    issue = only(error)
    assert (issue.where, issue.field) == (str(root / "manifest.yaml"), field)
    assert message in issue.message


def test_cache_tables_of_a_layer_work_like_cache_plan(project_writer):
    root = project_writer.write(sources=[SOURCE], functions=FUNCS, transformations=[row("t1")],
                                manifest={"layers": {"Bronze": {"cache_tables": ["bronze.a"]}},
                                          "cache_plan": {"Silver": ["silver.t1"]}})
    defs = build_definitions(load_project_folder(root))
    specs = {spec.key.to_user_string(): TableMetadata.extract(spec.metadata)
             for spec in defs.resolve_all_asset_specs()}
    assert specs["test_project/bronze/a"].cache_layer == "Bronze"
    assert specs["test_project/silver/t1"].cache_layer == "Silver"


STEPS = FUNCS + "\norder = []\n\ndef tracked(inputs, context):\n    order.append(context.transformation_id)\n" \
                "    return next(iter(inputs.values()))\n"


def run_order(project_writer, storage, rows: list[dict]) -> list[str]:
    """The transformations' steps in the order a real in-process run started them (after the source)."""
    root = project_writer.write(sources=[SOURCE], functions=STEPS, transformations=rows, data={"a.csv": "x\n1\n"})
    defs = build_definitions(load_project_folder(root), storage_root_dir=storage)
    with dg.instance_for_test() as instance:
        result = defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance)
    started = [event.step_key for event in result.all_events if event.event_type_value == "STEP_START"]
    return [key.rsplit("__", 1)[1] for key in started[1:]]


def test_step_orders_a_layers_transformations_when_steps_run_one_by_one(project_writer, storage):
    def rows(steps):
        return [row(tid, step=step, function="tracked") for tid, step in steps]

    assert run_order(project_writer, storage, rows((("t_c", 3), ("t_a", 1), ("t_b", 2)))) == ["t_a", "t_b", "t_c"]
    # and the other way round: the order follows `step`, not the rows' order or their names
    assert run_order(project_writer, storage, rows((("t_c", 1), ("t_a", 3), ("t_b", 2)))) == ["t_c", "t_b", "t_a"]


@pytest.mark.parametrize(("schedule", "field", "message"), [
    ({"name": "s", "cron": "not a cron"}, "schedules.0.cron", "cron 'not a cron' is not a cron expression"),
    ({"name": "s", "cron": "0 6 * * *", "timezone": "Mars/Base"}, "schedules.0.timezone",
     "time zone 'Mars/Base' is not an IANA time zone"),
])
def test_a_schedule_that_dagster_would_refuse_is_refused_at_load(project_writer, schedule, field, message):
    error, root = errors(project_writer, manifest={"schedules": [schedule]}, transformations=[row("t1")])
    issue = only(error)
    assert (issue.where, issue.field) == (str(root / "manifest.yaml"), field) and message in issue.message


def test_a_layer_depends_only_on_earlier_layers(project_writer):
    error, _ = errors(project_writer, manifest={"layers": {"Silver": {"depends_on": ["Bronze", "Gold"]}}},
                      transformations=[row("t1")])
    assert only(error).message == "layer 'Silver' cannot depend on 'Gold', which does not run before it in layer_order"


def test_a_sibling_imported_by_its_plain_name_gets_a_hint(project_writer):
    root = project_writer.write(sources=[SOURCE], transformations=[row("t1")],
                                functions="import helpers\n\ndef f(inputs):\n    return helpers.x(inputs)\n")
    (root / "helpers.py").write_text("def x(inputs):\n    return next(iter(inputs.values()))\n")
    with pytest.raises(ConfigError) as info:
        load_project_folder(root)
    assert "import it relatively, `from . import helpers`" in only(info.value).message


def test_earlier_layers_run_before_later_ones_whatever_their_step(project_writer, storage):
    rows = [row("t_gold", layer="Gold", step=1, function="tracked"), row("t_silver", step=5, function="tracked")]
    assert run_order(project_writer, storage, rows) == ["t_silver", "t_gold"]
