#!/usr/bin/env bash
# Installs everything, generates the demo's raw data and materializes every asset of the
# "Energy Efficiency" demo project through Dagster (its whole-project job).
#   bash scripts/demo.sh [--rows N]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export DAGSTER_HOME="${DAGSTER_HOME:-$PWD/.dagster_home}"
mkdir -p "$DAGSTER_HOME"
[ -f "$DAGSTER_HOME/dagster.yaml" ] || printf 'telemetry:\n  enabled: false\n' > "$DAGSTER_HOME/dagster.yaml"
.venv/bin/python projects/energy_efficiency/generate_data.py "$@"
.venv/bin/python -m odibi_dagster validate
.venv/bin/dagster job execute -m odibi_dagster.definitions -j energy_efficiency
