"""One Spark session per process: local (``local[*]``), a cluster (``spark_master``) or Spark
Connect (``spark_remote``). Created on first use, so a pandas run never starts a JVM; stopped
at interpreter exit. What is missing (Java, an unreachable server) fails fast and says so.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import sys
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from odibi_dagster.config.connections import redact, remember_secret
from odibi_dagster.functions.modules import ship_project_modules

# Settings measured to matter on small machines: no UI, few shuffle partitions.
LOCAL_DEFAULTS = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # The deltalake-through-Arrow path collects each table into the driver: 2g ran out of heap on a
    # 2M-row demo table (benchmarks/RESULTS.md). Override with spark_conf on smaller machines.
    "spark.driver.memory": "4g",
    "spark.driver.maxResultSize": "2g",
    # readers take the JDK's encodings (cp1252, ...), as pandas takes Python's; Spark 4 allows only
    # seven unless this is set
    "spark.sql.legacy.javaCharsets": "true",
}

_sessions: dict[SparkSettings, Any] = {}
_lock = threading.Lock()


class SparkUnavailable(RuntimeError):
    """Spark cannot run here; the message says what is missing."""


@dataclass(frozen=True)
class SparkSettings:
    master: str | None = None
    remote: str | None = None
    conf: tuple[tuple[str, str], ...] = ()
    app_name: str = "odibi_dagster"


def get_session(settings: SparkSettings) -> Any:
    """The process's session for these settings (an active session, e.g. on Databricks, wins)."""
    with _lock:
        if settings in _sessions:
            return _sessions[settings]
        if settings.remote:
            remember_secret(settings.remote)  # it may hold a token: masked in every later message
            with _masking(settings.remote):
                _check_reachable(settings.remote)
        held = {bool(known.remote) for known in _sessions}
        if held and held != {bool(settings.remote)}:
            # pyspark.sql.functions switches to Spark Connect for the whole process once a Connect
            # session exists, which breaks a local session's columns (and the other way round).
            kind = "Spark Connect" if True in held else "local Spark"
            raise SparkUnavailable(f"this process already holds a {kind} session; a process can use local Spark or "
                                   f"Spark Connect, not both (run the other kind in its own run or process)")
        session = _active_session() if not settings.remote and not settings.master else None
        if session is None and settings.remote:
            with _masking(settings.remote):
                session = _connect(settings)
        elif session is None:
            session = _start_local(settings)
        ship_project_modules()
        _sessions[settings] = session
        return session


def adopt_session(session: Any) -> None:
    """Use a session made elsewhere (an ``auth_provider``'s, a notebook's) as this process's local one."""
    with _lock:
        _sessions[SparkSettings()] = session


def stop_sessions() -> None:
    """Stop every session this module started (also run at interpreter exit)."""
    with _lock:
        sessions = list(_sessions.values())
        _sessions.clear()
    for session in sessions:
        _stop(session)


atexit.register(stop_sessions)


def _active_session() -> Any:
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession()


def _start_local(settings: SparkSettings) -> Any:
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        raise SparkUnavailable("the spark engine needs Java 17+: no 'java' on PATH and JAVA_HOME is not set "
                               "(install a JDK, or set spark_remote to a Spark Connect server)")
    # Python workers must run this interpreter (with this virtualenv's packages), not the system one.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(settings.master or "local[*]").appName(settings.app_name)
    for key, value in {**LOCAL_DEFAULTS, **dict(settings.conf)}.items():
        builder = builder.config(key, value)
    try:
        return builder.getOrCreate()
    except Exception as exc:
        raise SparkUnavailable(f"Spark could not start ({settings.master or 'local[*]'}): "
                               f"{type(exc).__name__}: {exc}") from exc


@contextlib.contextmanager
def _masking(remote: str) -> Any:
    """Errors about the Spark Connect URL (pyspark's own quote it) without its token."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - any error here may quote the URL
        said = str(exc) if isinstance(exc, SparkUnavailable) else f"{type(exc).__name__}: {exc}"
        raise SparkUnavailable(redact(said, remote)) from None


def _check_reachable(remote: str) -> None:
    url = urlparse(remote.replace("sc://", "http://", 1))
    host, port = url.hostname or "localhost", url.port or 15002
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as exc:
        raise SparkUnavailable(f"cannot reach the Spark Connect server at {host}:{port} (spark_remote): {exc}") from None


def _connect(settings: SparkSettings) -> Any:
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.remote(settings.remote)
    for key, value in settings.conf:
        builder = builder.config(key, value)
    # create(), not getOrCreate(): a Connect session may live beside a local one in this process
    return builder.create()


def _stop(session: Any, timeout: float = 10.0) -> None:
    # A Connect session whose server is gone retries for minutes: give stop() a time limit.
    def stop() -> None:
        with contextlib.suppress(Exception):
            session.stop()

    worker = threading.Thread(target=stop, daemon=True)
    worker.start()
    worker.join(timeout)


def is_remote(session: Any) -> bool:
    return type(session).__module__.startswith("pyspark.sql.connect")


def has_native_delta(session: Any) -> bool:
    """Whether ``format("delta")`` works in this session: Databricks, the Delta extension, or a
    Spark Connect server (Databricks Connect and Delta-speaking servers)."""
    if os.environ.get("DATABRICKS_RUNTIME_VERSION") or is_remote(session):
        return True
    try:
        return "DeltaSparkSessionExtension" in (session.conf.get("spark.sql.extensions", "") or "")
    except Exception:  # noqa: BLE001
        return False
