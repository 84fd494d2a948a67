"""SCD type 2: an scd2 output's run over a plain deltalake script doing the same MERGE.

    .venv/bin/python benchmarks/scd2.py [--quick]

``scd2_ratio``: a 1M-row dimension (id, segment, score, region) of which 1% of the keys changed
since the last run, applied through Dagster (the transformation's step: load the bronze table,
call the function, write the scd2 output) against a script that reads the same parquet file with
pandas, finds the changed keys and runs one deltalake MERGE (close + insert). ``_spark`` beside it.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import yaml
from deltalake import DeltaTable, write_deltalake


def dimension(rows: int, changed_from: int, round_: int) -> pd.DataFrame:
    """The dimension as delivered in round ``round_``: keys from ``changed_from`` on changed 1% each round."""
    ids = np.arange(rows)
    segment = np.where((ids >= changed_from) & (ids < changed_from + rows // 100), f"s{round_}", "base")
    return pd.DataFrame({"id": ids, "segment": segment, "score": (ids % 1000) / 10.0, "region": ids % 7})


def project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.yaml").write_text(yaml.safe_dump({"project_name": "Bench Scd2", "retry": {"max_retries": 0},
                                                        "layer_order": ["Bronze", "Silver"]}))
    (root / "sources.yaml").write_text(yaml.safe_dump([{
        "source_id": "src-dim", "source_name": "bronze.dim", "file_format": "parquet",
        "source_path_or_query": "data/dim.parquet"}]))
    (root / "transformations.yaml").write_text(yaml.safe_dump([{
        "transformation_id": "dim-silver", "layer": "Silver", "module": "bench_scd2", "function": "passthrough",
        "inputs": ["bronze.dim"], "outputs": [{"table": "silver.dim", "mode": "scd2", "merge_keys": ["id"]}]}]))
    (root / "bench_scd2.py").write_text("def passthrough(inputs):\n    return inputs['bronze.dim']\n")
    return root


def plain_scd2(source: Path, path: str) -> None:
    """What a data engineer would write with pandas and deltalake alone."""
    new = pd.read_parquet(source)
    now = pd.Timestamp(datetime.now(timezone.utc))
    table = DeltaTable(path)
    current = table.to_pandas(filters=[("is_current", "=", True)], columns=["id", "segment", "score", "region"])
    merged = new.merge(current, on="id", how="left", suffixes=("", "_old"), indicator=True)
    changed = merged["_merge"].eq("both") & ~(
        merged["segment"].eq(merged["segment_old"]) & merged["score"].eq(merged["score_old"])
        & merged["region"].eq(merged["region_old"]))
    never = pd.Series(pd.NaT, dtype="datetime64[us, UTC]")
    inserts = merged.loc[merged["_merge"].eq("left_only") | changed, list(new.columns)].assign(
        valid_from=now, is_current=True, action="insert")
    inserts = inserts.assign(valid_to=never.reindex(inserts.index), close_at=never.reindex(inserts.index))
    closes = merged.loc[changed, ["id"]].assign(action="close", close_at=now)
    source_rows = pd.concat([closes, inserts], ignore_index=True)
    for column in ("valid_from", "valid_to", "close_at"):
        source_rows[column] = pd.to_datetime(source_rows[column], utc=True).astype("datetime64[us, UTC]")
    columns = list(new.columns) + ["valid_from", "valid_to", "is_current"]
    (table.merge(pa.Table.from_pandas(source_rows, preserve_index=False),
                 "t.id = s.id AND t.is_current = true AND s.action = 'close'", source_alias="s", target_alias="t")
     .when_matched_update({"valid_to": "s.close_at", "is_current": "false"})
     .when_not_matched_insert({name: f"s.{name}" for name in columns}, predicate="s.action = 'insert'")
     .execute())


def measure(work: Path, rows: int, repeats: int, engine: str = "pandas") -> float:
    import dagster as dg

    from odibi_dagster.assets import build_definitions
    from odibi_dagster.config import load_project_folder

    root = project(work / f"scd2_{engine}")
    (root / "data").mkdir(exist_ok=True)
    source = root / "data" / "dim.parquet"
    dimension(rows, 0, 0).to_parquet(source, index=False)
    job = build_definitions(load_project_folder(root), engine=engine,
                            storage_root_dir=work / f"scd2_{engine}_storage").resolve_implicit_global_asset_job_def()
    plain = str(work / f"scd2_plain_{engine}")
    first = dimension(rows, 0, 0).assign(valid_from=pd.Timestamp("2024-01-01", tz="UTC"), is_current=True)
    first["valid_from"] = first["valid_from"].astype("datetime64[us, UTC]")
    first["valid_to"] = pd.Series(pd.NaT, index=first.index, dtype="datetime64[us, UTC]")
    first = first[["id", "segment", "score", "region", "valid_from", "valid_to", "is_current"]]
    write_deltalake(plain, first, mode="overwrite")
    times: tuple[list[float], list[float]] = ([], [])
    with dg.DagsterInstance.ephemeral() as instance:
        def run(selection):
            result = job.execute_in_process(instance=instance, raise_on_error=False,
                                            asset_selection=[dg.AssetKey.from_user_string(s) for s in selection])
            assert result.success
        run(["bench_scd2/bronze/dim", "bench_scd2/silver/dim"])
        for round_ in range(1, repeats + 2):  # the first round warms up, untimed
            dimension(rows, (round_ * rows // 100) % rows, round_).to_parquet(source, index=False)
            run(["bench_scd2/bronze/dim"])  # the new delivery stored in bronze, untimed
            for side, fn in ((0, lambda: run(["bench_scd2/silver/dim"])), (1, lambda: plain_scd2(source, plain))):
                start = time.perf_counter()
                fn()
                if round_ > 1:
                    times[side].append(time.perf_counter() - start)
    ours, theirs = statistics.median(times[0]), statistics.median(times[1])
    print(f"{engine}: scd2 of {rows} rows, 1% changed: {ours:.2f} s through Dagster, {theirs:.2f} s plain deltalake",
          file=sys.stderr)
    return ours / theirs


def measure_all(work: Path, quick: bool, repeats: int) -> dict[str, float]:
    rows = 20_000 if quick else 1_000_000
    return {"scd2_ratio": measure(work, rows, repeats), "scd2_ratio_spark": measure(work, rows, repeats, "spark")}


if __name__ == "__main__":
    import json
    import tempfile

    quick = "--quick" in sys.argv
    os.environ.pop("DAGSTER_HOME", None)
    with tempfile.TemporaryDirectory(prefix="odibi_bench_scd2_") as folder:
        found = measure_all(Path(folder), quick, 1 if quick else 3)
    print(json.dumps({key: round(value, 3) for key, value in found.items()}))
