"""Bad data-quality config: each a load error naming the file, the row, the output and the check."""

import pytest

from odibi_dagster.config import load_project_folder
from odibi_dagster.config.checks import CheckConfig, parse_duration
from odibi_dagster_tests.config.test_validation import SOURCE, errors, only, row

A_CSV = {"a.csv": "x,amount\n1,2\n"}


def output_error(project_writer, checks=None, **output):
    """The one issue of a transformation whose output has ``checks`` (and ``output``'s other fields)."""
    outputs = [{"table": "silver.orders", **({"checks": checks} if checks is not None else {}), **output}]
    error, root = errors(project_writer, transformations=[row("t1", outputs=outputs)], data=A_CSV)
    issue = only(error)
    assert issue.where == str(root / "transformations.yaml") and issue.row == "t1" and issue.line == 1
    return issue


@pytest.mark.parametrize(("check", "field", "message"), [
    ({"type": "not_nul", "columns": ["x"]}, "outputs.0.checks.0.type",
     "output 'silver.orders', check #1 (not_nul): unknown check type 'not_nul' (did you mean 'not_null'?)"),
    ({"type": "not_null", "column": "x"}, "outputs.0.checks.0",
     "output 'silver.orders', check #1 (not_null): a 'not_null' check takes 'columns' (columns: [id]), not 'column'"),
    ({"type": "range", "columns": ["x"], "min": 0}, "outputs.0.checks.0",
     "output 'silver.orders', check #1 (range): a 'range' check takes 'column' (column: id), not 'columns'"),
    ({"type": "row_count", "min": 1, "on_fail": "drop"}, "outputs.0.checks.0",
     ("check #1 (row_count): on_fail 'drop' needs failing rows, and 'row_count' checks the whole table: use warn or "
     "fail")),
    ({"type": "schema", "columns": {"x": "integer"}, "on_fail": "quarantine"}, "outputs.0.checks.0",
     "on_fail 'quarantine' needs failing rows"),
    ({"type": "regex", "column": "x", "pattern": "[a-"}, "outputs.0.checks.0",
     "check #1 (regex): pattern '[a-' does not compile: unterminated character set"),
    ({"type": "expression", "expr": "amount >=", "name": "positive"}, "outputs.0.checks.0",
     "check #1 (positive): expression 'amount >=' does not parse: Parser Error: syntax error at end of input"),
    ({"type": "expression", "expr": "amount > 0"}, "outputs.0.checks.0",
     "check #1 (expression): an 'expression' check needs 'name'"),
    ({"type": "expression", "name": "sneaky", "expr": "(SELECT count(*) FROM read_csv('/etc/passwd')) > 0"},
     "outputs.0.checks.0", "must be one expression over the row's columns, without a subquery"),
    ({"type": "expression", "name": "two", "expr": "amount > 0 FROM t; DROP TABLE t; SELECT 1"},
     "outputs.0.checks.0", "does not parse"),
    ({"type": "expression", "name": "top", "expr": "amount = max(amount) OVER (PARTITION BY x)"},
     "outputs.0.checks.0", "uses 'max', which looks at other rows: a check's expression sees one row at a time"),
    ({"type": "expression", "name": "agg", "expr": "sum(amount) > 0"}, "outputs.0.checks.0",
     "uses 'sum', which looks at other rows"),
    ({"type": "expression", "name": "from", "expr": "amount > 0 FROM orders"}, "outputs.0.checks.0",
     "must be one expression over the row's columns, without a clause (FROM, WHERE, ...)"),
    ({"type": "regex", "column": "x", "pattern": "(?P<id>[0-9]+)"}, "outputs.0.checks.0",
     "names a group, which Python and Java (Spark) write differently"),
    ({"type": "accepted_values", "column": "x", "values": ["SE", False, "DK"]}, "outputs.0.checks.0.values",
     "mix true/false with other values: YAML reads unquoted yes, no, on and off as true/false"),
    ({"type": "range", "column": "x", "min": True}, "outputs.0.checks.0.min", "True is not a number"),
    ({"type": "range", "column": "x", "max": float("nan")}, "outputs.0.checks.0.max", "nan is not a number"),
    ({"type": "freshness", "column": "x", "max_age": "99999999999d"}, "outputs.0.checks.0",
     "max_age '99999999999d' is longer than a time span can be"),
    ({"type": "freshness", "column": "x", "max_age": "two days"}, "outputs.0.checks.0",
     "max_age 'two days' is not a duration: a number and a unit s, m, h or d (e.g. '30m', '36h', '7d')"),
    ({"type": "accepted_values", "column": "x"}, "outputs.0.checks.0", "an 'accepted_values' check needs 'values'"),
    ({"type": "range", "column": "x"}, "outputs.0.checks.0", "a 'range' check needs 'min', 'max' or both"),
    ({"type": "range", "column": "x", "min": 5, "max": 1}, "outputs.0.checks.0", "min 5 is above max 1"),
    ({"type": "schema", "columns": {"x": "int"}}, "outputs.0.checks.0",
     ("type 'int' of column 'x' is not one of string, integer, double, boolean, date, timestamp, decimal (did you "
     "mean 'integer'?)")),
    ({"type": "not_null", "columns": ["x"], "on_fail": "explode"}, "outputs.0.checks.0.on_fail",
     "Input should be 'warn', 'fail', 'drop' or 'quarantine'"),
    ({"type": "not_null", "columns": ["x"], "colour": "red"}, "outputs.0.checks.0.colour",
     "unknown key 'colour'"),
])
def test_a_bad_check_is_a_load_error_naming_file_row_output_and_check(project_writer, check, field, message):
    issue = output_error(project_writer, [check])
    assert issue.field == field
    assert message in issue.message


def test_two_checks_with_one_name_on_an_output(project_writer):
    issue = output_error(project_writer, [{"type": "unique", "columns": ["x"]},
                                          {"type": "unique", "columns": ["x"], "on_fail": "warn"}])
    assert (issue.field, issue.message) == (
        "outputs.0.checks", ("output 'silver.orders': two checks are named 'unique__x': give one of them another "
                            "'name'"))


@pytest.mark.parametrize("rate", [1.5, -0.1])
def test_a_pass_rate_outside_zero_to_one(project_writer, rate):
    issue = output_error(project_writer, quality_gate={"min_pass_rate": rate})
    assert issue.field == "outputs.0.quality_gate.min_pass_rate"
    assert issue.message.startswith("output 'silver.orders': Input should be")


def test_a_source_check_names_the_sources_file_and_row(project_writer):
    source = {**SOURCE, "checks": [{"type": "unique", "column": "x"}]}
    error, root = errors(project_writer, sources=[source], data=A_CSV)
    issue = only(error)
    assert (issue.where, issue.row, issue.field) == (str(root / "sources.yaml"), "s1", "checks.0")
    assert issue.message == "check #1 (unique): a 'unique' check takes 'columns' (columns: [id]), not 'column'"


def test_checks_need_a_managed_output(project_writer):
    outputs = [{"table": "silver.orders", "checks": [{"type": "row_count", "min": 1}]}]
    error, _ = errors(project_writer, transformations=[row("t1", outputs=outputs, io="self_managed")], data=A_CSV)
    assert "checks and quality_gate run on the rows before they are written, so they need io: managed" in (
        only(error).message)


def test_a_quarantine_table_is_a_table_of_the_project(project_writer):
    """Its name is claimed like an output's: a clash is an error, and a later row may read it."""
    quarantined = {"table": "silver.orders", "checks": [{"type": "not_null", "columns": ["x"],
                                                         "on_fail": "quarantine"}]}
    clash = row("t2", outputs=[{"table": "silver.orders_quarantine"}])
    error, _ = errors(project_writer, transformations=[row("t1", outputs=[quarantined]), clash], data=A_CSV)
    assert only(error).message == "table 'silver.orders_quarantine' is already written by 't1'"

    reader = row("t3", layer="Gold", inputs=["silver.orders_quarantine"])
    root = project_writer.write(sources=[SOURCE], transformations=[row("t1", outputs=[quarantined]), reader],
                                functions="def f(inputs):\n    return next(iter(inputs.values()))\n", data=A_CSV)
    project = load_project_folder(root)
    assert project.table_layers["silver.orders_quarantine"] == "Silver"


def test_check_names_and_durations():
    assert CheckConfig(type="not_null", columns=["order_id", "customer id"]).check_name == (
        "not_null__order_id__customer_id")
    assert CheckConfig(type="range", column="amount", min=0).check_name == "range__amount"
    assert CheckConfig(type="row_count", min=1).check_name == "row_count"
    assert CheckConfig(type="schema", columns={"a": "string"}).check_name == "schema"
    assert CheckConfig(type="freshness", column="at", max_age="36h").check_name == "freshness__at"
    assert parse_duration("36h").total_seconds() == 36 * 3600
    assert parse_duration("30m").total_seconds() == 1800
    assert parse_duration("7d").total_seconds() == 7 * 86400
    assert CheckConfig(type="not_null", columns=["a"]).on_fail == "fail"  # the default


def test_a_quarantine_table_without_a_quarantine_check_is_refused(project_writer):
    issue = output_error(project_writer, [{"type": "row_count", "min": 1}], quarantine_table="silver.bad_orders")
    assert (issue.field, issue.message) == (
        "outputs.0", "quarantine_table 'silver.bad_orders' is set, but no check has on_fail: quarantine")


def test_a_patterns_spaces_are_kept():
    assert CheckConfig(type="regex", column="x", pattern="[0-9]+ ").pattern == "[0-9]+ "
    assert CheckConfig(type="not_null", columns=[" amount"]).columns == [" amount"]


def test_a_quarantine_table_whose_dagster_name_clashes_names_its_field(project_writer):
    outputs = [{"table": "silver.x__q"},
               {"table": "silver.orders", "quarantine_table": "silver.x.q",
                "checks": [{"type": "not_null", "columns": ["x"], "on_fail": "quarantine"}]}]
    error, _ = errors(project_writer, transformations=[row("t1", outputs=outputs)], data=A_CSV)
    issue = only(error)
    assert (issue.field, issue.message) == (
        "outputs.1.quarantine_table",
        "outputs 'silver.x__q' and 'silver.x.q' give one Dagster output name 'silver__x__q': rename one")
