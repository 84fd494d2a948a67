#!/usr/bin/env bash
# Installs everything and runs the whole test suite, browser tests included (arguments go to pytest).
# Two worker processes (pytest-xdist), each taking whole test files: much of the suite waits on
# daemons, schedules and subprocesses, so two workers overlap that waiting. `-n 0` runs it serially.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/install_browser.sh
exec .venv/bin/python -m pytest -n 2 --dist loadfile "$@"
