"""Shared fixtures: project folders written for a test, the demo with generated data, databases."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from odibi_dagster.demo import DEMO_PROJECT_DIR
from odibi_dagster.demo.generate_data import generate

REPO = Path(__file__).resolve().parents[1]

# The Spark Connect suite needs a process without a local Spark session: test_spark_connect.py
# runs it in its own pytest process (ODIBI_SPARK_CONNECT_SUITE=1), so the main run skips it.
collect_ignore = [] if os.environ.get("ODIBI_SPARK_CONNECT_SUITE") else ["spark_connect"]
DEMO_DIR = DEMO_PROJECT_DIR
POSTGRES_URL = os.environ.get("ODIBI_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
MARIADB_URL = os.environ.get("ODIBI_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")


@pytest.fixture(autouse=True)
def _secrets_read_by_this_test_only() -> Iterator[None]:
    """A value read through ``${NAME}`` stays masked for the rest of its process; a test's own (a
    temporary path, say) must not mask the next test's messages, whichever order the files run in."""
    from odibi_dagster.config import connections

    before = set(connections._READ_SECRETS)
    yield
    connections._READ_SECRETS.intersection_update(before)


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory) -> Path:
    """The demo's raw data, generated once per test session (small)."""
    out = tmp_path_factory.mktemp("demo_data")
    generate(2_000, out, days=10)
    return out


@pytest.fixture
def demo_dir(tmp_path: Path, demo_data: Path) -> Path:
    """A private copy of the demo project with its data, so tests never touch the repository."""
    target = tmp_path / "energy_efficiency"
    shutil.copytree(DEMO_DIR, target, ignore=shutil.ignore_patterns("data", "__pycache__"))
    shutil.copytree(demo_data, target / "data")
    return target


class ProjectWriter:
    """Writes a small project folder; its functions module gets a unique name per test."""

    def __init__(self, root: Path):
        self.root = root
        self.module = f"funcs_{uuid.uuid4().hex[:10]}"

    def write(
        self,
        *,
        manifest: dict[str, Any] | None = None,
        sources: list[dict] | None = None,
        transformations: list[dict] | None = None,
        functions: str = "",
        data: dict[str, str] | None = None,
    ) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        manifest = {"project_name": "Test Project", "layer_order": ["Bronze", "Silver", "Gold"],
                    "default_engine": "pandas", "retry": {"max_retries": 0}, **(manifest or {})}
        (self.root / "manifest.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
        rows = [{**row, "module": row.get("module", self.module)} for row in transformations or []]
        (self.root / "sources.yaml").write_text(yaml.safe_dump(sources or [], sort_keys=False))
        (self.root / "transformations.yaml").write_text(yaml.safe_dump(rows, sort_keys=False))
        (self.root / f"{self.module}.py").write_text(
            "import pandas as pd\nfrom odibi_dagster import odibi_function\n\n" + textwrap.dedent(functions))
        for name, text in (data or {}).items():
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip())
        return self.root


def copy_checkout(target: Path) -> Path:
    """The repository's files as git sees them (tracked, and new ones not ignored) copied to
    ``target``: nothing built or run there writes into the checkout (its build/, an egg-info)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = REPO / name
        if source.is_file():  # a tracked file deleted in the work tree is not copied
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(source.read_bytes())
    return target


@pytest.fixture
def project_writer(tmp_path: Path) -> ProjectWriter:
    return ProjectWriter(tmp_path / "project")


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    return tmp_path / "storage"


def _server_or_skip(url: str, name: str) -> str:
    engine = sa.create_engine(url)
    try:
        with engine.connect():
            return url
    except Exception as exc:  # noqa: BLE001
        if os.environ.get("ODIBI_REQUIRE_SERVICES"):
            pytest.fail(f"{name} is required (ODIBI_REQUIRE_SERVICES) but does not answer at {url}: {exc}")
        pytest.skip(f"no {name} server answers at {url}")
    finally:
        engine.dispose()


@contextmanager
def database_of_its_own(server_url: str, server: str, prefix: str = "odibi_test") -> Iterator[sa.engine.URL]:
    """A fresh database on the server at ``server_url`` (skips the test when none answers), dropped
    afterwards: tests running side by side (pytest-xdist) never see each other's tables."""
    url = sa.engine.make_url(_server_or_skip(server_url, server))
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    quote = "`" if url.get_backend_name().startswith("mysql") else '"'
    force = " WITH (FORCE)" if url.get_backend_name() == "postgresql" else ""
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {quote}{name}{quote}"))
        try:
            yield url.set(database=name)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {quote}{name}{quote}{force}"))
    finally:
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database of the test's own, empty (dropped afterwards)."""
    with database_of_its_own(POSTGRES_URL, "PostgreSQL") as url:
        yield url.render_as_string(hide_password=False)


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """A MariaDB database of the test's own, empty (dropped afterwards)."""
    with database_of_its_own(MARIADB_URL, "MariaDB") as url:
        yield url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def spark():
    """The product's local Spark session, started once for the whole test session."""
    from odibi_dagster.engines.spark_session import SparkSettings, get_session

    return get_session(SparkSettings())


BIN = Path(sys.executable).parent


def dagster(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """Run the dagster CLI in a fresh process with only the given ODIBI_* variables."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ODIBI_")} | env
    return subprocess.run([str(BIN / "dagster"), *args], env=full_env, cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """A DAGSTER_HOME and a storage root of the test's own."""
    (tmp_path / "dagster_home").mkdir()
    (tmp_path / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return {"DAGSTER_HOME": str(tmp_path / "dagster_home"), "ODIBI_STORAGE_ROOT": str(tmp_path / "storage")}


@pytest.fixture
def demo_cwd(demo_dir, tmp_path, monkeypatch):
    """A working directory holding projects/energy_efficiency, as the original's layout expects."""
    work = tmp_path / "work"
    shutil.copytree(demo_dir, work / "projects" / "energy_efficiency")
    monkeypatch.chdir(work)
    for name in ("DAGSTER_HOME", "ODIBI_PROJECT_DIR", "ODIBI_CONFIG_DB", "ODIBI_ENGINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ODIBI_STORAGE_ROOT", str(tmp_path / "storage"))
    return work


FAILING = """
def ok(inputs):
    return inputs["bronze.good"]

def flaky(inputs):
    raise ValueError("sensor feed corrupt")

def after(inputs):
    return inputs["silver.flaky"]
"""


def failing_project(project_writer: ProjectWriter, retries: int = 0) -> Path:
    """A source, a transformation that works, one that raises and one downstream of it."""
    return project_writer.write(
        manifest={"retry": {"max_retries": retries, "delay": 0.1}},
        sources=[{"source_id": "s1", "source_name": "bronze.good", "file_format": "csv",
                  "source_path_or_query": "good.csv"}],
        data={"good.csv": "a\n1\n"}, functions=FAILING, transformations=[
            {"transformation_id": "t-ok", "layer": "Silver", "function": "ok", "inputs": ["bronze.good"],
             "outputs": [{"table": "silver.ok"}]},
            {"transformation_id": "t-flaky", "layer": "Silver", "function": "flaky", "inputs": ["bronze.good"],
             "outputs": [{"table": "silver.flaky"}]},
            {"transformation_id": "t-after", "layer": "Gold", "function": "after", "inputs": ["silver.flaky"],
             "outputs": [{"table": "gold.after"}]}])


@pytest.fixture
def postgres_home(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A DAGSTER_HOME whose instance is docs/dagster_postgres.yaml, on a fresh PostgreSQL database
    of the test's own (dropped afterwards), and a storage root of the test's own."""
    home = tmp_path / "dagster_home_pg"
    home.mkdir()
    shutil.copy(REPO / "docs" / "dagster_postgres.yaml", home / "dagster.yaml")
    with database_of_its_own(POSTGRES_URL, "PostgreSQL", "odibi_instance") as url:
        yield {"DAGSTER_HOME": str(home), "ODIBI_STORAGE_ROOT": str(tmp_path / "storage"),
               "DAGSTER_PG_HOST": url.host or "127.0.0.1", "DAGSTER_PG_PORT": str(url.port or 5432),
               "DAGSTER_PG_DB": url.database, "DAGSTER_PG_USERNAME": url.username or "postgres",
               "DAGSTER_PG_PASSWORD": url.password or ""}
