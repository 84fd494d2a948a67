"""Ctrl-C while ``run_project`` delivers a run's events: held until nothing is half done.

Python raises ``KeyboardInterrupt`` wherever the main thread is when the signal comes: in the
delivery loop that can be inside a log sink's write (the records in flight are then lost for
that sink) or between taking an entry of the run's log and queuing its hook calls (that entry's
hooks are never called). While ``HeldInterrupts.installed`` is active, a Ctrl-C is held until
the loop's next ``check`` (where it is raised), except:

- inside ``immediately()`` (a hook's own code, a wait for the run's thread): raised at once, so a
  hook that blocks is still interrupted and a wait can be cut short;
- a second Ctrl-C while one is held (say, during a sink's write that hangs): raised at once, as
  ``InterruptedTwice``; interrupting again never waits.

This replaces Python's own SIGINT handler and PySpark's (which cancels every Spark job, then
raises ``KeyboardInterrupt``: here the running step is let finish instead, as documented). Off the
main thread, or under any other handler the application installed, signals are left alone (a
``KeyboardInterrupt`` a hook raises itself is handled the same either way).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class InterruptedTwice(KeyboardInterrupt):
    """A second Ctrl-C came before the first could be taken at a safe point."""


class HeldInterrupts:
    """Hold Ctrl-C to safe points of one delivery loop: ``installed`` around it, ``check`` at its safe
    points, ``immediately`` around what a Ctrl-C should cut short."""

    def __init__(self) -> None:
        self._held = False
        self._at_once = 0

    def _on_sigint(self, _signum: int, _frame: FrameType | None) -> None:
        if self._held:
            self._held = False
            raise InterruptedTwice
        if self._at_once:
            raise KeyboardInterrupt
        self._held = True

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Hold Ctrl-C in here; one still held when the block ends normally is raised then."""
        if threading.current_thread() is not threading.main_thread() or not _ctrl_c_raises(
                signal.getsignal(signal.SIGINT)):
            yield
            return
        previous = signal.signal(signal.SIGINT, self._on_sigint)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)
        self.check()

    def check(self) -> None:
        """A safe point: raise the Ctrl-C held since the last one, if any."""
        if self._held:
            self._held = False
            raise KeyboardInterrupt

    @contextmanager
    def immediately(self) -> Iterator[None]:
        """Ctrl-C raises at once in here (one held before stays held for the next ``check``)."""
        self._at_once += 1
        try:
            yield
        finally:
            self._at_once -= 1


def _ctrl_c_raises(handler: object) -> bool:
    """Whether ``handler`` is Python's own or PySpark's: both end in ``KeyboardInterrupt``."""
    if handler is signal.default_int_handler:
        return True
    return (getattr(handler, "__module__", "") or "").startswith("pyspark.") \
        and getattr(handler, "__name__", "") == "signal_handler"
