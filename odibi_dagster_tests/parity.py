"""Compare the tables two runs produced, whichever engine wrote them."""

from pathlib import Path

import numpy as np
import pandas as pd

from odibi_dagster.engines.arrow_tables import read_frame
from odibi_dagster.engines.storage import TableLocation

# Gold tables of the demo and the columns that identify a row.
DEMO_GOLD = {
    ("Gold_1", "gold.plant_daily_efficiency"): ["plant_id", "date"],
    ("Gold_1", "gold.efficiency_alerts"): ["boiler_id", "date"],
    ("Gold_2", "gold.plant_summary"): ["plant_id"],
}
TOLERANCE = 1e-9  # relative: sums and means may add up in another order on Spark


def normalized(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    frame = frame.copy()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column].dt.tz_convert("UTC").dt.tz_localize(None)
        if pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = frame[column].astype("datetime64[us]")
    return frame.sort_values(keys).reset_index(drop=True)


def assert_same_table(left: pd.DataFrame, right: pd.DataFrame, keys: list[str], name: str) -> None:
    assert sorted(left.columns) == sorted(right.columns), f"{name}: columns differ"
    assert len(left) == len(right) > 0, f"{name}: {len(left)} rows against {len(right)}"
    left, right = normalized(left, keys), normalized(right[list(left.columns)], keys)
    for column in left.columns:
        a, b = left[column], right[column]
        if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
            kinds = {kind.replace("u", "i") for kind in (a.dtype.kind, b.dtype.kind)}
            assert len(kinds) == 1, f"{name}.{column}: {a.dtype} against {b.dtype}"  # an int written as a float
            assert np.allclose(a.astype(float), b.astype(float), rtol=TOLERANCE, equal_nan=True), \
                f"{name}.{column} differs beyond {TOLERANCE}"
        else:
            assert a.isna().tolist() == b.isna().tolist(), f"{name}.{column}: nulls differ"
            assert a.dropna().astype(str).tolist() == b.dropna().astype(str).tolist(), f"{name}.{column} differs"


def assert_same_gold(left_root: Path, right_root: Path, env: str = "qat") -> None:
    for (layer, table), keys in DEMO_GOLD.items():
        left, right = (read_frame(TableLocation(root, env, "energy_efficiency", layer, table))
                       for root in (left_root, right_root))
        assert_same_table(left, right, keys, table)
