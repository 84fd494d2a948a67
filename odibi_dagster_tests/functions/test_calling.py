"""The calling convention and the function registry."""

import pandas as pd
import pytest

from odibi_dagster.functions.calling import (
    ExecutionContext,
    TransformationError,
    call_transformation,
    tables_from_result,
)
from odibi_dagster.functions.registry import REGISTRY, FunctionNotFound, odibi_function, resolve_function

AVAILABLE = {"inputs": {"t": 1}, "constants": {"k": 2}, "outputs": [{"table": "o"}], "spark": None, "env": "qat",
             "engine": "pandas", "context": ExecutionContext("pandas", "P", "qat", "Silver", "t1")}


def test_only_declared_parameters_are_passed():
    def f(constants, env):
        return constants, env

    assert call_transformation(f, "t1", AVAILABLE) == ({"k": 2}, "qat")


def test_kwargs_receive_everything():
    def f(inputs, **kwargs):
        return sorted(kwargs)

    assert call_transformation(f, "t1", AVAILABLE) == ["constants", "context", "engine", "env", "outputs", "spark"]


def test_parameter_that_cannot_be_supplied():
    def f(df, inputs):
        return df

    with pytest.raises(TransformationError, match=r"'t1': function f\(\) needs \['df'\]"):
        call_transformation(f, "t1", AVAILABLE)

    def g(df=None, *, constants):
        return constants

    assert call_transformation(g, "t1", AVAILABLE) == {"k": 2}


def test_results_map_to_tables():
    df = pd.DataFrame({"a": [1]})
    is_frame = lambda o: isinstance(o, pd.DataFrame)
    assert tables_from_result(df, ["x"], "t", is_frame) == {"x": df}
    assert list(tables_from_result({"y": df, "x": df}, ["x", "y"], "t", is_frame)) == ["x", "y"]  # config order
    with pytest.raises(TransformationError, match=r"returned tables \['z'\] that its outputs do not declare"):
        tables_from_result({"x": df, "y": df, "z": df}, ["x", "y"], "t", is_frame)  # never silently dropped
    with pytest.raises(TransformationError, match="returned one DataFrame but has outputs"):
        tables_from_result(df, ["x", "y"], "t", is_frame)
    with pytest.raises(TransformationError, match=r"returned tables \['x'\] but not \['y'\]"):
        tables_from_result({"x": df}, ["x", "y"], "t", is_frame)
    with pytest.raises(TransformationError, match="returned NoneType.*self_managed"):
        tables_from_result(None, ["x"], "t", is_frame)
    with pytest.raises(TransformationError, match="returned list for 'x', not a DataFrame"):
        tables_from_result({"x": []}, ["x"], "t", is_frame)


def test_registry_resolution_order(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "reg_mod_a.py").write_text(
        "from odibi_dagster import odibi_function\n"
        "@odibi_function(engine='pandas')\ndef shared(): return 'a-pandas'\n"
        "@odibi_function(engine='spark', name='shared')\ndef shared_spark(): return 'a-spark'\n"
        "@odibi_function()\ndef anywhere(): return 'a-any'\n")
    (tmp_path / "reg_mod_b.py").write_text("def shared(): return 'b-plain'\n")
    (tmp_path / "reg_mod_c.py").write_text("x = 1\n")
    try:
        assert resolve_function("reg_mod_a", "shared", "pandas")() == "a-pandas"
        assert resolve_function("reg_mod_a", "shared", "spark")() == "a-spark"
        assert resolve_function("reg_mod_a", "anywhere", "spark")() == "a-any"
        # a module's own function wins over a same-named function registered elsewhere
        assert resolve_function("reg_mod_b", "shared", "pandas")() == "b-plain"
        # the original's name-only lookup remains the fallback
        assert resolve_function("reg_mod_c", "anywhere", "pandas")() == "a-any"
        with pytest.raises(FunctionNotFound, match="module 'reg_mod_c' has no function 'nope'"):
            resolve_function("reg_mod_c", "nope", "pandas")
        with pytest.raises(ImportError):
            resolve_function("reg_mod_missing", "nope", "pandas")
    finally:
        for name, engine in (("shared", "pandas"), ("shared", "spark"), ("anywhere", "any")):
            REGISTRY.unregister(name, engine)


def test_decorator_marks_and_validates():
    @odibi_function(engine="Pandas", name="renamed_fn", owner="me")
    def fn():
        return 1

    try:
        assert (fn._odibi_name, fn._odibi_engine) == ("renamed_fn", "pandas")
        assert ("renamed_fn", "pandas") in REGISTRY.get_all("pandas")
        assert REGISTRY.get_metadata("renamed_fn", "pandas") == {"owner": "me"}
        with pytest.raises(ValueError, match="engine 'polars'"):
            odibi_function(engine="polars")(fn)
    finally:
        REGISTRY.unregister("renamed_fn", "pandas")


def test_a_returned_table_the_row_does_not_declare_is_an_error():
    import pandas as pd

    from odibi_dagster.functions.calling import TransformationError, tables_from_result

    frames = {"silver.a": pd.DataFrame({"x": [1]}), "silver.extra": pd.DataFrame({"x": [2]})}
    with pytest.raises(TransformationError, match=r"returned tables \['silver.extra'\] that its outputs do not "
                                                   r"declare \(\['silver.a'\]\)"):
        tables_from_result(frames, ["silver.a"], "t1", lambda obj: isinstance(obj, pd.DataFrame))
