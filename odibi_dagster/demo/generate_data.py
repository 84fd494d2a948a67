"""Generate the Energy Efficiency demo's raw data, deterministically.

    python -m odibi_dagster.demo.generate_data --out DIR [--rows N] [--days D]

Writes ``plants.csv``, ``boilers.json`` (JSON records), ``sensor_readings.parquet`` (N rows)
and ``energy.db`` (SQLite, table ``weather_daily``) into ``DIR``. The same N always gives the same
data. The package ships the demo with the data of ``--rows 5000`` (``SHIPPED_ROWS``) in
``energy_efficiency/data/``; ``copy_demo`` makes a copy with more.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

PLANTS = [
    ("P01", "Argo", "North", 120.0),
    ("P02", "Cedar Falls", "North", 80.0),
    ("P03", "Dunmore", "South", 150.0),
    ("P04", "Elmwood", "West", 95.0),
]
BOILER_TYPES = ["fire-tube", "water-tube", "electric"]
START = pd.Timestamp("2026-01-01")


def generate(rows: int, out: Path, days: int = 30, seed: int = 42) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)

    plants = pd.DataFrame(PLANTS, columns=["plant_id", "plant_name", "region", "capacity_mw"])
    plants.to_csv(out / "plants.csv", index=False)

    boilers = []
    for plant_id, *_ in PLANTS:
        for n in range(1, 4):
            boilers.append({
                "boiler_id": f"{plant_id}-B{n}",
                "plant_id": plant_id,
                "boiler_type": BOILER_TYPES[(n - 1) % len(BOILER_TYPES)],
                "rated_efficiency": round(0.78 + 0.04 * n, 2),
                "commissioned": f"{2005 + 3 * n}-0{n}-15",
            })
    (out / "boilers.json").write_text(json.dumps(boilers, indent=1))

    boiler_ids = np.array([b["boiler_id"] for b in boilers])
    rated = np.array([b["rated_efficiency"] for b in boilers])
    which = rng.integers(0, len(boilers), rows)
    seconds = rng.integers(0, days * 86400, rows)
    fuel = rng.gamma(9.0, 60.0, rows).round(2)
    efficiency = np.clip(rated[which] - rng.normal(0.06, 0.04, rows), 0.3, 0.99)
    steam = (fuel * efficiency * 10.5).round(2)
    flue = rng.normal(180, 25, rows).round(1)
    # a little dirt for the silver layer to clean: missing fuel and negative steam readings
    fuel[rng.random(rows) < 0.01] = np.nan
    steam[rng.random(rows) < 0.005] *= -1
    readings = pa.table({
        "reading_id": pa.array(np.arange(1, rows + 1, dtype=np.int64)),
        "boiler_id": pa.array(boiler_ids[which]),
        "ts": pa.array((START + pd.to_timedelta(seconds, unit="s")).values.astype("datetime64[us]")),
        "fuel_kg": pa.array(fuel, mask=np.isnan(fuel)),
        "steam_kg": pa.array(steam),
        "flue_temp_c": pa.array(flue),
    })
    pq.write_table(readings, out / "sensor_readings.parquet")

    dates = pd.date_range(START, periods=days, freq="D")
    weather = pd.DataFrame([
        {"plant_id": plant_id, "date": day.strftime("%Y-%m-%d"),
         "avg_temp_c": round(float(5 + 10 * np.sin(i / 5) + rng.normal(0, 2)), 1),
         "humidity_pct": round(float(rng.uniform(30, 90)), 1)}
        for plant_id, *_ in PLANTS for i, day in enumerate(dates)
    ])
    db = out / "energy.db"
    db.unlink(missing_ok=True)
    with sqlite3.connect(db) as conn:
        weather.to_sql("weather_daily", conn, index=False)
    return {"plants": len(plants), "boilers": len(boilers), "sensor_readings": rows, "weather_daily": len(weather)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="sensor readings to generate (default 20000)")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--out", type=Path, required=True, help="folder to write the files into")
    args = parser.parse_args()
    counts = generate(args.rows, args.out, days=args.days)
    print(f"wrote demo data to {args.out}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
