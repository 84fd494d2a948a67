"""The web UI end to end: ``dagster dev`` (webserver and daemon) on the demo, driven by headless Chromium.

One ``dagster dev`` and one browser serve the whole module; each test gets a fresh page. Screenshots
go to ``test-artifacts/e2e/`` (or ``ODIBI_E2E_ARTIFACTS``), next to the server's log.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from odibi_dagster_tests.conftest import DEMO_DIR, REPO

ARTIFACTS = Path(os.environ.get("ODIBI_E2E_ARTIFACTS", REPO / "test-artifacts" / "e2e"))
# Flags for Chromium as root on a machine without a display or an outside network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
START_SECONDS = 180


def chromium_path() -> str | None:
    for candidate in (os.environ.get("ODIBI_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        found = candidate and shutil.which(candidate)
        if found:
            return found
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class DagsterDev:
    url: str
    home: Path
    storage: Path
    project_dir: Path
    log: Path


# dagster-webserver logs "Serving ... on <url>" just before it binds; when the port was taken since it
# was chosen (the suite's other worker may start a server too), uvicorn logs this and dagster dev
# stays up, while the port answers for the other server
PORT_TAKEN = "address already in use"


def _wait_until_serving(url: str, process: subprocess.Popen, log: Path) -> bool:
    """True once this ``dagster dev`` serves ``url``; False when its webserver found the port taken."""
    deadline = time.time() + START_SECONDS
    while time.time() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dagster dev exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        text = log.read_text(errors="replace")
        if PORT_TAKEN in text:
            return False
        if f"Serving dagster-webserver on {url} " in text:
            try:
                with urllib.request.urlopen(f"{url}/server_info", timeout=2) as response:
                    if response.status == 200:  # read again: the bind error follows the serving line
                        return PORT_TAKEN not in log.read_text(errors="replace")
            except OSError:
                pass
        time.sleep(0.5)
    pytest.fail(f"dagster dev did not serve {url} within {START_SECONDS} s:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen) -> None:
    """Ctrl-C for ``dagster dev`` (it stops webserver and daemon), then end what it leaves in its group."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # code servers it started outlive it by their heartbeat otherwise
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


@contextmanager
def serving(work: Path, project_dir: Path, name: str = "dagster_dev") -> Iterator[DagsterDev]:
    """``dagster dev -m odibi_dagster.definitions`` (webserver and daemon) on ``project_dir``, on a free
    loopback port, with its own DAGSTER_HOME and storage under ``work``; its log is ``<name>.log``."""
    home = work / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    # the first-visit "Join the Dagster community" dialog has been seen (Dagster keeps that here):
    # it covered the page and, twice in CI, swallowed a click that the test then waited on
    (home / ".nux").mkdir()
    (home / ".nux" / "nux.yaml").write_text("seen: 1\n")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / f"{name}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ODIBI_", "DAGSTER_"))} | {
        "DAGSTER_HOME": str(home), "ODIBI_PROJECT_DIR": str(project_dir), "ODIBI_STORAGE_ROOT": str(work / "storage"),
        "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    for _ in range(3):  # a free port is chosen, then bound seconds later: another process may take it first
        url = f"http://127.0.0.1:{_free_port()}"
        with log.open("w") as output:
            process = subprocess.Popen(
                [str(Path(sys.executable).parent / "dagster"), "dev", "-m", "odibi_dagster.definitions",
                 "-h", "127.0.0.1", "-p", url.rsplit(":", 1)[1]],
                env=env, cwd=work, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            if _wait_until_serving(url, process, log):
                yield DagsterDev(url, home, work / "storage", project_dir, log)
                return
        finally:
            _stop(process)
    pytest.fail(f"dagster dev found its port taken three times:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory, demo_data) -> Iterator[DagsterDev]:
    """The web UI on a copy of the demo."""
    work = tmp_path_factory.mktemp("e2e")
    project_dir = work / "energy_efficiency"
    shutil.copytree(DEMO_DIR, project_dir, ignore=shutil.ignore_patterns("data", "__pycache__"))
    shutil.copytree(demo_data, project_dir / "data")
    with serving(work, project_dir) as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    executable = chromium_path()
    if executable is None:
        reason = "no Chromium found (install Debian's chromium, or set ODIBI_CHROMIUM)"
        if os.environ.get("ODIBI_REQUIRE_SERVICES"):
            pytest.fail(f"the browser tests are required (ODIBI_REQUIRE_SERVICES): {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def open_page(browser, url: str):
    """A page in a fresh browser context; the first-visit "Join the Dagster community" dialog is
    skipped whenever it shows."""
    context = browser.new_context(base_url=url, viewport={"width": 1600, "height": 1000})
    context.set_default_timeout(60_000)
    new_page = context.new_page()
    new_page.add_locator_handler(new_page.get_by_role("button", name="Skip"), lambda skip: skip.click())
    return new_page


@pytest.fixture
def page(browser, dagster_dev) -> Iterator[object]:
    opened = open_page(browser, dagster_dev.url)
    yield opened
    opened.context.close()
