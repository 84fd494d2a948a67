"""NYC flights benchmark workload: the shared pandas functions, used unchanged by all three sides.

Every function takes and returns plain pandas DataFrames. The wrappers (project/flights_functions.py,
odibi/transforms.py, plain.py) only adapt the calling convention.
"""

from __future__ import annotations

import pandas as pd

# How every side reads the CSV sources: only "" and "NA" are null (the files use R's NA).
NULL_VALUES = ["", "NA"]
CSV_READ_KWARGS = {"na_values": NULL_VALUES, "keep_default_na": False}

SOURCES = ["flights", "airlines", "airports", "planes", "weather"]
# output table -> layer
OUTPUTS = {
    "flights_clean": "silver",
    "weather_clean": "silver",
    "delays_by_carrier": "gold",
    "delays_by_origin_month": "gold",
    "plane_age_delays": "gold",
    "weather_delays": "gold",
}


def flights_clean(flights: pd.DataFrame) -> pd.DataFrame:
    """Drop cancelled flights (no dep_time); add a flight date."""
    out = flights.loc[flights["dep_time"].notna()].copy()
    out["date"] = pd.to_datetime(out[["year", "month", "day"]])
    out["time_hour"] = out["time_hour"].astype(str)
    return out.reset_index(drop=True)


def weather_clean(weather: pd.DataFrame) -> pd.DataFrame:
    """One row per (origin, time_hour); missing precipitation is 0."""
    cols = ["origin", "time_hour", "temp", "wind_speed", "precip", "visib"]
    out = weather[cols].copy()
    out["time_hour"] = out["time_hour"].astype(str)
    out["precip"] = out["precip"].fillna(0.0)
    out = out.drop_duplicates(["origin", "time_hour"], keep="first")
    return out.sort_values(["origin", "time_hour"]).reset_index(drop=True)


def delays_by_carrier(flights: pd.DataFrame, airlines: pd.DataFrame) -> pd.DataFrame:
    agg = flights.groupby("carrier", as_index=False).agg(
        flights=("flight", "size"), avg_dep_delay=("dep_delay", "mean"),
        avg_arr_delay=("arr_delay", "mean"), p90_arr_delay=("arr_delay", lambda s: s.quantile(0.9)),
        distance=("distance", "sum"))
    agg = agg.merge(airlines, on="carrier", how="left")
    return agg.sort_values("avg_arr_delay", ascending=False).reset_index(drop=True)


def delays_by_origin_month(flights: pd.DataFrame, airports: pd.DataFrame) -> pd.DataFrame:
    agg = flights.groupby(["origin", "month"], as_index=False).agg(
        flights=("flight", "size"), avg_dep_delay=("dep_delay", "mean"),
        median_dep_delay=("dep_delay", "median"),
        share_delayed_15=("dep_delay", lambda s: float((s > 15).mean())))
    names = airports[["faa", "name"]].rename(columns={"faa": "origin", "name": "origin_name"})
    agg = agg.merge(names, on="origin", how="left")
    return agg.sort_values(["origin", "month"]).reset_index(drop=True)


def plane_age_delays(flights: pd.DataFrame, planes: pd.DataFrame) -> pd.DataFrame:
    p = planes[["tailnum", "year", "seats", "engines"]].rename(columns={"year": "plane_year"})
    joined = flights[["tailnum", "arr_delay", "dep_delay"]].merge(p, on="tailnum", how="inner")
    joined = joined.loc[joined["plane_year"].notna()]
    joined["age_bucket"] = ((2013 - joined["plane_year"]) // 5 * 5).astype("int64")
    agg = joined.groupby("age_bucket", as_index=False).agg(
        flights=("tailnum", "size"), planes=("tailnum", "nunique"), avg_arr_delay=("arr_delay", "mean"),
        avg_dep_delay=("dep_delay", "mean"), avg_seats=("seats", "mean"))
    return agg.sort_values("age_bucket").reset_index(drop=True)


def weather_delays(flights: pd.DataFrame, weather: pd.DataFrame) -> pd.DataFrame:
    joined = flights[["origin", "time_hour", "dep_delay"]].merge(
        weather, on=["origin", "time_hour"], how="inner", validate="many_to_one")
    joined["wet"] = joined["precip"] > 0
    joined["low_visibility"] = joined["visib"] < 5
    joined["windy"] = joined["wind_speed"] > 20
    agg = joined.groupby(["origin", "wet", "low_visibility", "windy"], as_index=False).agg(
        flights=("dep_delay", "size"), avg_dep_delay=("dep_delay", "mean"), avg_temp=("temp", "mean"))
    return agg.sort_values(["origin", "wet", "low_visibility", "windy"]).reset_index(drop=True)
