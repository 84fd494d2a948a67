"""What each check means on pandas: failing rows, nulls, drop and quarantine, the gate, metadata."""

import numpy as np
import pandas as pd
import pytest

from odibi_dagster.config.checks import CheckConfig, QualityGate
from odibi_dagster.quality.measure import QualityError
from odibi_dagster.quality.pandas_checks import evaluate
from odibi_dagster_tests.quality.cases import (
    EXPECTED_DROPPED,
    EXPECTED_FAILED,
    EXPECTED_QUARANTINED,
    NOW,
    all_checks,
    defective_orders,
)


def run(frame, checks, gate=None):
    return evaluate(frame, [CheckConfig(**c) if isinstance(c, dict) else c for c in checks], gate,
                    where="output 'silver.orders'", run_id="run-1", now=NOW)


def test_every_check_counts_its_failing_rows_and_splits_off_drop_and_quarantine_rows():
    frame = defective_orders()
    outcome = run(frame, all_checks())
    results = {r.name: r for r in outcome.results}
    assert {name: results[name].failed_rows for name in EXPECTED_FAILED} == EXPECTED_FAILED
    assert results["row_count"].passed and results["row_count"].observed == "10"
    assert results["freshness__ordered_at"].passed  # the newest row is 1 h old (the oldest, 40 h, does not count)
    assert results["freshness__ordered_at"].observed == "2026-11-29T11:00:00+00:00 (1.0h old)"
    assert results["schema"].passed
    # drop/quarantine/warn checks that found rows fail as WARN; none blocks
    assert {r.name for r in outcome.failed} == set(EXPECTED_FAILED) - set() and outcome.blocked is None
    assert {r.severity for r in outcome.failed} == {"WARN"}

    removed = set(EXPECTED_QUARANTINED) | EXPECTED_DROPPED
    assert outcome.frame.index.tolist() == [i for i in range(10) if i not in removed]
    assert outcome.quarantine.index.tolist() == sorted(EXPECTED_QUARANTINED)
    assert dict(zip(outcome.quarantine.index, outcome.quarantine["_failed_checks"])) == EXPECTED_QUARANTINED
    assert (outcome.rows_dropped, outcome.rows_quarantined) == (1, 4)
    assert set(outcome.quarantine["_run_id"]) == {"run-1"}
    assert str(outcome.quarantine["_quarantined_at"].dtype) == "datetime64[us, UTC]"
    pd.testing.assert_frame_equal(outcome.quarantine[list(frame.columns)], frame.loc[sorted(EXPECTED_QUARANTINED)])


def test_a_row_failing_drop_and_quarantine_is_quarantined_with_every_failed_check_named():
    frame = pd.DataFrame({"id": [1, None], "amount": [5, -1]})
    outcome = run(frame, [{"type": "range", "column": "amount", "min": 0, "on_fail": "drop"},
                          {"type": "not_null", "columns": ["id"], "on_fail": "warn"},
                          {"type": "range", "column": "amount", "min": 0, "name": "positive",
                           "on_fail": "quarantine"}])
    assert outcome.rows_quarantined == 1 and outcome.rows_dropped == 0
    assert outcome.quarantine["_failed_checks"].tolist() == ["range__amount,not_null__id,positive"]
    assert outcome.frame["id"].tolist() == [1]


def test_result_metadata_counts_before_removal_and_samples_five_rows():
    frame = pd.DataFrame({"id": range(8), "amount": [-1, -2, -3, -4, -5, -6, 7, 8]})
    outcome = run(frame, [{"type": "range", "column": "amount", "min": 0, "on_fail": "drop"}])
    metadata = outcome.results[0].metadata()
    assert (metadata["failed_rows"], metadata["total_rows"], metadata["pass_rate"]) == (6, 8, 0.25)
    sample = metadata["sample"].splitlines()
    assert sample[:2] == ["| id | amount |", "| --- | --- |"] and len(sample) == 2 + 5
    assert sample[2] == "| 0 | -1 |"
    assert not outcome.results[0].passed and outcome.results[0].severity == "WARN"
    assert len(outcome.frame) == 2


def test_a_fail_check_blocks_and_names_the_check_with_its_counts():
    outcome = run(pd.DataFrame({"id": [1, 1, 2]}), [{"type": "unique", "columns": ["id"]}])
    assert outcome.results[0].severity == "ERROR"
    assert outcome.blocked == ("output 'silver.orders': check(s) 'unique__id' (2 of 3 rows) failed; nothing was "
                               "written")


def test_the_gate_counts_rows_passing_every_row_level_check_warn_ones_included():
    frame = pd.DataFrame({"id": [1, 2, 3, None], "status": ["a", "b", "zz", "a"]})
    checks = [{"type": "not_null", "columns": ["id"], "on_fail": "drop"},
              {"type": "accepted_values", "column": "status", "values": ["a", "b"], "on_fail": "warn"}]
    assert run(frame, checks, QualityGate(min_pass_rate=0.5)).blocked is None
    blocked = run(frame, checks, QualityGate(min_pass_rate=0.6)).blocked
    assert blocked == ("output 'silver.orders': quality gate failed: 50.00% of 4 rows pass every row-level check, "
                       "below min_pass_rate 60.00%; nothing was written")


def test_unique_ignores_nulls_in_the_key_and_not_null_counts_nan():
    frame = pd.DataFrame({"a": [1.0, 1.0, np.nan, np.nan, 2.0], "b": ["x", "y", "z", "z", None]})
    outcome = run(frame, [{"type": "unique", "columns": ["a"], "on_fail": "warn"},
                          {"type": "unique", "columns": ["a", "b"], "on_fail": "warn", "name": "pair"},
                          {"type": "not_null", "columns": ["a", "b"], "on_fail": "warn"}])
    assert [r.failed_rows for r in outcome.results] == [2, 0, 3]


def test_table_level_checks_observe_the_table():
    frame = pd.DataFrame({"id": [1, 2], "name": ["a", "b"], "extra": [True, False]})
    outcome = run(frame, [{"type": "row_count", "min": 3, "on_fail": "warn"},
                          {"type": "schema", "columns": {"id": "integer", "name": "double"}, "strict": True,
                           "on_fail": "warn"}])
    row_count, schema = outcome.results
    assert (row_count.passed, row_count.observed) == (False, "2")
    assert not schema.passed
    assert schema.observed == "name: string (expected double); extra: not listed"
    assert schema.metadata()["observed"] == schema.observed and "failed_rows" not in schema.metadata()


def test_freshness_of_an_empty_or_all_null_column_fails():
    frame = pd.DataFrame({"at": pd.to_datetime([None, None], utc=True)})
    outcome = run(frame, [{"type": "freshness", "column": "at", "max_age": "7d", "on_fail": "warn"}])
    assert (outcome.results[0].passed, outcome.results[0].observed) == (False, "no value")


def test_a_check_naming_a_missing_column_is_an_error_before_anything():
    with pytest.raises(QualityError, match=r"output 'silver.orders': check 'not_null__customer_id' names column\(s\) "
                                           r"\['customer_id'\] that the data lacks \(columns: \['id'\]\); nothing "
                                           r"was written"):
        run(pd.DataFrame({"id": [1]}), [{"type": "not_null", "columns": ["customer_id"]}])


def test_checks_refuse_a_column_of_the_wrong_kind():
    with pytest.raises(QualityError, match="check 'range__name' compares numbers, but column 'name' holds object"):
        run(pd.DataFrame({"name": ["a"]}), [{"type": "range", "column": "name", "min": 0}])
    with pytest.raises(QualityError, match="check 'regex__n' matches text, but column 'n' holds int64"):
        run(pd.DataFrame({"n": [1]}), [{"type": "regex", "column": "n", "pattern": "1"}])
    with pytest.raises(QualityError, match="needs a date or timestamp column; 'n' holds int64"):
        run(pd.DataFrame({"n": [1]}), [{"type": "freshness", "column": "n", "max_age": "1d"}])


def test_an_expression_is_sql_run_by_duckdb_never_python(tmp_path):
    frame = pd.DataFrame({"a": [1, 2, None], "b": [1, 3, 1]})
    outcome = run(frame, [{"type": "expression", "name": "ge", "expr": "a >= b AND a IS DISTINCT FROM 5",
                           "on_fail": "warn"}])
    assert outcome.results[0].failed_rows == 1  # row 1; the null result of row 2 passes
    # Python is not SQL: a dunder call does not run, and the engine may not read files
    with pytest.raises(QualityError, match="expression check 'py' .* cannot be evaluated"):
        run(frame, [{"type": "expression", "name": "py", "expr": "__import__('os').system('true') = 0"}])
    # a subquery is refused at load (test_check_config); past that, the engine itself may not read files
    secret = tmp_path / "secret.csv"
    secret.write_text("x\n1\n")
    unchecked = CheckConfig.model_construct(type="expression", name="file", expr=f"a IN (SELECT x FROM '{secret}')",
                                            on_fail="fail", column=None, columns=None)
    with pytest.raises(QualityError, match="cannot be evaluated: Permission Error: .*disabled by configuration"):
        run(frame, [unchecked])


def test_an_expression_that_is_not_true_or_false_is_refused():
    with pytest.raises(QualityError, match=r"expression check 'sum' \(a \+ 1\) gives BIGINT, not true/false"):
        run(pd.DataFrame({"a": [1]}), [{"type": "expression", "name": "sum", "expr": "a + 1"}])


def test_quarantine_columns_may_not_be_in_the_data():
    with pytest.raises(QualityError, match=r"the data has column\(s\) \['_run_id'\], which its quarantine table adds"):
        run(pd.DataFrame({"a": [None], "_run_id": ["x"]}),
            [{"type": "not_null", "columns": ["a"], "on_fail": "quarantine"}])


def test_nothing_failing_leaves_the_frame_as_it_was():
    frame = pd.DataFrame({"a": [1, 2]}, index=pd.Index([10, 20], name="key"))
    outcome = run(frame, [{"type": "not_null", "columns": ["a"], "on_fail": "quarantine"}])
    assert outcome.frame is frame and outcome.quarantine is None
    assert outcome.results[0].passed and outcome.results[0].metadata()["pass_rate"] == 1.0


def test_regex_classes_are_ascii_as_in_java():
    outcome = run(pd.DataFrame({"code": ["12", "١٢", "ab_", "é"]}),
                  [{"type": "regex", "column": "code", "pattern": "\\d+", "on_fail": "warn"},
                   {"type": "regex", "column": "code", "pattern": "\\w+", "on_fail": "warn", "name": "word"}])
    assert [r.failed_rows for r in outcome.results] == [3, 2]  # Arabic digits are not \d, é is not \w


def test_accepted_values_compare_like_with_like():
    with pytest.raises(QualityError, match=r"check 'accepted_values__code' lists \[1\], but column 'code' holds "
                                           r"string values"):
        run(pd.DataFrame({"code": ["1"]}), [{"type": "accepted_values", "column": "code", "values": [1]}])
    with pytest.raises(QualityError, match=r"lists \[True\], but column 'n' holds integer values"):
        run(pd.DataFrame({"n": [1]}), [{"type": "accepted_values", "column": "n", "values": [True]}])


def test_range_on_decimals_and_checks_on_an_all_null_column():
    from decimal import Decimal

    frame = pd.DataFrame({"price": [Decimal("1.50"), Decimal("-0.01"), None], "note": [np.nan] * 3})
    outcome = run(frame, [{"type": "range", "column": "price", "min": 0, "on_fail": "warn"},
                          {"type": "regex", "column": "note", "pattern": "x", "on_fail": "warn"}])
    assert [r.failed_rows for r in outcome.results] == [1, 0]


def test_repeated_columns_and_columns_differing_in_case_are_refused():
    repeated = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(QualityError, match=r"the data has column\(s\) \['a'\] more than once"):
        run(repeated, [{"type": "range", "column": "a", "min": 0}])
    cased = pd.DataFrame({"Amount": [1], "amount": [100]})
    with pytest.raises(QualityError, match=r"columns \['Amount', 'amount'\] differ only in letter case"):
        run(cased, [{"type": "expression", "name": "big", "expr": "amount >= 50", "on_fail": "drop"}])
    assert run(cased, [{"type": "range", "column": "amount", "min": 50, "on_fail": "warn"}]).results[0].failed_rows == 0


def test_the_gate_compares_exactly_without_rounding():
    frame = pd.DataFrame({"id": [None] + list(range(2_000_000))})
    checks = [{"type": "not_null", "columns": ["id"], "on_fail": "drop"}]
    assert run(frame, checks, QualityGate(min_pass_rate=1.0)).blocked is not None  # 1 bad row in 2,000,001
