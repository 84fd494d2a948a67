"""Run a project's assets through Dagster and deliver hook events live, in this process.

The run executes on a worker thread; this thread translates each entry of the run's event log and
calls the hooks, the ``run_project(log_sink=...)`` sink and the progress printer as the run goes
on, so a slow or raising hook never holds up or breaks the run's own thread. (The manifest's
sinks get their records from the steps themselves.) An interrupt of this thread (Ctrl-C, or a hook
raising ``KeyboardInterrupt``) stops the run before its next step (``assets.stopping``); what the
run did meanwhile still reaches the hooks and the sink, and the interrupt is raised again once the
run has ended; a Ctrl-C waits for the loop's next safe point (``orchestration.interrupts``). How
the entries arrive depends on the instance:

- in memory (no ``DAGSTER_HOME``): the storage calls a watcher as it stores each entry, on the
  run's thread (``EventLogStorage.watch``), which queues it for this thread; nothing reads the
  in-memory databases from a second thread (SQLite refuses that now and then with "database
  table is locked");
- on disk or in a server (``DAGSTER_HOME``): this thread tails the run's event log (public
  ``get_records_for_run`` with a cursor).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import dagster as dg
from dagster._core.utils import make_new_run_id

from odibi_dagster.assets.stopping import forget, mark_canceling, request_stop
from odibi_dagster.hooks.manager import HookManager
from odibi_dagster.hooks.translator import ProjectSteps, RunTranslator
from odibi_dagster.logging.sinks import BaseLogSink, deliver
from odibi_dagster.orchestration.interrupts import HeldInterrupts, InterruptedTwice
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

    # the hook calls still to make: an interrupt raised by one (or during one) leaves the rest here
    calls: deque[Callable[[], None]] = deque()

    def handle(entry: dg.EventLogEntry, run: dg.DagsterRun) -> None:
        if live.translator is None:
            live.translator = RunTranslator(steps, run)
        for event, payload in live.translator.translate(entry):
            if event == "transform_retry":  # Dagster logs a retry at DEBUG: the caller sees it here
                logger.warning("'%s' failed (attempt %s of %s), retrying: %s", payload.get("transformation_id"),
                               payload.get("attempt"), (payload.get("max_retries") or 0) + 1, payload.get("error"))
            calls.extend(hooks.calls(event, payload))
        if log_sink is not None and live.translator.finished_records:
            records = live.translator.finished_records
            if deliver([log_sink], records, _retry_later):
                live.unsent_records += records

    def tick() -> None:
        if progress is not None and live.translator is not None:
            progress.update(live.translator)

    watched = _WatchedEntries(instance, run_id) if not instance.event_log_storage.is_persistent else None
    failure: list[BaseException] = []

    def work() -> None:
        try:
            execute()
        except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
            failure.append(exc)
        finally:
            forget(run_id)
            if watched is not None:
                watched.close()

    worker = threading.Thread(target=work, name=f"odibi-run-{run_id[:8]}", daemon=True)
    entries: _Entries = watched or _TailedEntries(instance, run_id, worker)
    pending: deque[tuple[dg.EventLogEntry, dg.DagsterRun]] = deque()

    def deliver_all() -> None:
        """Hand each entry of the run's log to ``handle``, as it comes, up to the log's end; a Ctrl-C
        is raised between two calls or entries (at once inside a hook)."""
        while True:
            while calls or pending:
                if calls:
                    with interrupts.immediately():
                        calls.popleft()()
                else:
                    handle(*pending.popleft())
                interrupts.check()
            tick()
            batch = entries.next_batch()
            if batch is None:
                interrupts.check()
                return
            pending.extend(batch)
            interrupts.check()

    def retry_unsent() -> None:  # one more try at the run's end
        if live.unsent_records and log_sink is not None and not deliver(
                [log_sink], live.unsent_records,
                lambda message: logger.error("still failing at the run's end: %s", message)):
            live.unsent_records = []

    interrupts = HeldInterrupts()
    try:
        with interrupts.installed():
            worker.start()
            try:
                deliver_all()
            except KeyboardInterrupt as interrupt:  # Ctrl-C, or a hook raising it: the run stops too
                request_stop(run_id)
                if isinstance(interrupt, InterruptedTwice):
                    if worker.is_alive():
                        raise _abandon(instance, run_id) from interrupt
                    forget(run_id)  # the run had ended: nothing is abandoned
                    raise
                logger.warning("interrupted: run %s stops once its running step ends (interrupt again not to wait: "
                               "the run is then marked canceling at once and its running step abandoned)", run_id)
                try:
                    with interrupts.immediately():
                        interrupts.check()
                        worker.join()
                except KeyboardInterrupt as again:
                    raise _abandon(instance, run_id) from again
                forget(run_id)  # the run may have ended before the request
                # what the run did since (the step that ended, the run's end) still reaches the hooks
                # and the sink, unless interrupted again
                deliver_all()
                retry_unsent()
                raise
            worker.join()
            if failure:
                raise failure[0]
            retry_unsent()
    finally:
        if watched is not None:
            watched.stop_watching()
    return live


class RunAbandoned(KeyboardInterrupt):
    """A second interrupt: the caller stopped waiting while the run's thread was still in a step."""


def _abandon(instance: dg.DagsterInstance, run_id: str) -> RunAbandoned:
    """A second interrupt: the process is likely to end with the run's thread in a step. A run kept
    on ``DAGSTER_HOME`` is marked canceling at once, not left STARTED (the UI offers to mark it
    canceled should the process end; should it go on, the run's thread ends the run as canceled
    itself, and forgets the stop request). An in-memory run ends with the process."""
    if instance.event_log_storage.is_persistent:
        mark_canceling(instance, run_id, "Abandoned: the process running it was interrupted twice")
    return RunAbandoned()


class _Entries(Protocol):
    def next_batch(self) -> list[tuple[dg.EventLogEntry, dg.DagsterRun]] | None:
        """The run's entries stored since the last call (maybe none, after a short wait); None once
        the run has ended and all were taken."""


class _WatchedEntries:
    """The entries of an in-memory instance's run, as the storage stores them (queued by a watcher
    on the run's thread, with the run, which is read there too), taken in batches every
    ``POLL_SECONDS``; the batches end once ``close`` was called and all were taken."""

    _END = object()

    def __init__(self, instance: dg.DagsterInstance, run_id: str):
        self._instance, self._run_id = instance, run_id
        self._queue: queue.Queue[Any] = queue.Queue()
        self._ended = False
        self._run: dg.DagsterRun | None = None
        instance.event_log_storage.watch(run_id, None, self._watcher)

    def _watcher(self, entry: dg.EventLogEntry, _cursor: str) -> None:
        if self._run is None:  # the run exists before its first entry is stored
            self._run = self._instance.get_run_by_id(self._run_id)
        self._queue.put((entry, self._run))

    def close(self) -> None:
        self._queue.put(self._END)

    def stop_watching(self) -> None:
        self._instance.event_log_storage.end_watch(self._run_id, self._watcher)

    def next_batch(self) -> list[tuple[dg.EventLogEntry, dg.DagsterRun]] | None:
        """What was stored since the last call (maybe nothing), after ``POLL_SECONDS``: one wake-up per
        interval, as the tail reads, not one per event."""
        if self._ended:
            return None
        time.sleep(POLL_SECONDS)
        batch = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch
            if item is self._END:
                self._ended = True
                return batch
            batch.append(item)


class _TailedEntries:
    """A persistent instance's run: its log read with a cursor while ``worker`` runs it, every
    ``POLL_SECONDS``, and to its end once the worker has ended."""

    def __init__(self, instance: dg.DagsterInstance, run_id: str, worker: threading.Thread):
        self._instance, self._run_id, self._worker = instance, run_id, worker
        self._run: dg.DagsterRun | None = None
        self._cursor: str | None = None
        self._wait = self._done = False

    def next_batch(self) -> list[tuple[dg.EventLogEntry, dg.DagsterRun]] | None:
        if self._done:
            return None
        if self._wait:
            time.sleep(POLL_SECONDS)
        finished = not self._worker.is_alive()
        self._run = self._run or self._instance.get_run_by_id(self._run_id)
        if self._run is None:
            self._done, self._wait = finished, True
            return []
        page = self._instance.get_records_for_run(self._run_id, cursor=self._cursor)
        self._cursor = page.cursor
        self._done, self._wait = finished and not page.has_more, not finished
        return [(record.event_log_entry, self._run) for record in page.records]


def _retry_later(message: str) -> None:
    logger.error("%s; retrying at the run's end", message)
