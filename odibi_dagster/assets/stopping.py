"""Stopping a run between its steps, at the request of the process that runs it in process.

``execute_in_process`` on a thread other than the main one gets none of Dagster's interrupt
handling, so ``run_project`` (whose run executes on a worker thread) asks for the stop here when
its caller is interrupted (Ctrl-C, or a hook raising ``KeyboardInterrupt``): the step in progress
ends; each step after it marks the run canceling and fails at once, before it reads or writes
anything, with a failure that no retry policy retries (Dagster would retry its own interrupt
under a retry policy, waiting out each delay), so the steps downstream are skipped and Dagster
ends the run as canceled. Every table is written atomically, so a stop never leaves one
half-written.
"""

from __future__ import annotations

import threading

import dagster as dg

_REQUESTED: set[str] = set()
_LOCK = threading.Lock()


def request_stop(run_id: str) -> None:
    """Ask the run ``run_id``, executing in this process, to stop before its next step."""
    with _LOCK:
        _REQUESTED.add(run_id)


def forget(run_id: str) -> None:
    """The run has ended: its request is no longer needed."""
    with _LOCK:
        _REQUESTED.discard(run_id)


def mark_canceling(instance: dg.DagsterInstance, run_id: str, message: str) -> None:
    """Mark the run canceling, unless it already is or has ended: Dagster then ends it as canceled."""
    run = instance.get_run_by_id(run_id)
    if run is not None and run.status == dg.DagsterRunStatus.STARTED:
        instance.report_run_canceling(run, message=message)


def stop_if_requested(context: dg.AssetExecutionContext) -> None:
    """At a step's start: fail it, unretried, and cancel the run when a stop was requested for it."""
    if context.run.run_id not in _REQUESTED:
        return
    mark_canceling(context.instance, context.run.run_id, "Stop requested by the process running it")
    raise dg.Failure(description=f"not run: run {context.run.run_id} was stopped (its caller was interrupted)",
                     allow_retries=False)
