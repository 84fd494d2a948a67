"""Spark gives what pandas gives: failing rows, written rows and quarantined rows (local Spark)."""

import pandas as pd
import pyarrow as pa
import pytest

from odibi_dagster.config.checks import CheckConfig, QualityGate
from odibi_dagster.quality import pandas_checks, spark_checks
from odibi_dagster.quality.measure import QualityError
from odibi_dagster_tests.quality.cases import NOW, all_checks, defective_orders


def both(spark, frame, checks, gate=None):
    """The outcome on pandas and on Spark of the same rows (Spark reads them from Arrow)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    kwargs = {"where": "output 'silver.orders'", "run_id": "run-1", "now": NOW}
    return (pandas_checks.evaluate(frame, checks, gate, **kwargs),
            spark_checks.evaluate(spark.createDataFrame(table), checks, gate, **kwargs))


def rows(frame) -> list[tuple]:
    """A frame's rows as comparable tuples, in a fixed order (nulls and NaN as None)."""
    frame = frame.toPandas() if not isinstance(frame, pd.DataFrame) else frame.copy()
    for column in frame.columns:  # Spark hands timestamps over naive, in UTC (the session's time zone)
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column].dt.tz_convert("UTC").dt.tz_localize(None)
    frame = frame.astype(object).where(frame.notna(), None)
    return sorted((tuple(row) for row in frame.itertuples(index=False)), key=repr)


def test_spark_and_pandas_agree_on_every_check_of_a_defective_dataset(spark):
    on_pandas, on_spark = both(spark, defective_orders(), all_checks())
    try:
        assert [(r.name, r.passed, r.failed_rows, r.observed, r.severity) for r in on_spark.results] == [
            (r.name, r.passed, r.failed_rows, r.observed, r.severity) for r in on_pandas.results]
        assert (on_spark.rows_dropped, on_spark.rows_quarantined) == (on_pandas.rows_dropped,
                                                                     on_pandas.rows_quarantined) == (1, 4)
        assert rows(on_spark.frame) == rows(on_pandas.frame)
        assert rows(on_spark.quarantine) == rows(on_pandas.quarantine)  # _quarantined_at included
        for spark_result, pandas_result in zip(on_spark.results, on_pandas.results):
            assert len(spark_result.sample) == len(pandas_result.sample)
    finally:
        on_spark.release()


def test_nan_is_null_to_every_check_on_spark_as_on_pandas(spark):
    """Spark keeps NaN apart from null; the checks read it as pandas does (a missing value)."""
    frame = spark.createDataFrame([(1, float("nan")), (2, None), (3, 5.0), (4, -1.0)], "id long, x double")
    checks = [CheckConfig(type="not_null", columns=["x"], on_fail="warn"),
              CheckConfig(type="range", column="x", min=0, on_fail="warn"),
              CheckConfig(type="accepted_values", column="x", values=[5.0], on_fail="warn"),
              CheckConfig(type="unique", columns=["x"], on_fail="warn")]
    outcome = spark_checks.evaluate(frame, checks, None, where="t", run_id="r", now=NOW)
    assert [r.failed_rows for r in outcome.results] == [2, 1, 1, 0]
    outcome.release()


def test_the_gate_and_blocking_checks_agree(spark):
    gate = QualityGate(min_pass_rate=0.9)
    on_pandas, on_spark = both(spark, defective_orders(), all_checks(), gate)
    assert on_spark.blocked == on_pandas.blocked
    assert on_spark.blocked.startswith("output 'silver.orders': quality gate failed: 40.00% of 10 rows")
    on_spark.release()


def test_spark_names_a_missing_column_and_a_wrong_kind(spark):
    frame = spark.createDataFrame([(1, "a")], "id long, name string")
    with pytest.raises(QualityError, match=r"check 'not_null__zz' names column\(s\) \['zz'\] that the data lacks"):
        spark_checks.evaluate(frame, [CheckConfig(type="not_null", columns=["zz"])], None, where="t", run_id="r",
                              now=NOW)
    with pytest.raises(QualityError, match="check 'range__name' compares numbers, but column 'name' holds string"):
        spark_checks.evaluate(frame, [CheckConfig(type="range", column="name", min=1)], None, where="t",
                              run_id="r", now=NOW)


def test_spark_counts_in_one_aggregation_without_collecting_the_frame(spark, monkeypatch):
    """Only the aggregated row and the samples (at most 5 rows per failing check) reach the driver."""
    frame = spark.range(2000).selectExpr("id", "CASE WHEN id % 10 = 0 THEN NULL ELSE id END AS v")
    collected: list[int] = []
    original = type(frame).collect  # the session's DataFrame class (classic or Connect)

    def counting(self):
        result = original(self)
        collected.append(len(result))
        return result

    monkeypatch.setattr(type(frame), "collect", counting)  # observes; Spark still runs for real
    outcome = spark_checks.evaluate(frame, [CheckConfig(type="not_null", columns=["v"], on_fail="drop"),
                                            CheckConfig(type="range", column="v", max=1500, on_fail="warn")],
                                    None, where="t", run_id="r", now=NOW)
    assert [r.failed_rows for r in outcome.results] == [200, 450]
    assert collected == [1, 5, 5]  # one aggregation, then one 5-row sample per failing check
    assert outcome.rows_dropped == 200
    outcome.release()


def test_spark_agrees_on_ascii_regex_kinds_of_values_and_a_clashing_column_name(spark):
    frame = pd.DataFrame({"code": ["12", "١٢", "ab_", "é"], "_odibi_check_0": [1, 2, 3, 4]})
    checks = [CheckConfig(type="regex", column="code", pattern="\\d+", on_fail="warn"),
              CheckConfig(type="regex", column="code", pattern="\\w+", on_fail="warn", name="word")]
    on_pandas, on_spark = both(spark, frame, checks)
    assert [r.failed_rows for r in on_spark.results] == [r.failed_rows for r in on_pandas.results] == [3, 2]
    on_spark.release()
    strings = spark.createDataFrame([("1",)], "code string")
    with pytest.raises(QualityError, match=r"lists \[1\], but column 'code' holds string values"):
        spark_checks.evaluate(strings, [CheckConfig(type="accepted_values", column="code", values=[1])], None,
                              where="t", run_id="r", now=NOW)
