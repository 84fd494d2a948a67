"""``initialize_project``: a new, working project folder (manifest, sources, transformations, a
functions module, sample data and a README) that validates and materializes as created.

The layers and entity labels follow the project type, as odibi_de_v2's ``create_template`` did:
``manufacturing`` gets Bronze, Silver_1, Silver_2, Gold_1, Gold_2; the others Bronze, Silver, Gold.
"""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import yaml

from odibi_dagster.config.model import slugify
from odibi_dagster.config.reference import SCHEMA_KINDS, schema_text

SCHEMA_FOLDER = ".odibi/schema"  # JSON Schemas of the three config files, for editors

_CATEGORIES = {"entity_1": "category_1", "entity_2": "category_2", "entity_3": "category_3"}
_MEDALLION = ["Bronze", "Silver", "Gold"]
# type -> (layer_order, entity_labels), as odibi_de_v2's create_template
PROJECT_TYPES: dict[str, tuple[list[str], dict[str, str]]] = {
    "manufacturing": (["Bronze", "Silver_1", "Silver_2", "Gold_1", "Gold_2"],
                      {"entity_1": "plant", "entity_2": "asset", "entity_3": "equipment"}),
    "analytics": (_MEDALLION, {"entity_1": "domain", "entity_2": "subdomain", "entity_3": "metric"}),
    "ml_pipeline": (_MEDALLION, _CATEGORIES),
    "data_integration": (_MEDALLION, _CATEGORIES),
    "custom": (_MEDALLION, _CATEGORIES),
}

# The sample pipeline: (transformation id suffix, function, inputs, output table, description).
_STEPS = [
    ("readings-clean", "clean_readings", ["bronze.readings"], "silver.readings_clean",
     "Readings with a value, not below the minimum and marked ok."),
    ("readings-enriched", "enrich_readings", ["silver.readings_clean", "bronze.entities"],
     "silver.readings_enriched", "Clean readings with their entity's name and group."),
    ("daily-totals", "daily_totals", ["silver.readings_enriched"], "gold.daily_totals",
     "Readings, total and mean value per entity and day."),
    ("group-summary", "group_summary", ["gold.daily_totals"], "gold.group_summary",
     "Totals per group over all days, ranked."),
]


def initialize_project(project_name: str, project_type: str = "custom",
                       base_path: str | Path | None = None) -> dict[str, Any]:
    """Create ``<base_path>/<slug>/`` (``base_path`` default ``./projects``) and return what was made.

    Returns the original's dict: ``project_name``, ``project_slug``, ``project_path``,
    ``manifest_path``, ``created_files``, ``layer_order`` and ``next_steps``.
    """
    if not project_name or not project_name.strip():
        raise ValueError("a project needs a name")
    if project_type not in PROJECT_TYPES:
        raise ValueError(f"unknown project type '{project_type}'; choose one of {', '.join(PROJECT_TYPES)}")
    slug = slugify(project_name)
    folder = (Path(base_path) if base_path is not None else Path("projects")).resolve() / slug
    if folder.exists() and any(folder.iterdir()):
        raise FileExistsError(f"'{folder}' already exists and is not empty; choose another name or --dir")
    layers, labels = PROJECT_TYPES[project_type]
    module = f"{slug}_functions" if slug[0].isalpha() else f"project_{slug}_functions"  # importable
    layer_of = _layer_of_steps(layers)
    files = {
        "manifest.yaml": _manifest(project_name.strip(), project_type, slug, layers, labels, module, layer_of),
        "sources.yaml": _sources(),
        "transformations.yaml": _transformations(slug, module, layer_of, labels),
        f"{module}.py": _template("functions.py.tmpl", project_name=project_name.strip()),
        "README.md": _template("README.md.tmpl", project_name=project_name.strip(), project_type=project_type,
                               slug=slug, module=module, project_dir=str(folder),
                               layer_list=", ".join(layers)),
        **_sample_data(),
        **{f"{SCHEMA_FOLDER}/{kind}.schema.json": schema_text(kind) for kind in SCHEMA_KINDS},
    }
    for kind in SCHEMA_KINDS:  # editors with the YAML language server check and complete the files
        files[f"{kind}.yaml"] = f"# yaml-language-server: $schema={SCHEMA_FOLDER}/{kind}.schema.json\n" + \
            files[f"{kind}.yaml"]
    created = []
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        created.append(str(path))
    return {
        "project_name": project_name.strip(),
        "project_slug": slug,
        "project_path": str(folder),
        "manifest_path": str(folder / "manifest.yaml"),
        "created_files": created,
        "layer_order": list(layers),
        "next_steps": [
            f"python -m odibi_dagster validate --project-dir {folder}",
            f"ODIBI_PROJECT_DIR={folder} dagster asset materialize -m odibi_dagster.definitions --select '*'",
            f"ODIBI_PROJECT_DIR={folder} dagster dev -m odibi_dagster.definitions",
        ],
    }


def _template(name: str, **values: str) -> str:
    text = resources.files("odibi_dagster.scaffold").joinpath("templates", name).read_text(encoding="utf-8")
    return Template(text).substitute(values)


def _yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, allow_unicode=True, width=100)


def _manifest(name: str, project_type: str, slug: str, layers: list[str], labels: dict[str, str],
              module: str, layer_of: dict[str, str]) -> str:
    manifest = {
        "project_name": name,
        "project_type": project_type,
        "description": f"{name}: sample readings become clean, enriched, daily and summary tables.",
        "version": "0.1.0",
        "layer_order": list(layers),
        "layers": {layer: {"description": "Raw sources as delivered" if index == 0 else
                           "Builds " + ", ".join(table for table, at in layer_of.items() if at == layer),
                           **({"depends_on": _read_layers(layer, layers, layer_of)} if index else {})}
                   for index, layer in enumerate(layers)},
        "environments": ["qat", "prod"],
        "default_env": "qat",
        "default_engine": "pandas",
        "entity_labels": labels,
        "transformation_modules": [module],
        "schedules": [{"name": f"{slug}_daily", "cron": "0 6 * * *", "description": "Rebuild every morning"}],
        "retry": {"max_retries": 2, "delay": 1, "backoff": "exponential"},
        "owner": slug,
        "tags": [project_type],
    }
    return "# The project: layers in order, environments, engine, retries, schedules.\n" + _yaml(manifest)


def _read_layers(layer: str, layers: list[str], layer_of: dict[str, str]) -> list[str]:
    """The layers whose tables ``layer``'s sample steps read (bronze tables are not in ``layer_of``)."""
    read = {layer_of.get(source, layers[0]) for _, _, inputs, output, _ in _STEPS if layer_of[output] == layer
            for source in inputs}
    return [name for name in layers if name in read and name != layer]


def _sources() -> str:
    sources = [
        {"source_id": "src-readings", "source_name": "bronze.readings", "source_type": "local",
         "file_format": "csv", "source_path_or_query": "data/readings.csv",
         "source_options": {"header": True, "schema": {"value": "double"}},
         "description": "Readings per entity (CSV)"},
        {"source_id": "src-entities", "source_name": "bronze.entities", "source_type": "local",
         "file_format": "json", "source_path_or_query": "data/entities.json",
         "source_options": {"multiline": True}, "description": "The entities and their groups (JSON records)"},
    ]
    return "# Bronze sources: one asset each. Relative paths are relative to this folder.\n" + \
        "\n".join(_yaml([row]) for row in sources)


def _layer_of_steps(layers: list[str]) -> dict[str, str]:
    """Output table -> layer: the sample's four steps spread over the layers after Bronze, in order."""
    work = layers[1:]
    return {step[3]: work[min(index * len(work) // len(_STEPS), len(work) - 1)] for index, step in enumerate(_STEPS)}


def _transformations(slug: str, module: str, layer_of: dict[str, str], labels: dict[str, str]) -> str:
    rows = []
    for suffix, function, inputs, table, description in _STEPS:
        row: dict[str, Any] = {
            "transformation_id": f"{slug}-{suffix}",
            "layer": layer_of[table],
            "step": 1,
            "entity_1": "all",
            "module": module,
            "function": function,
            "inputs": inputs,
            **({"constants": {"min_value": 0}} if function == "clean_readings" else {}),
            "outputs": [{"table": table, "mode": "overwrite"}],
            "description": description,
        }
        if function == "group_summary":
            row["outputs"][0]["columns"] = {"group": "The entities' group", "total": "Sum of all values",
                                            "rank": "1 = the largest total"}
        rows.append(row)
    header = (f"# Silver and gold transformations: one asset per output table. entity_1 is the "
              f"'{labels['entity_1']}' label.\n")
    return header + "\n".join(_yaml([row]) for row in rows)


def _sample_data(seed: int = 7, entities: int = 6, days: int = 5) -> dict[str, str]:
    """Small, deterministic sample files: ``data/readings.csv`` and ``data/entities.json``."""
    rng = random.Random(seed)
    groups = ["north", "south", "east"]
    entity_rows = [{"entity_id": f"E{n:02d}", "name": f"Entity {n}", "group": groups[n % len(groups)]}
                   for n in range(1, entities + 1)]
    start = datetime(2026, 1, 1)
    lines = [["reading_id", "entity_id", "ts", "value", "status"]]
    reading = 0
    for day in range(days):
        for entity in entity_rows:
            for hour in (6, 12, 18):
                reading += 1
                value = "" if rng.random() < 0.05 else f"{rng.uniform(-2, 100):.2f}"
                status = "ok" if rng.random() > 0.1 else "suspect"
                ts = (start + timedelta(days=day, hours=hour)).isoformat(sep=" ")
                lines.append([str(reading), entity["entity_id"], ts, value, status])
    readings = _csv_text(lines)
    return {"data/readings.csv": readings, "data/entities.json": json.dumps(entity_rows, indent=2) + "\n"}


def _csv_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()
