"""odibi_dagster wrappers around the shared benchmark functions (``flights_core.py``, copied beside
this module by the benchmark: the project's modules import each other relatively)."""

from odibi_dagster import odibi_function

from . import flights_core as core


@odibi_function(engine="pandas")
def flights_clean(inputs):
    return core.flights_clean(inputs["bronze.flights"])


@odibi_function(engine="pandas")
def weather_clean(inputs):
    return core.weather_clean(inputs["bronze.weather"])


@odibi_function(engine="pandas")
def delays_by_carrier(inputs):
    return core.delays_by_carrier(inputs["silver.flights_clean"], inputs["bronze.airlines"])


@odibi_function(engine="pandas")
def delays_by_origin_month(inputs):
    return core.delays_by_origin_month(inputs["silver.flights_clean"], inputs["bronze.airports"])


@odibi_function(engine="pandas")
def plane_age_delays(inputs):
    return core.plane_age_delays(inputs["silver.flights_clean"], inputs["bronze.planes"])


@odibi_function(engine="pandas")
def weather_delays(inputs):
    return core.weather_delays(inputs["silver.flights_clean"], inputs["silver.weather_clean"])
