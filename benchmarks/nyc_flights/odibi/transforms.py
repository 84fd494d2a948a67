"""Odibi wrappers around the shared benchmark functions (``flights_core.py``, copied beside this file).

Odibi auto-loads transforms.py from the folder of the YAML given to `odibi run`. A function step
gets an EngineContext: .df is the node's input (its first depends_on), .get(name) any other
node's result from the same run.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import flights_core as core
from odibi.registry import transform


@transform
def nyc_flights_clean(context):
    return core.flights_clean(context.df)


@transform
def nyc_weather_clean(context):
    return core.weather_clean(context.df)


@transform
def nyc_delays_by_carrier(context):
    return core.delays_by_carrier(context.df, context.get("airlines"))


@transform
def nyc_delays_by_origin_month(context):
    return core.delays_by_origin_month(context.df, context.get("airports"))


@transform
def nyc_plane_age_delays(context):
    return core.plane_age_delays(context.df, context.get("planes"))


@transform
def nyc_weather_delays(context):
    return core.weather_delays(context.df, context.get("weather_clean"))
