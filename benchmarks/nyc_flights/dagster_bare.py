"""The NYC flights workload as a hand-written Dagster project, without odibi_dagster: the floor
that any Dagster code location pays for the same work.

Eleven ``@dg.asset`` functions do what ``plain.py`` does (the same reads, functions and parquet
writes); the IO manager writes each table as parquet and hands the same frame to later steps in
memory, as the plain script passes one object along. Run with the in-process executor, as ours:

    NYC_DATA=... NYC_OUT=... dagster asset materialize -f dagster_bare.py --select '*'
"""

import os
import sys
from pathlib import Path

import dagster as dg
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import flights_core as core


class ParquetHandoff(dg.ConfigurableIOManager):
    """Writes ``<out>/<layer>/<name>/data.parquet``; later steps get the frame it was given."""

    out: str

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        layer, name = context.asset_key.path
        folder = Path(self.out) / layer / name
        folder.mkdir(parents=True, exist_ok=True)
        obj.to_parquet(folder / "data.parquet", index=False)
        _FRAMES[context.asset_key] = obj

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        return _FRAMES[context.asset_key]


_FRAMES: dict[dg.AssetKey, pd.DataFrame] = {}


def _bronze(name: str) -> dg.AssetsDefinition:
    @dg.asset(key=["bronze", name])
    def read() -> pd.DataFrame:
        return pd.read_csv(Path(os.environ["NYC_DATA"]) / f"{name}.csv", **core.CSV_READ_KWARGS)

    return read


def _derived(layer: str, name: str, inputs: list[tuple[str, str]]) -> dg.AssetsDefinition:
    function = getattr(core, name)

    @dg.asset(key=[layer, name], ins={f"in{i}": dg.AssetIn(key=list(key)) for i, key in enumerate(inputs)})
    def compute(**frames: pd.DataFrame) -> pd.DataFrame:
        return function(*(frames[f"in{i}"] for i in range(len(inputs))))

    return compute


defs = dg.Definitions(
    assets=[_bronze(name) for name in core.SOURCES] + [
        _derived("silver", "flights_clean", [("bronze", "flights")]),
        _derived("silver", "weather_clean", [("bronze", "weather")]),
        _derived("gold", "delays_by_carrier", [("silver", "flights_clean"), ("bronze", "airlines")]),
        _derived("gold", "delays_by_origin_month", [("silver", "flights_clean"), ("bronze", "airports")]),
        _derived("gold", "plane_age_delays", [("silver", "flights_clean"), ("bronze", "planes")]),
        _derived("gold", "weather_delays", [("silver", "flights_clean"), ("silver", "weather_clean")]),
    ],
    resources={"io_manager": ParquetHandoff(out=dg.EnvVar("NYC_OUT"))},
    executor=dg.in_process_executor,
)
