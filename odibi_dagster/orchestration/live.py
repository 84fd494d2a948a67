"""Run a project's assets through Dagster and deliver hook events live, in this process.

The run executes on a worker thread; this thread tails the run's event log on the instance
(public ``get_records_for_run`` with a cursor), translates each entry and calls the hooks, the
``run_project(log_sink=...)`` sink and the progress printer as the run goes on. (The manifest's
sinks get their records from the steps themselves.)
"""

from __future__ import annotations

import logging
import threading
import time
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
    failure: list[BaseException] = []

    def execute() -> None:
        try:
            live.result = job.execute_in_process(instance=instance, run_id=run_id, asset_selection=selection,
                                                 run_config=run_config, tags=tags, raise_on_error=False)
        except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
            failure.append(exc)

    worker = threading.Thread(target=execute, name=f"odibi-run-{run_id[:8]}", daemon=True)
    worker.start()
    cursor = None
    while True:
        finished = not worker.is_alive()
        if live.translator is None:
            run = instance.get_run_by_id(run_id)
            if run is not None:
                live.translator = RunTranslator(steps, run)
        if live.translator is not None:
            page = instance.get_records_for_run(run_id, cursor=cursor)
            for record in page.records:
                for event, payload in live.translator.translate(record.event_log_entry):
                    hooks.emit(event, payload)
                if log_sink is not None and live.translator.finished_records:
                    records = live.translator.finished_records
                    if deliver([log_sink], records, _retry_later):
                        live.unsent_records += records
            cursor = page.cursor
            if progress is not None:
                progress.update(live.translator)
            if finished and not page.has_more:
                break
        elif finished:
            break
        if not finished:
            time.sleep(POLL_SECONDS)
    worker.join()
    if failure:
        raise failure[0]
    # one more try at the run's end
    if live.unsent_records and log_sink is not None and not deliver(
            [log_sink], live.unsent_records, lambda message: logger.error("still failing at the run's end: %s", message)):
        live.unsent_records = []
    return live


def _retry_later(message: str) -> None:
    logger.error("%s; retrying at the run's end", message)
