#!/usr/bin/env bash
# Installs everything and materializes every asset of the bundled "Energy Efficiency" demo project
# through Dagster (its whole-project job), then prints what was written and how to open the UI.
#   bash scripts/demo.sh              the demo as shipped in the package (5,000 sensor readings)
#   bash scripts/demo.sh --rows N     a copy in .demo/ with N generated readings
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export DAGSTER_HOME="${DAGSTER_HOME:-$PWD/.dagster_home}"
mkdir -p "$DAGSTER_HOME"
[ -f "$DAGSTER_HOME/dagster.yaml" ] || printf 'telemetry:\n  enabled: false\n' > "$DAGSTER_HOME/dagster.yaml"
if [ "${1:-}" = "--rows" ]; then
    rm -rf .demo/energy_efficiency
    .venv/bin/python -c "import sys; from odibi_dagster.demo import copy_demo; copy_demo(sys.argv[1], int(sys.argv[2]))" \
        .demo/energy_efficiency "${2:?--rows needs a number}"
    export ODIBI_PROJECT_DIR="$PWD/.demo/energy_efficiency"
fi
.venv/bin/python -m odibi_dagster validate
log="$DAGSTER_HOME/demo_run.log"
echo "running the demo's job (Dagster's event stream goes to $log) ..."
if ! .venv/bin/dagster job execute -m odibi_dagster.definitions -j energy_efficiency > "$log" 2>&1; then
    tail -n 40 "$log"
    echo "the demo run failed; the whole log is in $log" >&2
    exit 1
fi
.venv/bin/python -m odibi_dagster summary
echo
echo "Open the UI on it:  DAGSTER_HOME=$DAGSTER_HOME .venv/bin/dagster dev   (then http://127.0.0.1:3000)"
