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


# --- the same transformations on Spark, registered under the same names for engine "spark" ------
# pyspark is imported inside the functions: a pandas run never needs it.

@odibi_function(engine="spark", name="clean_sensor_readings")
def clean_sensor_readings_spark(inputs, constants):
    from pyspark.sql import functions as F

    readings = inputs["bronze.sensor_readings"]
    valid = readings.where(F.col("fuel_kg").isNotNull() & (F.col("fuel_kg") >= constants.get("min_fuel_kg", 0))
                           & (F.col("steam_kg") >= 0))
    return (valid.select("reading_id", "boiler_id", "ts", "fuel_kg", "steam_kg", "flue_temp_c")
            .withColumn("date", F.date_format("ts", "yyyy-MM-dd"))
            .withColumn("efficiency", F.col("steam_kg") / (F.col("fuel_kg") * 10.5)))


@odibi_function(engine="spark", name="conform_boiler_assets")
def conform_boiler_assets_spark(inputs):
    boilers, plants = inputs["bronze.boilers"], inputs["bronze.plants"]
    return boilers.join(plants, on="plant_id", how="left").select(
        "boiler_id", "plant_id", "plant_name", "region", "boiler_type", "rated_efficiency", "commissioned",
        "capacity_mw")


@odibi_function(engine="spark", name="boiler_daily_metrics")
def boiler_daily_metrics_spark(inputs):
    from pyspark.sql import functions as F

    readings, assets = inputs["silver.sensor_readings"], inputs["silver.boiler_assets"]
    daily = readings.groupBy("boiler_id", "date").agg(
        F.count("reading_id").alias("readings"), F.sum("fuel_kg").alias("fuel_kg"),
        F.sum("steam_kg").alias("steam_kg"), F.avg("flue_temp_c").alias("avg_flue_temp_c"))
    daily = daily.withColumn("efficiency", F.col("steam_kg") / (F.col("fuel_kg") * 10.5))
    return daily.join(assets.select("boiler_id", "plant_id", "rated_efficiency"), on="boiler_id", how="left")


@odibi_function(engine="spark", name="plant_daily_efficiency")
def plant_daily_efficiency_spark(inputs, constants):
    from pyspark.sql import functions as F

    daily, weather = inputs["silver.boiler_daily"], inputs["bronze.weather"]
    plant = daily.groupBy("plant_id", "date").agg(
        F.countDistinct("boiler_id").alias("boilers"), F.sum("fuel_kg").alias("fuel_kg"),
        F.sum("steam_kg").alias("steam_kg"))
    plant = plant.withColumn("efficiency", F.col("steam_kg") / (F.col("fuel_kg") * 10.5))
    plant = plant.join(weather, on=["plant_id", "date"], how="left")
    gap = F.col("rated_efficiency") - F.col("efficiency")
    alerts = daily.where(gap > constants["alert_gap"]).select(
        "boiler_id", "plant_id", "date", "efficiency", "rated_efficiency").withColumn("gap", gap)
    return {"gold.plant_daily_efficiency": plant, "gold.efficiency_alerts": alerts}


@odibi_function(engine="spark", name="plant_summary")
def plant_summary_spark(inputs):
    from pyspark.sql import functions as F

    plant = inputs["gold.plant_daily_efficiency"]
    summary = plant.groupBy("plant_id").agg(
        F.countDistinct("date").alias("days"), F.sum("fuel_kg").alias("fuel_kg"), F.sum("steam_kg").alias("steam_kg"),
        F.avg("efficiency").alias("avg_daily_efficiency"), F.avg("avg_temp_c").alias("avg_temp_c"))
    summary = summary.withColumn("efficiency", F.col("steam_kg") / (F.col("fuel_kg") * 10.5))
    # A rank over the whole table needs no window: `Window.orderBy` without `partitionBy` moves every
    # row to one partition. The summary has one row per plant, so compare each plant with every other
    # through a broadcast join: rank = 1 + plants with a higher efficiency (the same as "min" ranking).
    others = F.broadcast(summary.select(F.col("efficiency").alias("_other")))
    above = summary.join(others, how="cross").groupBy("plant_id").agg(
        F.sum((F.col("_other") > F.col("efficiency")).cast("long")).alias("_above"))
    return summary.join(above, "plant_id").withColumn("rank", (F.col("_above") + 1).cast("long")).drop("_above")


@odibi_function(engine="spark", name="plant_summary_export")
def plant_summary_export_spark(inputs, context):
    from pyspark.sql import functions as F

    return inputs["gold.plant_summary"].withColumn("env", F.lit(context.env))
