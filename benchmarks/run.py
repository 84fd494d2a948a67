"""Benchmarks: what the orchestration costs, side by side with plain scripts, as ratios.

    .venv/bin/python benchmarks/run.py [--quick] [--only quality|partitions|scd2]

Each measurement alternates the two sides and takes medians (2-core machines are noisy). The
last line printed is one JSON object with every key; benchmarks/RESULTS.md records full runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from odibi_dagster.demo import copy_demo

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def side_by_side(a: Callable[[], object], b: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median seconds of ``a`` and ``b``, run alternately after one untimed warm-up run of each
    (imports and first-use costs are paid once per process, not per run). A smoke run
    (``repeats`` 1, ``--quick``) skips the warm-up: it checks that every key is measured, not the figures."""
    a_s, b_s = alternately([a, b], repeats)
    return a_s, b_s


def alternately(sides: list[Callable[[], object]], repeats: int) -> list[float]:
    """``side_by_side`` for any number of sides: the median seconds of each, in order."""
    if repeats > 1:
        for fn in sides:
            fn()
    times: list[list[float]] = [[] for _ in sides]
    for _ in range(repeats):
        for fn, seconds in zip(sides, times):
            start = time.perf_counter()
            fn()
            seconds.append(time.perf_counter() - start)
    return [statistics.median(seconds) for seconds in times]


def demo_copy(work: Path, rows: int) -> Path:
    return copy_demo(work / "energy_efficiency", rows)


# -- the demo through Dagster against plain scripts ----------------------------------------------

def run_through_dagster(project_dir: Path, storage: Path, engine: str, hooks=None) -> None:
    from odibi_dagster.orchestration import run_project

    os.environ["ODIBI_STORAGE_ROOT"] = str(storage)
    result = run_project("Energy Efficiency", engine=engine, project_dir=project_dir, hooks=hooks, quiet=True)
    assert result["status"] == "success", result


def plain_pandas(project_dir: Path, out: Path) -> None:
    """The same reads, functions and parquet/Delta writes, as a plain script would do them."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    import sqlalchemy as sa
    from deltalake import write_deltalake

    sys.path.insert(0, str(project_dir))
    import energy_functions as f

    out.mkdir(parents=True, exist_ok=True)

    def save(name, frame, delta=False):
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if delta:
            write_deltalake(str(out / name), table, mode="overwrite")
        else:
            pq.write_table(table, out / f"{name}.parquet")

    data = project_dir / "data"
    plants = pd.read_csv(data / "plants.csv", keep_default_na=False, na_values=[""]).astype({"capacity_mw": "float64"})
    boilers = pd.read_json(data / "boilers.json", convert_dates=False)
    boilers["commissioned"] = pd.to_datetime(boilers["commissioned"])
    readings = pd.read_parquet(data / "sensor_readings.parquet")
    engine = sa.create_engine(f"sqlite:///{data / 'energy.db'}")
    with engine.connect() as conn:
        weather = pd.read_sql_query(sa.text("SELECT plant_id, date, avg_temp_c, humidity_pct FROM weather_daily"), conn)
    engine.dispose()
    for name, frame in (("plants", plants), ("boilers", boilers), ("readings", readings), ("weather", weather)):
        save(name, frame)
    clean = f.clean_sensor_readings({"bronze.sensor_readings": readings}, {"min_fuel_kg": 1.0})
    save("clean", clean)
    assets = f.conform_boiler_assets({"bronze.boilers": boilers, "bronze.plants": plants})
    save("assets", assets)
    daily = f.boiler_daily_metrics({"silver.sensor_readings": clean, "silver.boiler_assets": assets})
    save("daily", daily, delta=True)
    gold = f.plant_daily_efficiency({"silver.boiler_daily": daily, "bronze.weather": weather}, {"alert_gap": 0.08})
    for name, frame in gold.items():
        save(name, frame)
    save("summary", f.plant_summary({"gold.plant_daily_efficiency": gold["gold.plant_daily_efficiency"]}))


def bench_demo(project_dir: Path, work: Path, rows: int, repeats: int) -> dict[str, float]:
    """``project_dir``: the demo without checks (the plain script checks nothing either)."""
    dagster_s, plain_s = side_by_side(lambda: run_through_dagster(project_dir, work / "dagster_out", "pandas"),
                                      lambda: plain_pandas(project_dir, work / "plain_out"), repeats)
    log(f"pandas demo, {rows} readings: dagster {dagster_s:.2f} s, plain {plain_s:.2f} s")

    from odibi_dagster.hooks import EVENTS, HookManager

    hooks = HookManager()
    for n in range(20):
        hooks.register(list(EVENTS)[n % len(EVENTS)], lambda payload: None)
    hooked_s, bare_s = side_by_side(lambda: run_through_dagster(project_dir, work / "hooked", "pandas", hooks),
                                    lambda: run_through_dagster(project_dir, work / "bare", "pandas"), repeats)
    log(f"20 hooks: {hooked_s:.2f} s, none {bare_s:.2f} s")
    rss_dagster = peak_rss(f"from benchmarks.run import run_through_dagster; from pathlib import Path; "
                           f"run_through_dagster(Path({str(project_dir)!r}), Path({str(work / 'rss_d')!r}), 'pandas')")
    rss_plain = peak_rss(f"from benchmarks.run import plain_pandas; from pathlib import Path; "
                         f"plain_pandas(Path({str(project_dir)!r}), Path({str(work / 'rss_p')!r}))")
    log(f"peak RSS: dagster {rss_dagster / 1024:.0f} MB, plain {rss_plain / 1024:.0f} MB")
    return {"pandas_overhead_ratio": dagster_s / plain_s, "hook_overhead_ratio": hooked_s / bare_s,
            "peak_rss_ratio": rss_dagster / rss_plain}


# -- data-quality checks --------------------------------------------------------------------------

# six row-level checks on the demo's largest table (bronze.sensor_readings), each kind of outcome
SIX_CHECKS = [
    {"type": "unique", "columns": ["reading_id"], "on_fail": "warn"},
    {"type": "not_null", "columns": ["boiler_id", "ts", "fuel_kg"], "on_fail": "quarantine"},
    {"type": "range", "column": "steam_kg", "min": 0, "on_fail": "drop"},
    {"type": "accepted_values", "column": "boiler_id", "on_fail": "warn",
     "values": [f"P0{plant}-B{n}" for plant in range(1, 5) for n in range(1, 4)]},
    {"type": "regex", "column": "boiler_id", "pattern": "P0[1-4]-B[1-3]", "on_fail": "warn"},
    {"type": "expression", "name": "flue_plausible", "expr": "flue_temp_c BETWEEN -50 AND 600", "on_fail": "warn"},
]


def with_checks(project_dir: Path, target: Path, checks: list[dict] | None) -> Path:
    """A copy of the demo (data hard-linked) whose only checks are ``checks`` on bronze.sensor_readings."""
    import shutil

    import yaml

    shutil.copytree(project_dir, target, copy_function=os.link, ignore=shutil.ignore_patterns("__pycache__"))
    sources = yaml.safe_load((target / "sources.yaml").read_text())
    for source in sources:
        source.pop("checks", None)
        if checks and source["source_name"] == "bronze.sensor_readings":
            source["checks"] = checks
    transformations = yaml.safe_load((target / "transformations.yaml").read_text())
    for row in transformations:
        for output in row["outputs"] if isinstance(row["outputs"], list) else []:
            output.pop("checks", None)
            output.pop("quality_gate", None)
    for name, rows in (("sources.yaml", sources), ("transformations.yaml", transformations)):
        (target / name).unlink()  # a hard link would change the original too
        (target / name).write_text(yaml.safe_dump(rows, sort_keys=False))
    return target


def bench_quality(project_dir: Path, work: Path, repeats: int) -> dict[str, float]:
    """The demo with six row-level checks on its largest table over the same run without checks."""
    checked = with_checks(project_dir, work / "dq_six", SIX_CHECKS)
    bare = with_checks(project_dir, work / "dq_none", None)
    results = {}
    for engine, key in (("pandas", "dq_overhead_ratio"), ("spark", "dq_overhead_ratio_spark")):
        checked_s, bare_s = side_by_side(
            lambda engine=engine: run_through_dagster(checked, work / f"dq_c_{engine}", engine),
            lambda engine=engine: run_through_dagster(bare, work / f"dq_b_{engine}", engine), repeats)
        log(f"{engine} demo with six checks: {checked_s:.2f} s, without {bare_s:.2f} s")
        results[key] = checked_s / bare_s
    return results


def peak_rss(code: str) -> int:
    """Peak resident memory (KB) of a fresh interpreter running ``code``.

    VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork+exec, so a child started by this
    (large) process would report this process's peak.
    """
    script = (f"{code}\nprint(next(int(line.split()[1]) for line in open('/proc/self/status') "
              f"if line.startswith('VmHWM')))")
    done = subprocess.run([PYTHON, "-c", script], cwd=REPO, capture_output=True, text=True, check=True)
    return int(done.stdout.strip().splitlines()[-1])


# -- Spark -----------------------------------------------------------------------------------------

def plain_pyspark(project_dir: Path, out: Path) -> None:
    from deltalake import write_deltalake

    from odibi_dagster.engines.spark_session import SparkSettings, get_session

    spark = get_session(SparkSettings())
    sys.path.insert(0, str(project_dir))
    import energy_functions as f

    out.mkdir(parents=True, exist_ok=True)

    def save(name, frame):
        table = frame.toArrow()
        write_deltalake(str(out / name), table, mode="overwrite", schema_mode="overwrite")

    data = project_dir / "data"
    plants = spark.read.option("header", True).option("inferSchema", True).csv(str(data / "plants.csv"))
    boilers = spark.read.option("multiLine", True).json(str(data / "boilers.json"))
    readings = spark.read.parquet(str(data / "sensor_readings.parquet"))
    import pandas as pd
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{data / 'energy.db'}")
    with engine.connect() as conn:
        weather = spark.createDataFrame(pd.read_sql_query(sa.text("SELECT * FROM weather_daily"), conn))
    engine.dispose()
    for name, frame in (("plants", plants), ("boilers", boilers), ("readings", readings), ("weather", weather)):
        save(name, frame)
    clean = f.clean_sensor_readings_spark({"bronze.sensor_readings": readings}, {"min_fuel_kg": 1.0})
    save("clean", clean)
    assets = f.conform_boiler_assets_spark({"bronze.boilers": boilers, "bronze.plants": plants})
    save("assets", assets)
    daily = f.boiler_daily_metrics_spark({"silver.sensor_readings": clean, "silver.boiler_assets": assets})
    save("daily", daily)
    gold = f.plant_daily_efficiency_spark({"silver.boiler_daily": daily, "bronze.weather": weather},
                                          {"alert_gap": 0.08})
    for name, frame in gold.items():
        save(name, frame)
    save("summary", f.plant_summary_spark({"gold.plant_daily_efficiency": gold["gold.plant_daily_efficiency"]}))


def bench_spark(project_dir: Path, work: Path, repeats: int) -> dict[str, float]:
    plain_pyspark(project_dir, work / "warm")  # start the JVM once, outside the measurement
    dagster_s, plain_s = side_by_side(lambda: run_through_dagster(project_dir, work / "spark_d", "spark"),
                                      lambda: plain_pyspark(project_dir, work / "spark_p"), repeats)
    log(f"spark demo: dagster {dagster_s:.2f} s, plain {plain_s:.2f} s")
    return {"spark_overhead_ratio": dagster_s / plain_s}


# -- per-asset overhead, IO, definitions -------------------------------------------------------------

def trivial_project(root: Path, transformations: int, sources: int = 1) -> Path:
    import yaml

    root.mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "s.csv").write_text("a\n1\n2\n")
    (root / "manifest.yaml").write_text(yaml.safe_dump({
        "project_name": f"Trivial {transformations}", "layer_order": ["Bronze", "Silver"], "default_engine": "pandas",
        "retry": {"max_retries": 0}}))
    (root / "sources.yaml").write_text(yaml.safe_dump([
        {"source_id": f"s{n}", "source_name": f"bronze.s{n}", "file_format": "csv", "source_path_or_query": "data/s.csv"}
        for n in range(sources)]))
    (root / "transformations.yaml").write_text(yaml.safe_dump([
        {"transformation_id": f"t{n}", "layer": "Silver", "module": "trivial_functions", "function": "passthrough",
         "inputs": [f"bronze.s{n % sources}"], "outputs": [{"table": f"silver.t{n}"}]}
        for n in range(transformations)], sort_keys=False))
    (root / "trivial_functions.py").write_text("def passthrough(inputs):\n    return next(iter(inputs.values()))\n")
    return root


def bench_per_asset(work: Path, count: int, repeats: int) -> float:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    project_dir = trivial_project(work / f"trivial_{count}", count)

    def plain() -> None:
        out = work / "trivial_plain"
        out.mkdir(exist_ok=True)
        frame = pd.read_csv(project_dir / "data" / "s.csv")
        for n in range(count):
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), out / f"t{n}.parquet")

    def through_dagster() -> None:
        from odibi_dagster.orchestration import run_project

        os.environ["ODIBI_STORAGE_ROOT"] = str(work / "trivial_out")
        assert run_project(f"Trivial {count}", project_dir=project_dir, quiet=True)["status"] == "success"

    dagster_s, plain_s = side_by_side(through_dagster, plain, repeats)
    log(f"{count} trivial transformations: dagster {dagster_s:.2f} s, plain {plain_s:.3f} s")
    return (dagster_s - plain_s) / count * 1000


def bench_per_asset_vs_bare(work: Path, count: int, repeats: int) -> dict[str, float]:
    """Our cost per trivial transformation over that of bare Dagster assets that do nothing (the same
    shape: one source, ``count`` assets reading it; the same in-process executor and instance kind),
    and, as a floor, over bare assets whose IO manager only writes each table as parquet atomically
    and hands it on in memory, as ours does (``bare_writing``)."""
    import dagster as dg
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from odibi_dagster.assets import build_definitions
    from odibi_dagster.config import load_project_folder

    project_dir = trivial_project(work / f"bare_vs_{count}", count)
    ours = build_definitions(load_project_folder(project_dir), storage_root_dir=work / "bare_vs_out"
                             ).resolve_implicit_global_asset_job_def()

    class NoIO(dg.ConfigurableIOManager):
        def handle_output(self, context, obj) -> None:
            return None

        def load_input(self, context) -> None:
            return None

    @dg.asset(key=["bare", "source"], io_manager_key="none")
    def source() -> None:
        return None

    def bare_asset(n: int) -> dg.AssetsDefinition:
        @dg.asset(key=["bare", f"t{n}"], ins={"upstream": dg.AssetIn(["bare", "source"])}, io_manager_key="none")
        def nothing(upstream) -> None:
            return None

        return nothing

    bare = dg.Definitions(assets=[source, *(bare_asset(n) for n in range(count))], resources={"none": NoIO()}
                          ).resolve_implicit_global_asset_job_def()

    written = work / "bare_writing_out"
    kept: dict[dg.AssetKey, pa.Table] = {}

    class ParquetIO(dg.ConfigurableIOManager):
        def handle_output(self, context, obj: pd.DataFrame) -> None:
            table = pa.Table.from_pandas(obj, preserve_index=False)
            final = written / "_".join(context.asset_key.path) / "data.parquet"
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = final.with_name(f".{final.name}.tmp")
            pq.write_table(table, tmp)
            os.replace(tmp, final)
            kept[context.asset_key] = table

        def load_input(self, context) -> pd.DataFrame:
            return kept[context.asset_key].to_pandas()

    @dg.asset(key=["bare_writing", "source"])
    def read_source():
        return pd.read_csv(project_dir / "data" / "s.csv")

    def writing_asset(n: int) -> dg.AssetsDefinition:
        @dg.asset(key=["bare_writing", f"t{n}"], ins={"upstream": dg.AssetIn(["bare_writing", "source"])})
        def passthrough(upstream):
            return upstream

        return passthrough

    bare_writing = dg.Definitions(assets=[read_source, *(writing_asset(n) for n in range(count))],
                                  resources={"io_manager": ParquetIO()}).resolve_implicit_global_asset_job_def()

    def run(job: dg.JobDefinition) -> None:
        with dg.DagsterInstance.ephemeral() as instance:
            assert job.execute_in_process(instance=instance).success

    # As the code location does once it is built (odibi_dagster.definitions), move both jobs'
    # definitions out of the garbage collector's sight: a collection during a run then scans what
    # runs allocate, not every definition in this process (both sides pay for both jobs otherwise).
    gc.freeze()
    try:
        ours_s, bare_s, writing_s = alternately([lambda: run(ours), lambda: run(bare), lambda: run(bare_writing)],
                                                repeats)
    finally:
        gc.unfreeze()
    log(f"{count} trivial assets in process: ours {ours_s:.2f} s ({ours_s / count * 1000:.1f} ms each), bare "
        f"Dagster {bare_s:.2f} s ({bare_s / count * 1000:.1f} ms each), bare writing parquet {writing_s:.2f} s "
        f"({writing_s / count * 1000:.1f} ms each)")
    return {"per_asset_vs_bare_dagster": ours_s / bare_s, "bare_writing_vs_bare_dagster": writing_s / bare_s}


def bench_io(work: Path, rows: int, repeats: int) -> dict[str, float]:
    import dagster as dg
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from dagster_deltalake import LocalConfig
    from dagster_deltalake_pandas import DeltaLakePandasIOManager

    from odibi_dagster.engines.arrow_tables import read_frame, write_frame
    from odibi_dagster.engines.storage import TableLocation

    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"id": np.arange(rows), "x": rng.random(rows), "y": rng.integers(0, 1000, rows),
                          "s": rng.choice(["a", "b", "c"], rows)})
    location = TableLocation(work / "io", "qat", "bench", "Silver", "silver.big")
    plain_file = work / "io_plain.parquet"

    def ours_parquet() -> None:
        write_frame(location, frame)
        read_frame(location)

    def pyarrow_plain() -> None:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), plain_file)
        pq.read_table(plain_file).to_pandas()

    ours_s, plain_s = side_by_side(ours_parquet, pyarrow_plain, repeats)
    log(f"parquet IO, {rows} rows: ours {ours_s:.2f} s, pyarrow {plain_s:.2f} s")

    delta_location = TableLocation(work / "io", "qat", "bench", "Silver", "silver.big_delta")
    manager = DeltaLakePandasIOManager(root_uri=str(work / "io_dagster"), storage_options=LocalConfig())
    # the config an IO manager sees in a run (Dagster passes it to the output context)
    resource_config = {"root_uri": str(work / "io_dagster"), "storage_options": {"local": {}}, "mode": "overwrite"}
    key = dg.AssetKey(["bench", "big"])

    def ours_delta() -> None:
        write_frame(delta_location, frame, format="delta")
        read_frame(delta_location)

    def dagster_delta() -> None:
        io = manager.create_io_manager(dg.build_init_resource_context())
        out_ctx = dg.build_output_context(asset_key=key, resource_config=resource_config)
        io.handle_output(out_ctx, frame)
        io.load_input(dg.build_input_context(asset_key=key, upstream_output=out_ctx, resource_config=resource_config,
                                             dagster_type=dg.PythonObjectDagsterType(pd.DataFrame)))

    ours_d, theirs_d = side_by_side(ours_delta, dagster_delta, repeats)
    log(f"Delta IO, {rows} rows: ours {ours_d:.2f} s, dagster-deltalake-pandas {theirs_d:.2f} s")
    return {"parquet_io_ratio": ours_s / plain_s, "delta_io_vs_dagster_deltalake": ours_d / theirs_d}


def defs_load_seconds(work: Path, transformations: int, sources: int, checkout: Path = REPO,
                      repeats: int = 3) -> float:
    """Seconds to build ``defs`` for a generated project, beyond ``import dagster`` (fresh process),
    with ``odibi_dagster`` imported from ``checkout`` (this one by default)."""
    project_dir = trivial_project(work / f"defs_{transformations}", transformations, sources)
    code = textwrap.dedent(f"""
        import os, time
        os.environ["ODIBI_PROJECT_DIR"] = {str(project_dir)!r}
        import dagster
        start = time.perf_counter()
        from odibi_dagster.definitions import defs
        defs.resolve_all_asset_specs()
        print(time.perf_counter() - start)
    """)
    times = []
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    for _ in range(repeats):
        done = subprocess.run([PYTHON, "-c", code], cwd=checkout, env=env, capture_output=True, text=True, check=True)
        times.append(float(done.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for CI smoke runs")
    parser.add_argument("--only", choices=["quality", "partitions", "scd2"], help="only this measurement (at the same sizes)")
    args = parser.parse_args()
    rows, io_rows, repeats = (20_000, 50_000, 1) if args.quick else (2_000_000, 5_000_000, 3)
    # --quick: smaller sizes behind every key (a smoke run); RESULTS.md records full runs
    trivial, big = (20, (100, 300, 600)) if args.quick else (200, (1000, 5000, 10_000))
    os.environ.setdefault("DAGSTER_HOME", "")
    os.environ.pop("DAGSTER_HOME")  # ephemeral instances: the benchmark leaves no runs behind
    sys.path.insert(0, str(REPO))
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="odibi_bench_") as tmp:
        work = Path(tmp)
        import partitions  # sibling scripts: benchmarks/ is on sys.path when run.py runs as a script
        import scd2

        if args.only in ("partitions", "scd2"):
            only = (partitions.measure if args.only == "partitions" else scd2.measure_all)(work, args.quick, repeats)
            print(json.dumps({key: round(value, 3) for key, value in only.items()}))
            return
        demo = demo_copy(work, rows)
        if args.only == "quality":
            print(json.dumps({key: round(value, 3) for key, value in bench_quality(demo, work, repeats).items()}))
            return
        project_dir = with_checks(demo, work / "demo_without_checks", None)
        results.update(bench_demo(project_dir, work, rows, repeats))
        results.update(bench_spark(project_dir, work, repeats))
        results.update(bench_quality(demo, work, repeats))
        # a fresh Spark driver for the partitions' and SCD2's Spark keys: one 4 GB driver that had run
        # the demo and the checks before ran out of heap there (2026-12-06)
        from odibi_dagster.engines.spark_session import stop_sessions

        stop_sessions()
        results.update(partitions.measure(work, args.quick, repeats))
        results.update(scd2.measure_all(work, args.quick, repeats))
        results["per_asset_overhead_ms"] = bench_per_asset(work, trivial, repeats)
        results.update(bench_per_asset_vs_bare(work, trivial, repeats))
        results.update(bench_io(work, io_rows, repeats))
        small = defs_load_seconds(work, big[0], 100)
        large = defs_load_seconds(work, big[1], 100)
        log(f"definitions: {big[0]} transformations {small:.2f} s, {big[1]} {large:.2f} s")
        results["defs_load_s_1000"] = small
        results["defs_load_growth_5000_over_1000"] = large / small
        # the CLI path on the NYC flights workload; --quick leaves Odibi out (no virtualenv to install)
        import nyc_flights  # a sibling script: benchmarks/ is on sys.path when run.py runs as a script

        results.update({key: value for key, value in nyc_flights.measure(1 if args.quick else 5, not args.quick
                                                                         ).items() if not key.endswith("_s")})
        huge = defs_load_seconds(work, big[2], 100, repeats=1 if args.quick else 3)
        log(f"definitions: {big[2]} transformations {huge:.2f} s")
        results["defs_load_s_10000"] = huge
    print(json.dumps({key: round(value, 3) for key, value in results.items()}))


if __name__ == "__main__":
    main()
