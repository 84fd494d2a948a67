"""The configuration reference and JSON Schemas, built from the models' own fields.

``json_schema(kind)`` gives editors a schema for ``manifest.yaml``, ``sources.yaml`` or
``transformations.yaml`` (``python -m odibi_dagster schema <kind>``); ``markdown_reference()`` is
``docs/configuration.md``, so code and documentation cannot drift (a test compares them).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter

from odibi_dagster.config.automation import OnCron
from odibi_dagster.config.checks import CheckConfig, QualityGate
from odibi_dagster.config.model import (
    LEGACY_COLUMNS,
    ColumnSpec,
    InputSpec,
    LayerConfig,
    LogSinkConfig,
    Manifest,
    OutputSpec,
    RetryConfig,
    ScheduleConfig,
    Source,
    Transformation,
)

SchemaKind = Literal["manifest", "sources", "transformations"]
SCHEMA_KINDS: tuple[SchemaKind, ...] = ("manifest", "sources", "transformations")

# (heading, model, what it is), in reading order
SECTIONS: tuple[tuple[str, type[BaseModel], str], ...] = (
    ("Manifest (`manifest.yaml`, table `ProjectManifest`)", Manifest, "manifest"),
    ("`layers.<layer>`", LayerConfig, "manifest"),
    ("`retry`", RetryConfig, "manifest"),
    ("`schedules[]`", ScheduleConfig, "manifest"),
    ("`log_sink` (one, or a list)", LogSinkConfig, "manifest"),
    ("`automation.<layer>` given as `on_cron`", OnCron, "manifest"),
    ("Source (`sources.yaml`, table `IngestionSourceConfig`)", Source, "sources"),
    ("Transformation (`transformations.yaml`, table `TransformationRegistry`)", Transformation, "transformations"),
    ("`outputs[]`", OutputSpec, "transformations"),
    ("`checks[]` (of a source or an output)", CheckConfig, "transformations"),
    ("`quality_gate` (of a source or an output)", QualityGate, "transformations"),
    ("`inputs[]` given as a mapping", InputSpec, "transformations"),
    ("`outputs[].columns.<name>`", ColumnSpec, "transformations"),
)


def json_schema(kind: SchemaKind) -> dict[str, Any]:
    """The JSON Schema of one config file (the sources and transformations files hold lists of rows)."""
    if kind == "manifest":
        schema = Manifest.model_json_schema()
    else:
        row = Source if kind == "sources" else Transformation
        rows = TypeAdapter(list[row]).json_schema()
        # the original tables' bookkeeping columns are accepted (and ignored) by the loader
        rows["$defs"][row.__name__]["properties"].update(
            {column: {"description": "A column of the original tables: accepted and ignored."}
             for column in sorted(LEGACY_COLUMNS)})
        # a mapping with one key (`sources:` / `transformations:`) holding the list is accepted too
        schema = {"$defs": rows.pop("$defs", {}),
                  "anyOf": [rows, {"type": "object", "properties": {kind: rows}, "required": [kind],
                                   "additionalProperties": False}]}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"odibi_dagster {kind}"
    return schema


def schema_text(kind: SchemaKind) -> str:
    return json.dumps(json_schema(kind), indent=2) + "\n"


_LABELS = {"LayerConfig": "layer settings", "RetryConfig": "retry settings", "ScheduleConfig": "schedule",
           "LogSinkConfig": "log sink", "OutputSpec": "output", "InputSpec": "input mapping", "ColumnSpec": "column",
           "CheckConfig": "check", "QualityGate": "quality gate",
           "OnCron": "`on_cron` rule"}


def _type(spec: dict[str, Any]) -> str:
    if "$ref" in spec:
        name = spec["$ref"].rsplit("/", 1)[-1]
        return _LABELS.get(name, name)
    if "enum" in spec:
        return " or ".join(f"`{value}`" for value in spec["enum"])
    if "const" in spec:
        return f"`{spec['const']}`"
    if spec.get("description") == "the same as JSON text":
        return "JSON text"
    if "anyOf" in spec:
        kinds = [_type(option) for option in spec["anyOf"] if option.get("type") != "null"]
        optional = any(option.get("type") == "null" for option in spec["anyOf"])
        return " or ".join(kinds) + (" (optional)" if optional else "")
    kind = spec.get("type", "any")
    if kind == "array":
        return f"list of {_type(spec.get('items', {}))}"
    if kind == "object" and "additionalProperties" in spec and isinstance(spec["additionalProperties"], dict):
        values = _type(spec["additionalProperties"])
        return f"mapping to ({values})" if " or " in values else f"mapping to {values}"
    return {"object": "mapping", "string": "text", "integer": "integer", "number": "number",
            "boolean": "true/false"}.get(kind, kind)


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _default(name: str, model: type[BaseModel], spec: dict[str, Any]) -> str:
    field = model.model_fields[name]
    if field.is_required():
        return "**required**"
    if "default" in spec:
        return f"`{json.dumps(spec['default'])}`"
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
        return "see its section" if isinstance(value, BaseModel) else f"`{json.dumps(value)}`"
    return "`null`"


def model_table(model: type[BaseModel]) -> str:
    schema = model.model_json_schema()
    rows = ["| field | type | default | description | example |", "|---|---|---|---|---|"]
    # a model's own fields first, then those it shares with others (a source's and an output's checks)
    shared = {name for base in model.__mro__[1:] for name in getattr(base, "__annotations__", {})}
    properties = sorted(schema["properties"].items(), key=lambda item: item[0] in shared)
    for name, spec in properties:
        examples = spec.get("examples") or model.model_fields[name].examples or []
        example = f"`{_cell(json.dumps(examples[0]))}`" if examples else ""
        rows.append(f"| `{name}` | {_cell(_type(spec))} | {_cell(_default(name, model, spec))} | "
                    f"{_cell(spec.get('description', ''))} | {example} |")
    return "\n".join(rows)


def markdown_reference() -> str:
    """``docs/configuration.md``: every field of every config model, from the models themselves."""
    parts = [
        "# Configuration reference",
        "",
        ("<!-- Generated from odibi_dagster/config/model.py by `python -m odibi_dagster schema --markdown`; "
         "do not edit by hand. -->"),
        "",
        "A project is a manifest, a list of bronze sources and a list of transformations: three files in a",
        "folder (`manifest.yaml`, `sources.yaml`, `transformations.yaml`; JSON accepted) or three SQL tables",
        "(`ProjectManifest`, `IngestionSourceConfig`, `TransformationRegistry`; mappings and lists held as JSON",
        "text). Unknown keys are errors (with a \"did you mean\"), and every error names the file or table, the",
        "row and the field. `python -m odibi_dagster validate` checks a project; `python -m odibi_dagster schema",
        "manifest|sources|transformations` prints the JSON Schema an editor uses to check and complete the files",
        "(`init` writes them into the project's `.odibi/schema/`, referenced from each file's first line).",
    ]
    for heading, model, _ in SECTIONS:
        doc = (model.__doc__ or "").strip().splitlines()[0].replace("``", "`") if model.__doc__ else ""
        parts += ["", f"## {heading}", ""]
        if doc:
            parts += [doc, ""]
        parts.append(model_table(model))
    return "\n".join(parts) + "\n"
