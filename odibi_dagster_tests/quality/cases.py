"""A dataset with every kind of defect the checks look for, and checks of every type over it."""

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

from odibi_dagster.config.checks import CheckConfig

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


def defective_orders() -> pd.DataFrame:
    """10 orders: a null key, a duplicated key, an unknown status, negative and NaN amounts, a bad
    e-mail, a discount above the amount, nulls in every checked column."""
    return pd.DataFrame({
        "order_id": pd.array([1, 2, 3, 3, None, 6, 7, 8, 9, 10], dtype="Int64"),
        "status": ["placed", "shipped", "returned", "placed", "placed", "lost", None, "placed", "shipped", "placed"],
        "amount": [10.0, 20.0, -5.0, 30.0, 40.0, 50.0, np.nan, 70.0, 80.0, None],
        "discount": [1.0, 0.0, -10.0, 0.0, 0.0, 60.0, 0.0, 0.0, 0.0, 0.0],
        "email": ["a@x.org", "b@x.org", "c@x.org", "d@x.org", "e@x.org", "f@x.org", "g@x.org", "not an email",
                  None, "j@x.org\n"],
        "ordered_at": [NOW - timedelta(hours=h) for h in (1, 2, 3, 4, 5, 6, 7, 8, 9, 40)],
    })


def all_checks() -> list[CheckConfig]:
    return [CheckConfig(**spec) for spec in [
        {"type": "not_null", "columns": ["order_id"], "on_fail": "quarantine"},
        {"type": "unique", "columns": ["order_id"], "on_fail": "warn"},
        {"type": "accepted_values", "column": "status", "values": ["placed", "shipped", "returned"],
         "on_fail": "warn"},
        {"type": "range", "column": "amount", "min": 0, "max": 100000, "on_fail": "drop"},
        {"type": "regex", "column": "email", "pattern": "[^@ ]+@[a-z.]+", "on_fail": "quarantine"},
        {"type": "expression", "expr": "amount >= discount", "on_fail": "quarantine", "name": "amount_covers_discount"},
        {"type": "row_count", "min": 1, "max": 10000000},
        {"type": "freshness", "column": "ordered_at", "max_age": "36h", "on_fail": "warn"},
        {"type": "schema", "columns": {"order_id": "integer", "amount": "double", "status": "string"}},
    ]]


# What the checks find in defective_orders(), by order position (0-based)
EXPECTED_FAILED = {
    "not_null__order_id": 1,  # row 4
    "unique__order_id": 2,  # rows 2 and 3 (order 3 twice)
    "accepted_values__status": 1,  # row 5 'lost'; row 6's null passes
    "range__amount": 1,  # row 2 (-5); NaN and None pass
    "regex__email": 2,  # row 7, and row 9 whose trailing line break is not part of a full match
    "amount_covers_discount": 1,  # row 5 (50 < 60); null amounts pass
}
EXPECTED_QUARANTINED = {4: "not_null__order_id", 5: "accepted_values__status,amount_covers_discount",
                        7: "regex__email", 9: "regex__email"}
EXPECTED_DROPPED = {2}  # range only (a drop check); its unique failure is a warn
