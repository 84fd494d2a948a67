#!/usr/bin/env bash
# Installs everything and runs the whole test suite, browser tests included (arguments go to pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/install_browser.sh
exec .venv/bin/python -m pytest "$@"
