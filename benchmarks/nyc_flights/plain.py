"""The NYC flights workload as one plain pandas script, no framework: the same reads (only "" and
"NA" are null), the same functions and the same parquet writes as the other sides.

    python plain.py DATA_DIR OUT_DIR
"""

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import flights_core as core


def write(out: Path, layer: str, name: str, frame: pd.DataFrame) -> None:
    folder = out / layer / name
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(folder / "data.parquet", index=False)


def main() -> None:
    data, out = Path(sys.argv[1]), Path(sys.argv[2])
    bronze = {}
    for name in core.SOURCES:
        bronze[name] = pd.read_csv(data / f"{name}.csv", **core.CSV_READ_KWARGS)
        write(out, "bronze", name, bronze[name])
    flights = core.flights_clean(bronze["flights"])
    weather = core.weather_clean(bronze["weather"])
    write(out, "silver", "flights_clean", flights)
    write(out, "silver", "weather_clean", weather)
    write(out, "gold", "delays_by_carrier", core.delays_by_carrier(flights, bronze["airlines"]))
    write(out, "gold", "delays_by_origin_month", core.delays_by_origin_month(flights, bronze["airports"]))
    write(out, "gold", "plane_age_delays", core.plane_age_delays(flights, bronze["planes"]))
    write(out, "gold", "weather_delays", core.weather_delays(flights, weather))


if __name__ == "__main__":
    main()
