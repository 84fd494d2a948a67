#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests (pytest -m e2e) when no Chromium is found.
# Playwright drives this system browser; it never downloads one of its own.
set -euo pipefail
if [ -n "${ODIBI_CHROMIUM:-}" ] && [ -x "${ODIBI_CHROMIUM}" ]; then exit 0; fi
for browser in chromium chromium-browser google-chrome; do
    if command -v "$browser" >/dev/null 2>&1; then exit 0; fi
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium for the browser tests..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
    echo "no Chromium found: the browser tests will skip (install Debian's 'chromium' or set ODIBI_CHROMIUM)" >&2
fi
