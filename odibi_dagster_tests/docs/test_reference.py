"""The configuration reference and JSON Schemas come from the models: docs cannot drift from code."""

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from odibi_dagster.config.model import Manifest, OutputSpec, Source, Transformation
from odibi_dagster.config.reference import markdown_reference
from odibi_dagster.scaffold import initialize_project
from odibi_dagster_tests.conftest import DEMO_DIR, REPO


def test_docs_configuration_md_is_generated_from_the_models():
    stored = (REPO / "docs" / "configuration.md").read_text()
    assert stored == markdown_reference(), (
        "docs/configuration.md is stale: run `.venv/bin/python -m odibi_dagster schema --markdown > "
        "docs/configuration.md`")


def test_the_reference_documents_every_field_with_a_description():
    text = markdown_reference()
    for model in (Manifest, Source, Transformation, OutputSpec):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            assert f"| `{name}` |" in text and field.description.split("`")[0][:30] in text


def schema(kind: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "odibi_dagster", "schema", kind], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout)


@pytest.mark.parametrize("kind", ["manifest", "sources", "transformations"])
def test_the_schemas_accept_the_demo_and_flag_a_misspelt_key(kind):
    checker = jsonschema.Draft202012Validator(schema(kind))
    data = yaml.safe_load((DEMO_DIR / f"{kind}.yaml").read_text())
    assert list(checker.iter_errors(data)) == []
    if kind != "manifest":  # the original tables' bookkeeping columns are accepted, as the loader does
        assert list(checker.iter_errors([{**data[0], "created_at": "2026-01-01", "created_by": "etl"}])) == []
    if kind == "manifest":
        data["default_engin"] = "spark"
    else:
        data[0]["fuction"] = "x"
    assert any("fuction" in error.message or "default_engin" in error.message for error in checker.iter_errors(data)
               ) or any("fuction" in str(e) or "default_engin" in str(e) for error in checker.iter_errors(data)
                        for e in error.context)


def test_init_points_each_yaml_file_at_its_schema(tmp_path):
    root = Path(initialize_project("Schema Check", "analytics", tmp_path)["project_path"])
    for kind in ("manifest", "sources", "transformations"):
        first = (root / f"{kind}.yaml").read_text().splitlines()[0]
        assert first == f"# yaml-language-server: $schema=.odibi/schema/{kind}.schema.json"
        stored = json.loads((root / ".odibi" / "schema" / f"{kind}.schema.json").read_text())
        assert stored == schema(kind)
        data = yaml.safe_load((root / f"{kind}.yaml").read_text())
        assert list(jsonschema.Draft202012Validator(stored).iter_errors(data)) == []


def test_schema_without_a_kind_says_what_to_give():
    done = subprocess.run([sys.executable, "-m", "odibi_dagster", "schema"], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 2 and "name a file kind (manifest, sources, transformations)" in done.stderr


def test_the_reference_states_the_contracts_defaults():
    """Defaults written out from the contract (the original runner's retries, the medallion layers,
    the environments), not read from the models under test."""
    rows = {line.split(" | ")[0].strip("| `"): line.split(" | ")[1:3]
            for line in markdown_reference().splitlines() if line.startswith("| `")}
    assert rows["layer_order"] == ["list of text", '`["Bronze", "Silver_1", "Gold_1"]`']
    assert rows["default_env"] == ["text", '`"qat"`']
    assert rows["max_retries"] == ["integer", "`3`"] and rows["delay"] == ["number", "`2.0`"]
    assert rows["backoff"] == ["`exponential` or `linear` or `none`", '`"exponential"`']
    assert rows["executor"] == ["`in_process` or `multiprocess`", '`"in_process"`']
    assert rows["mode"] == ["`overwrite` or `append` or `merge` or `scd2`", '`"overwrite"`']
