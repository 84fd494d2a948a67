"""HeldInterrupts with real SIGINTs sent to this process (the tests run on its main thread)."""

import os
import signal

import pytest

from odibi_dagster.orchestration.interrupts import HeldInterrupts, InterruptedTwice


def ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)  # Python runs the handler before the next line


def test_a_ctrl_c_is_held_until_the_next_check():
    interrupts, done, before = HeldInterrupts(), [], signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), interrupts.installed():
        assert signal.getsignal(signal.SIGINT) == interrupts._on_sigint  # (bound methods compare equal)
        ctrl_c()
        done.append("the rest of the write")
        interrupts.check()
        done.append("after the check")
    assert done == ["the rest of the write"]
    assert signal.getsignal(signal.SIGINT) is before  # put back


def test_one_held_at_the_end_of_the_block_is_raised_there():
    interrupts, done = HeldInterrupts(), []
    with pytest.raises(KeyboardInterrupt), interrupts.installed():
        ctrl_c()
        done.append("the end of the block")
    assert done == ["the end of the block"]


def test_inside_immediately_and_a_second_one_raise_at_once():
    interrupts, done = HeldInterrupts(), []
    with pytest.raises(KeyboardInterrupt), interrupts.installed(), interrupts.immediately():
        ctrl_c()
        done.append("in a hook")
    with pytest.raises(InterruptedTwice), interrupts.installed():
        ctrl_c()
        done.append("held")
        ctrl_c()  # again, before a check (a sink write that hangs)
        done.append("after the second")
    assert done == ["held"]


def test_another_applications_handler_is_left_alone():
    calls, interrupts = [], HeldInterrupts()
    previous = signal.signal(signal.SIGINT, lambda signum, frame: calls.append(signum))
    try:
        with interrupts.installed():
            assert signal.getsignal(signal.SIGINT) != interrupts._on_sigint  # (bound methods compare equal)
            ctrl_c()
            interrupts.check()  # nothing held: the application's handler took it
    finally:
        signal.signal(signal.SIGINT, previous)
    assert calls == [signal.SIGINT]


def test_pysparks_handler_is_held_too(spark):
    """A Spark session on the main thread installs PySpark's handler (cancel every job, then raise);
    while delivering, a Ctrl-C is held like Python's own, and PySpark's is put back after."""
    handler = signal.getsignal(signal.SIGINT)
    if handler is signal.default_int_handler:
        pytest.skip("this process's Spark session was started off the main thread, so PySpark installed no handler")
    interrupts, done = HeldInterrupts(), []
    with pytest.raises(KeyboardInterrupt), interrupts.installed():
        ctrl_c()
        done.append("the rest of the write")
        interrupts.check()
    assert done == ["the rest of the write"]
    assert signal.getsignal(signal.SIGINT) is handler
