"""SCD type 2 through Arrow and deltalake (pandas, and Spark without native Delta): versions,
what counts as a change, deletes, refusals that leave the table as it was."""

from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from odibi_dagster.engines.arrow_tables import TableWriteError, read_delta, write_frame
from odibi_dagster.engines.scd2 import write_scd2
from odibi_dagster.engines.storage import TableLocation, WriteSpec

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
NAN = float("nan")


@pytest.fixture
def location(tmp_path):
    return TableLocation(tmp_path, "qat", "proj", "Silver", "silver.dim")


def apply(location, rows: dict, day: int = 0, **spec):
    location.path.mkdir(parents=True, exist_ok=True)
    return write_scd2(location, pa.table(rows), WriteSpec(mode="scd2", merge_keys=("id",), **spec),
                      exists=location.stored_format() == "delta", now=T0 + timedelta(days=day))


def versions(location) -> list[tuple]:
    table = read_delta(location.path).to_pandas().sort_values(["id", "valid_from"])
    return [(row.id, row.seg, row.valid_from.day, None if row.valid_to is None or row.valid_to != row.valid_to
             else row.valid_to.day, bool(row.is_current)) for row in table.itertuples()]


def test_versions_of_new_changed_and_unchanged_keys_and_an_idempotent_rerun(location):
    first = {"id": [1, 2, 3], "seg": ["a", "b", None], "score": [1.5, NAN, None], "note": ["x", "y", "z"]}
    result = apply(location, first, track_columns=("seg", "score"))
    assert (result.extra["odibi/scd2_inserted"], result.extra["odibi/scd2_closed"]) == (3, 0)
    version = DeltaTable(str(location.path)).version()
    # the same rows again, and an untracked column changed alone: nothing written, not even a commit
    again = apply(location, {**first, "note": ["changed", "y", "z"]}, day=1, track_columns=("seg", "score"))
    assert again.extra == {"odibi/scd2_inserted": 0, "odibi/scd2_closed": 0, "odibi/scd2_unchanged": 3}
    assert DeltaTable(str(location.path)).version() == version
    # key 1 changes segment, key 3's null score becomes 2.0, key 4 is new; NaN and null stay equal
    changed = apply(location, {"id": [1, 2, 3, 4], "seg": ["A", "b", None, "d"], "score": [1.5, NAN, 2.0, 0.0],
                               "note": ["x", "y", "z", "w"]}, day=2, track_columns=("seg", "score"))
    assert changed.extra == {"odibi/scd2_inserted": 3, "odibi/scd2_closed": 2, "odibi/scd2_unchanged": 1}
    assert DeltaTable(str(location.path)).version() == version + 1  # one commit
    assert versions(location) == [(1, "a", 1, 3, False), (1, "A", 3, None, True), (2, "b", 1, None, True),
                                  (3, None, 1, 3, False), (3, None, 3, None, True), (4, "d", 3, None, True)]
    current = read_delta(location.path).to_pandas().query("is_current")
    assert current["id"].is_unique


def test_every_non_key_column_is_tracked_by_default_and_floats_compare_by_value(location):
    apply(location, {"id": [1, 2], "seg": ["a", "b"], "amount": [3.0, 0.1 + 0.2]})
    result = apply(location, {"id": [1, 2], "seg": ["a", "b"], "amount": [3.0, 0.30000000000000004]}, day=1)
    assert result.extra["odibi/scd2_unchanged"] == 2
    result = apply(location, {"id": [1, 2], "seg": ["a", "b"], "amount": [3.5, 0.30000000000000004]}, day=2)
    assert (result.extra["odibi/scd2_inserted"], result.extra["odibi/scd2_closed"]) == (1, 1)


def test_scd2_deletes_close_keeps_or_closes_vanished_keys(location):
    apply(location, {"id": [1, 2], "seg": ["a", "b"]})
    kept = apply(location, {"id": [1], "seg": ["a"]}, day=1)
    assert kept.extra["odibi/scd2_closed"] == 0
    closed = apply(location, {"id": [1], "seg": ["a"]}, day=2, scd2_deletes="close")
    assert closed.extra["odibi/scd2_closed"] == 1
    assert versions(location) == [(1, "a", 1, None, True), (2, "b", 1, 3, False)]
    back = apply(location, {"id": [1, 2], "seg": ["a", "b"]}, day=3, scd2_deletes="close")
    assert back.extra["odibi/scd2_inserted"] == 1  # a key that comes back gets a new version
    assert versions(location)[-1] == (2, "b", 4, None, True)


def test_the_effective_column_dates_each_version(location):
    apply(location, {"id": [1], "seg": ["a"], "changed": [datetime(2024, 3, 1)]}, effective_column="changed")
    apply(location, {"id": [1], "seg": ["b"], "changed": [datetime(2024, 3, 5)]}, effective_column="changed")
    stored = read_delta(location.path).to_pandas().sort_values("valid_from")
    assert [str(value)[:10] for value in stored["valid_from"]] == ["2024-03-01", "2024-03-05"]
    assert str(stored["valid_to"].iloc[0])[:10] == "2024-03-05"
    with pytest.raises(TableWriteError, match="1 changes take effect at or before their key's current version starts"):
        apply(location, {"id": [1], "seg": ["c"], "changed": [datetime(2024, 3, 2)]}, effective_column="changed")


@pytest.mark.parametrize("rows, spec, words", [
    ({"id": [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6], "seg": list("abcdefghijkl")}, {},
     ["6 keys ['id'] appear more than once", "{'id': 1}", "{'id': 5}", "the stored table is unchanged"]),
    ({"id": [1, None], "seg": ["a", "b"]}, {}, ["1 rows have a null key ['id']"]),
    ({"id": [1], "seg": ["a"]}, {"track_columns": ("segment",)}, ["track_columns ['segment'] are not columns"]),
    ({"id": [1], "seg": ["a"]}, {"effective_column": "when"}, ["effective_column ['when'] are not columns"]),
    ({"id": [1], "seg": ["a"], "is_current": [True]}, {}, ["the data has columns ['is_current']"]),
    ({"id": [1], "seg": ["a"], "when": ["2024-01-01"]}, {"effective_column": "when"},
     ["effective_column 'when' is string, not a timestamp or a date"]),
])
def test_bad_input_is_refused_and_the_stored_table_stays(location, rows, spec, words):
    apply(location, {"id": [9], "seg": ["z"], **({"when": [datetime(2023, 1, 1)]} if "when" in rows else {})},
          **({k: v for k, v in spec.items() if k == "effective_column" and "when" in rows}))
    before = read_delta(location.path).to_pandas()
    with pytest.raises(TableWriteError) as caught:
        apply(location, rows, day=1, **spec)
    for word in words:
        assert word in str(caught.value), str(caught.value)
    assert read_delta(location.path).to_pandas().equals(before)


def test_a_table_written_in_another_mode_is_refused(location):
    write_frame(location, pa.table({"id": [1], "seg": ["a"]}).to_pandas(), format="delta")
    with pytest.raises(TableWriteError, match=r"has no \['valid_from', 'valid_to', 'is_current'\] column"):
        apply(location, {"id": [1], "seg": ["b"]})
    assert read_delta(location.path).num_rows == 1


def test_what_would_break_one_current_version_per_key_is_refused(location):
    """Found by a hostile run: each of these once left a key with two current versions or an
    overlapping history."""
    when = {"changed": [datetime(2024, 3, 1), None]}
    with pytest.raises(TableWriteError, match="1 rows have no value in effective_column 'changed'"):
        apply(location, {"id": [1, 2], "seg": ["a", "b"], **when}, effective_column="changed")
    apply(location, {"id": [1, 2], "seg": ["a", "b"], "changed": [datetime(2024, 3, 1)] * 2},
          effective_column="changed")
    # key 2 is closed at the run's time (2024-01-02 here: before its version started) -> refused
    with pytest.raises(TableWriteError, match="current version starting after the run's time"):
        apply(location, {"id": [1], "seg": ["a"], "changed": [datetime(2024, 3, 1)]}, day=1,
              effective_column="changed", scd2_deletes="close")
    later = T0 + timedelta(days=100)  # 2024-04-10: key 2 closed then
    write_scd2(location, pa.table({"id": [1], "seg": ["a"], "changed": [datetime(2024, 3, 1)]}),
               WriteSpec(mode="scd2", merge_keys=("id",), effective_column="changed", scd2_deletes="close"),
               exists=True, now=later)
    # key 2 comes back with a change dated before its last version ended: it would overlap it
    with pytest.raises(TableWriteError, match="keys come back with a version starting before their last version"):
        apply(location, {"id": [1, 2], "seg": ["a", "b"], "changed": [datetime(2024, 3, 1), datetime(2024, 4, 1)]},
              day=101, effective_column="changed", scd2_deletes="close")
    back = apply(location, {"id": [1, 2], "seg": ["a", "b"], "changed": [datetime(2024, 3, 1), datetime(2024, 5, 1)]},
                 day=101, effective_column="changed", scd2_deletes="close")
    assert back.extra["odibi/scd2_inserted"] == 1
    current = read_delta(location.path).to_pandas().query("is_current")
    assert sorted(current["id"]) == [1, 2]


def test_float_keys_and_untyped_columns_are_refused(location):
    with pytest.raises(TableWriteError, match=r"merge_keys \['id'\] are floating point"):
        apply(location, {"id": [0.0, -0.0], "seg": ["a", "b"]})
    with pytest.raises(TableWriteError, match=r"columns \['seg'\] hold only nulls and have no type"):
        apply(location, {"id": [1], "seg": pa.nulls(1)})
    assert location.stored_format() is None


def test_nan_and_null_are_the_same_missing_value(location):
    apply(location, {"id": [1, 2], "score": pa.array([NAN, None], pa.float64())})
    result = apply(location, {"id": [1, 2], "score": pa.array([None, NAN], pa.float64())}, day=1)
    assert result.extra["odibi/scd2_unchanged"] == 2


def test_a_parquet_table_is_refused_before_anything_is_converted(location):
    from odibi_dagster.engines.arrow_tables import write_arrow

    write_frame(location, pa.table({"id": [1], "seg": ["a"]}).to_pandas())
    with pytest.raises(TableWriteError, match="parquet table written in another mode"):
        write_arrow(location, pa.table({"id": [1], "seg": ["b"]}), WriteSpec(mode="scd2", merge_keys=("id",)),
                    engine="pandas")
    assert sorted(path.name for path in location.path.iterdir() if not path.name.startswith(".")) == ["data.parquet"]
