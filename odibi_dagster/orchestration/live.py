"""Run a project's assets through Dagster and deliver hook events live, in this process.

Each entry of the run's event log is translated and handed to the hooks, the
``run_project(log_sink=...)`` sink and the progress printer as the run goes on. (The manifest's
sinks get their records from the steps themselves.) How the entries arrive depends on the instance:

- in memory (no ``DAGSTER_HOME``): the storage calls a watcher as it stores each entry, on the
  run's own thread (``EventLogStorage.watch``); nothing reads the log concurrently;
- on disk or in a server (``DAGSTER_HOME``): the run executes on a worker thread while this thread
  tails its event log (public ``get_records_for_run`` with a cursor).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from dagster._core.utils import make_new_run_id

from odibi_dagster.hooks.manager import HookManager
from odibi_dagster.hooks.translator import ProjectSteps, RunTranslator
from odibi_dagster.logging.sinks import BaseLogSink, deliver
from odibi_dagster.orchestration.progress import LayerProgress

logger = logging.getLogger("odibi_dagster.orchestration")
POLL_SECONDS = 0.05


@dataclass
class LiveRun:
    result: dg.ExecuteInProcessResult | None = None
    translator: RunTranslator | None = None
    unsent_records: list[dict[str, Any]] = field(default_factory=list)


def run_live(
    job: dg.JobDefinition,
    instance: dg.DagsterInstance,
    steps: ProjectSteps,
    *,
    selection: list[dg.AssetKey] | None,
    run_config: dict[str, Any],
    tags: dict[str, str],
    hooks: HookManager,
    log_sink: BaseLogSink | None,
    progress: LayerProgress | None = None,
) -> LiveRun:
    live = LiveRun()
    run_id = make_new_run_id()

    def execute() -> None:
        live.result = job.execute_in_process(instance=instance, run_id=run_id, asset_selection=selection,
                                             run_config=run_config, tags=tags, raise_on_error=False)

    def handle(entry: dg.EventLogEntry) -> None:
        if live.translator is None:  # the run exists before its first entry is stored
            live.translator = RunTranslator(steps, instance.get_run_by_id(run_id))
        for event, payload in live.translator.translate(entry):
            hooks.emit(event, payload)
        if log_sink is not None and live.translator.finished_records:
            records = live.translator.finished_records
            if deliver([log_sink], records, _retry_later):
                live.unsent_records += records
        tick()

    def tick() -> None:
        if progress is not None and live.translator is not None:
            progress.update(live.translator)

    if instance.event_log_storage.is_persistent:
        _tail(instance, run_id, execute, handle, tick)
    else:
        _watch(instance, run_id, execute, handle)
    # one more try at the run's end
    if live.unsent_records and log_sink is not None and not deliver(
            [log_sink], live.unsent_records, lambda message: logger.error("still failing at the run's end: %s", message)):
        live.unsent_records = []
    return live


def _watch(instance: dg.DagsterInstance, run_id: str, execute: Callable[[], None],
           handle: Callable[[dg.EventLogEntry], None]) -> None:
    """An in-memory instance: ``handle`` each entry as the storage stores it, on the run's thread.
    (In-memory SQLite read from a second thread while the run writes refuses now and then with
    "database table is locked".)"""
    failure: list[BaseException] = []

    def watcher(entry: dg.EventLogEntry, _cursor: str) -> None:
        try:
            handle(entry)
        except Exception as exc:  # noqa: BLE001 - the storage would only log it; re-raised after the run
            failure.append(exc)

    storage = instance.event_log_storage
    storage.watch(run_id, None, watcher)
    try:
        execute()
    finally:
        storage.end_watch(run_id, watcher)
    if failure:
        raise failure[0]


def _tail(instance: dg.DagsterInstance, run_id: str, execute: Callable[[], None],
          handle: Callable[[dg.EventLogEntry], None], tick: Callable[[], None]) -> None:
    """A persistent instance: run on a worker thread and ``handle`` the entries this thread reads;
    ``tick`` after each read (the progress line's elapsed time moves on during a long step)."""
    failure: list[BaseException] = []

    def work() -> None:
        try:
            execute()
        except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
            failure.append(exc)

    worker = threading.Thread(target=work, name=f"odibi-run-{run_id[:8]}", daemon=True)
    worker.start()
    cursor, created = None, False
    while True:
        finished = not worker.is_alive()
        created = created or instance.get_run_by_id(run_id) is not None
        if created:
            page = instance.get_records_for_run(run_id, cursor=cursor)
            for record in page.records:
                handle(record.event_log_entry)
            cursor = page.cursor
            tick()
            if finished and not page.has_more:
                break
        elif finished:
            break
        if not finished:
            time.sleep(POLL_SECONDS)
    worker.join()
    if failure:
        raise failure[0]


def _retry_later(message: str) -> None:
    logger.error("%s; retrying at the run's end", message)
