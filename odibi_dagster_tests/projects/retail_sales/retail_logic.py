"""Functions of the Retail Sales test project: plain functions, no decorator, found by module.function."""



def clean_orders(inputs, constants):
    orders = inputs["raw.orders"]
    return orders[orders["qty"].fillna(0) >= constants["min_qty"]].reset_index(drop=True)


def split_stores(inputs, outputs):
    stores = inputs["raw.stores"]
    assert [o["table"] for o in outputs] == ["clean.stores_open", "clean.stores_closed"]
    return {"clean.stores_open": stores[stores["open"]], "clean.stores_closed": stores[~stores["open"]]}


def sales_by_store(inputs):
    orders = inputs["clean.orders"].merge(inputs["clean.stores_open"], on="store_id")
    orders["revenue"] = orders["qty"] * orders["price"]
    return orders.groupby("store_id", as_index=False)["revenue"].sum()


def against_targets(inputs, env):
    merged = inputs["mart.sales_by_store"].merge(inputs["raw.store_targets"], on="store_id")
    merged["met"] = merged["revenue"] >= merged["target"]
    merged["env"] = env
    return merged
