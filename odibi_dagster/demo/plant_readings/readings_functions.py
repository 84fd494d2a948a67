"""Functions of the Plant Readings demo: per-day steps get their day as ``partition``."""


from odibi_dagster import odibi_function


@odibi_function(engine="pandas")
def clean_readings(inputs, partition, context):
    readings = inputs["bronze.readings"]
    context.logger.info(f"cleaning {len(readings)} readings of {partition.key}")
    return readings[readings["kwh"] >= 0].reset_index(drop=True)


@odibi_function(engine="pandas")
def plant_daily_totals(inputs):
    readings = inputs["silver.readings"]
    days = readings["reading_time"].dt.date.rename("day")
    totals = readings.groupby([readings["plant"], days])["kwh"].sum().reset_index()
    return totals[["plant", "day", "kwh"]]


@odibi_function(engine="pandas")
def meter_totals(inputs):
    events = inputs["bronze.meter_events"]
    return events.groupby("meter", as_index=False).agg(kwh=("kwh", "sum"), events=("event_id", "count"))


@odibi_function(engine="pandas")
def meter_register(inputs):
    meters = inputs["bronze.meters"]
    return meters.assign(tariff=meters["tariff"].str.strip().str.lower())
