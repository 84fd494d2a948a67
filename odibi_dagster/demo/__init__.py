"""The bundled demo project, "Energy Efficiency", shipped inside the package with a small data set.

It is what the code location loads when no project is named (``ODIBI_PROJECT_DIR`` /
``ODIBI_CONFIG_DB``), so ``dagster dev -m odibi_dagster.definitions`` works from any folder after a
plain ``pip install``. ``copy_demo`` writes a copy with a bigger generated data set.
"Plant Readings" (``READINGS_PROJECT_DIR``) shows daily partitions, backfills and an incremental source.
"""

from __future__ import annotations

import shutil
from pathlib import Path

DEMO_PROJECT_DIR = Path(__file__).resolve().parent / "energy_efficiency"
# The partitions and incremental-load example: ODIBI_PROJECT_DIR=<this folder> loads it.
READINGS_PROJECT_DIR = Path(__file__).resolve().parent / "plant_readings"
SHIPPED_ROWS = 5_000


def copy_demo(target: str | Path, rows: int | None = None) -> Path:
    """Copy the demo project to ``target`` with the shipped data, or with ``rows`` generated readings."""
    target = Path(target)
    shutil.copytree(DEMO_PROJECT_DIR, target, ignore=shutil.ignore_patterns("__pycache__", *(["data"] if rows else [])),
                    dirs_exist_ok=True)
    if rows:
        from odibi_dagster.demo.generate_data import generate

        generate(rows, target / "data")
    return target
