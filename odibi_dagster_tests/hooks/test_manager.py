"""HookManager: the seed's API, filters, unregister, the decorator, isolation of failing hooks."""

import logging

import pytest

from odibi_dagster.hooks import EVENTS, HookManager, UnknownHookEvent


def payload(**extra):
    return {"project": "P", "env": "qat", "engine": "pandas", "layer": "Silver_1", **extra}


def test_register_emit_with_filters():
    hooks, calls = HookManager(), []
    hooks.register("layer_start", lambda p: calls.append(("all", p["layer"])))
    hooks.register("layer_start", lambda p: calls.append(("gold", p["layer"])), filters={"layer": "Gold_1"})
    hooks.register("layer_start", lambda p: calls.append(("spark", p["layer"])), filters={"engine": "spark"})
    hooks.emit("layer_start", payload())
    hooks.emit("layer_start", payload(layer="Gold_1"))
    hooks.emit("layer_end", payload())  # nothing registered: nothing happens
    assert calls == [("all", "Silver_1"), ("all", "Gold_1"), ("gold", "Gold_1")]


def test_list_hooks_unregister_and_decorator():
    hooks = HookManager()

    @hooks.on("layer_end", layer="Gold_1")
    def on_gold(p):
        return p

    other = lambda p: None
    hooks.register("layer_end", other)
    listed = hooks.list_hooks()["layer_end"]
    assert [(h["callback"], h["filters"]) for h in listed] == [(on_gold, {"layer": "Gold_1"}), (other, {})]
    assert hooks.unregister("layer_end", on_gold) == 1
    assert [h["callback"] for h in hooks.list_hooks()["layer_end"]] == [other]
    assert hooks.unregister("layer_end") == 1 and hooks.list_hooks() == {}


def test_unknown_event_lists_the_known_ones():
    with pytest.raises(UnknownHookEvent) as info:
        HookManager().register("layer_finished", print)
    message = str(info.value)
    assert "unknown hook event 'layer_finished'" in message
    # the seed's six events, one per transformation start, success, failure and retry, and check_failure
    contract = ["orchestrator_run_start", "orchestrator_run_end", "bronze_start", "bronze_end", "layer_start",
                "layer_end", "transform_start", "transform_success", "transform_failure", "transform_retry",
                "check_failure"]
    assert sorted(EVENTS) == sorted(contract)
    assert all(event in message for event in contract)


def test_filter_on_a_key_the_event_never_has_warns():
    with pytest.warns(UserWarning, match=r"filter keys \['plant'\] never appear in 'layer_end' payloads"):
        HookManager().register("layer_end", print, filters={"plant": "Argo"})


def test_a_raising_hook_is_logged_and_isolated(caplog):
    hooks, calls = HookManager(), []

    def broken(p):
        raise RuntimeError("hook bug")

    hooks.register("transform_success", broken)
    hooks.register("transform_success", lambda p: calls.append(p["transformation_id"]))
    with caplog.at_level(logging.ERROR, logger="odibi_dagster.hooks"):
        hooks.emit("transform_success", payload(transformation_id="t1"))
    assert calls == ["t1"]
    assert "hook 'broken' for event 'transform_success' raised" in caplog.text and "hook bug" in caplog.text


def test_every_event_carries_project_env_engine():
    for event, spec in EVENTS.items():
        assert {"project", "env", "engine", "timestamp"} <= spec.keys, event
        if not event.startswith("orchestrator"):
            assert "layer" in spec.keys, event


SEED = {  # the seed document's payload schema, key by key (optional keys in the second set)
    "orchestrator_run_start": ({"project", "env", "engine", "timestamp", "target_layers"}, set()),
    "orchestrator_run_end": ({"project", "env", "engine", "timestamp", "status", "layers_executed",
                              "duration_seconds"}, {"error"}),
    "bronze_start": ({"project", "env", "engine", "timestamp"}, set()),
    "bronze_end": ({"project", "env", "engine", "timestamp", "status"}, {"sources_processed", "error"}),
    "layer_start": ({"project", "env", "layer", "engine", "timestamp"}, set()),
    "layer_end": ({"project", "env", "layer", "engine", "timestamp", "status", "duration_seconds"}, {"error"}),
}


def test_run_and_layer_payloads_are_the_seeds_plus_layer():
    for event, (keys, optional) in SEED.items():
        spec = EVENTS[event]
        below_run = set() if event.startswith("orchestrator") else {"layer"}
        assert spec.keys == keys | below_run and spec.optional == optional, event
