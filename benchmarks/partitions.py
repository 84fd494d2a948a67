"""Partitions and incremental loads: work that grows with the new data, not with all data.

    .venv/bin/python benchmarks/partitions.py [--quick]

``partition_rerun_ratio``: re-running one partition of a 13-partition (monthly) table of 5.2M
rows over the backfill of all 13 in one run (pandas; ``_spark`` beside it). ``incremental_ratio``:
an incremental run of a SQL source that brings 1% new rows over a full load of the same 1.3M-row
table.
Both sides run through Dagster on the same instance, alternately; medians.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
import yaml

MONTHS = pd.date_range("2024-01-01", periods=13, freq="MS")


def _project(root: Path, sources: list[dict], transformations: list[dict], partitions: dict | None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    manifest = {"project_name": "Bench Partitions", "layer_order": ["Bronze", "Silver"], "retry": {"max_retries": 0},
                **({"partitions": partitions} if partitions else {})}
    (root / "manifest.yaml").write_text(yaml.safe_dump(manifest))
    (root / "sources.yaml").write_text(yaml.safe_dump(sources))
    (root / "transformations.yaml").write_text(yaml.safe_dump(transformations))
    (root / "bench_functions.py").write_text("def passthrough(inputs):\n    return inputs['bronze.readings']\n")
    return root


def partitioned_project(root: Path, rows: int) -> Path:
    per_month = rows // len(MONTHS)
    (root / "data").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for month in MONTHS:
        seconds = rng.integers(0, 27 * 86400, per_month)
        pd.DataFrame({"reading_time": month + pd.to_timedelta(seconds, unit="s"),
                      "meter": rng.integers(0, 500, per_month), "kwh": rng.random(per_month)}).to_parquet(
            root / "data" / f"{month:%Y-%m-%d}.parquet", index=False, coerce_timestamps="us")  # Spark reads us
    return _project(
        root, [{"source_id": "src-readings", "source_name": "bronze.readings", "file_format": "parquet",
                "source_path_or_query": "data/{partition_key}.parquet", "partition_column": "reading_time"}],
        [{"transformation_id": "silver-readings", "layer": "Silver", "module": "bench_functions",
          "function": "passthrough", "inputs": ["bronze.readings"],
          "outputs": [{"table": "silver.readings", "partition_column": "reading_time"}]}],
        {"type": "monthly", "start": "2024-01-01", "end": "2025-02-01"})


def _job(root: Path, storage: Path, engine: str):
    from odibi_dagster.assets import build_definitions
    from odibi_dagster.config import load_project_folder

    defs = build_definitions(load_project_folder(root), engine=engine, storage_root_dir=storage)
    return defs.resolve_implicit_global_asset_job_def()


def _run(job, instance, tags=None, partition=None, run_config=None) -> None:
    result = job.execute_in_process(instance=instance, tags=tags or {}, partition_key=partition,
                                    run_config=run_config, raise_on_error=False)
    assert result.success, [str(event.event_specific_data.error.to_string())[-800:] for event in result.all_events
                             if event.event_type_value == "STEP_FAILURE"]


def _median_pair(first, second, repeats: int, before=None) -> tuple[float, float]:
    first()
    second()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for fn, out in ((first, times[0]), (second, times[1])):
            if before is not None and fn is first:
                before()
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def partition_rerun(work: Path, rows: int, repeats: int, engine: str) -> float:
    import dagster as dg

    root = partitioned_project(work / f"partitioned_{engine}", rows)
    job = _job(root, work / f"partitioned_{engine}_storage", engine)
    whole = {"dagster/asset_partition_range_start": "2024-01-01", "dagster/asset_partition_range_end": "2025-01-01"}
    with dg.DagsterInstance.ephemeral() as instance:
        rerun_s, backfill_s = _median_pair(lambda: _run(job, instance, partition="2024-06-01"),
                                           lambda: _run(job, instance, tags=whole), repeats)
    print(f"{engine}: one partition of 13 ({rows} rows in all) {rerun_s:.2f} s, the backfill of 13 "
          f"{backfill_s:.2f} s", file=sys.stderr)
    return rerun_s / backfill_s


def incremental(work: Path, rows: int, repeats: int) -> float:
    import dagster as dg

    root = work / "incremental"
    root.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(f"sqlite:///{root / 'events.db'}")
    start = pd.Timestamp("2024-01-01")
    state = {"next": rows}

    def events(first: int, count: int) -> pd.DataFrame:
        ids = np.arange(first, first + count)
        return pd.DataFrame({"event_id": ids, "updated_at": start + pd.to_timedelta(ids, unit="s"),
                             "meter": ids % 500, "kwh": (ids % 97) / 7.0})

    events(0, rows).to_sql("events", engine, index=False, chunksize=100_000)
    _project(root, [{"source_id": "src-events", "source_name": "bronze.events", "file_format": "sql",
                     "connection_config": {"url": "sqlite:///events.db"}, "source_path_or_query": "events",
                     "incremental": {"column": "updated_at"}}], [], None)
    (root / "transformations.yaml").write_text("[]\n")
    job = _job(root, work / "incremental_storage", "pandas")
    full = {"resources": {"odibi_engine": {"config": {"full_refresh": True}}}}

    def new_rows() -> None:  # 1% new events, untimed
        events(state["next"], rows // 100).to_sql("events", engine, index=False, if_exists="append")
        state["next"] += rows // 100

    with dg.DagsterInstance.ephemeral() as instance:
        _run(job, instance, run_config=full)
        incremental_s, full_s = _median_pair(lambda: _run(job, instance), lambda: _run(job, instance, run_config=full),
                                             repeats, before=new_rows)
    engine.dispose()
    print(f"incremental run (1% new of {rows} rows) {incremental_s:.2f} s, full load {full_s:.2f} s", file=sys.stderr)
    return incremental_s / full_s


def measure(work: Path, quick: bool, repeats: int) -> dict[str, float]:
    """Full runs: the partitioned table has 5.2M rows (400k a month), the SQL table 1.3M."""
    partitioned, table = (26_000, 26_000) if quick else (5_200_000, 1_300_000)
    return {"partition_rerun_ratio": partition_rerun(work, partitioned, repeats, "pandas"),
            "partition_rerun_ratio_spark": partition_rerun(work, partitioned, repeats, "spark"),
            "incremental_ratio": incremental(work, table, repeats)}


if __name__ == "__main__":
    import json
    import tempfile

    quick = "--quick" in sys.argv
    os.environ.pop("DAGSTER_HOME", None)
    with tempfile.TemporaryDirectory(prefix="odibi_bench_partitions_") as folder:
        found = measure(Path(folder), quick, 1 if quick else 3)
    print(json.dumps({key: round(value, 3) for key, value in found.items()}))
