"""Transformation functions of the Energy Efficiency demo (pandas engine)."""

from __future__ import annotations

import pandas as pd

from odibi_dagster import odibi_function


@odibi_function(engine="pandas")
def clean_sensor_readings(inputs: dict[str, pd.DataFrame], constants: dict) -> pd.DataFrame:
    readings = inputs["bronze.sensor_readings"]
    valid = readings["fuel_kg"].notna() & (readings["fuel_kg"] >= constants.get("min_fuel_kg", 0)) & (
        readings["steam_kg"] >= 0)
    clean = readings.loc[valid, ["reading_id", "boiler_id", "ts", "fuel_kg", "steam_kg", "flue_temp_c"]].copy()
    clean["date"] = clean["ts"].dt.strftime("%Y-%m-%d")
    clean["efficiency"] = clean["steam_kg"] / (clean["fuel_kg"] * 10.5)
    return clean.reset_index(drop=True)


@odibi_function(engine="pandas")
def conform_boiler_assets(inputs: dict[str, pd.DataFrame]) -> pd.DataFrame:
    boilers, plants = inputs["bronze.boilers"], inputs["bronze.plants"]
    merged = boilers.merge(plants, on="plant_id", how="left", validate="many_to_one")
    return merged[["boiler_id", "plant_id", "plant_name", "region", "boiler_type", "rated_efficiency",
                   "commissioned", "capacity_mw"]].sort_values("boiler_id").reset_index(drop=True)


@odibi_function(engine="pandas")
def boiler_daily_metrics(inputs: dict[str, pd.DataFrame]) -> pd.DataFrame:
    readings, assets = inputs["silver.sensor_readings"], inputs["silver.boiler_assets"]
    daily = readings.groupby(["boiler_id", "date"], as_index=False).agg(
        readings=("reading_id", "count"), fuel_kg=("fuel_kg", "sum"), steam_kg=("steam_kg", "sum"),
        avg_flue_temp_c=("flue_temp_c", "mean"))
    daily["efficiency"] = daily["steam_kg"] / (daily["fuel_kg"] * 10.5)
    daily = daily.merge(assets[["boiler_id", "plant_id", "rated_efficiency"]], on="boiler_id", how="left")
    return daily.sort_values(["boiler_id", "date"]).reset_index(drop=True)


@odibi_function(engine="pandas")
def plant_daily_efficiency(inputs: dict[str, pd.DataFrame], constants: dict) -> dict[str, pd.DataFrame]:
    daily, weather = inputs["silver.boiler_daily"], inputs["bronze.weather"]
    plant = daily.groupby(["plant_id", "date"], as_index=False).agg(
        boilers=("boiler_id", "nunique"), fuel_kg=("fuel_kg", "sum"), steam_kg=("steam_kg", "sum"))
    plant["efficiency"] = plant["steam_kg"] / (plant["fuel_kg"] * 10.5)
    plant = plant.merge(weather, on=["plant_id", "date"], how="left")
    gap = daily["rated_efficiency"] - daily["efficiency"]
    alerts = daily.loc[gap > constants["alert_gap"], ["boiler_id", "plant_id", "date", "efficiency",
                                                      "rated_efficiency"]].copy()
    alerts["gap"] = alerts["rated_efficiency"] - alerts["efficiency"]
    return {
        "gold.plant_daily_efficiency": plant.sort_values(["plant_id", "date"]).reset_index(drop=True),
        "gold.efficiency_alerts": alerts.sort_values(["boiler_id", "date"]).reset_index(drop=True),
    }


@odibi_function(engine="pandas")
def plant_summary(inputs: dict[str, pd.DataFrame]) -> pd.DataFrame:
    plant = inputs["gold.plant_daily_efficiency"]
    summary = plant.groupby("plant_id", as_index=False).agg(
        days=("date", "nunique"), fuel_kg=("fuel_kg", "sum"), steam_kg=("steam_kg", "sum"),
        avg_daily_efficiency=("efficiency", "mean"), avg_temp_c=("avg_temp_c", "mean"))
    summary["efficiency"] = summary["steam_kg"] / (summary["fuel_kg"] * 10.5)
    summary["rank"] = summary["efficiency"].rank(ascending=False, method="min").astype("int64")
    return summary.sort_values("rank").reset_index(drop=True)


@odibi_function(engine="pandas")
def plant_summary_export(inputs: dict[str, pd.DataFrame], context) -> pd.DataFrame:
    export = inputs["gold.plant_summary"].copy()
    export["env"] = context.env
    return export
