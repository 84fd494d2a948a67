"""Stopping a run between its steps, at the request of the process that runs it in process.

``execute_in_process`` on a thread other than the main one gets none of Dagster's interrupt
handling, so ``run_project`` (whose run executes on a worker thread) asks for the stop here when
its caller is interrupted (Ctrl-C, or a hook raising ``KeyboardInterrupt``): the step in progress
ends, the next one marks the run canceling and raises Dagster's interrupt, and Dagster ends the
run as canceled without starting another step. Every table is written atomically, so a stop
never leaves one half-written.
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


def stop_if_requested(context: dg.AssetExecutionContext) -> None:
    """At a step's start: end the run here (as canceled) when a stop was requested for it."""
    if context.run.run_id not in _REQUESTED:
        return
    context.instance.report_run_canceling(context.run, message="Stop requested by the process running it")
    raise dg.DagsterExecutionInterruptedError(
        f"run {context.run.run_id} stopped before step {context.op_execution_context.op_handle}: its caller was "
        f"interrupted")
