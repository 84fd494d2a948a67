"""Pausing Python's cyclic garbage collector while a code location is loaded and built.

Used by ``definitions.py`` (around its imports of the loaders and the asset factory, which
allocate as a build does), ``location.build_code_location`` and ``run_project``."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collection_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a project is loaded and its definitions built.

    Building allocates many long-lived objects and almost no cyclic garbage (a few hundred objects
    for 1,000 transformations), but each allocation burst triggers collections that scan all of
    them again: 15% of the load at 1,000 transformations, 29% at 10,000 (benchmarks/RESULTS.md).
    The collector runs again as soon as the block ends; the switch is the process's, so a
    ``gc.disable()`` another thread makes meanwhile is undone then.
    """
    if not gc.isenabled():  # nested, or the application turned it off itself
        yield
        return
    try:
        gc.disable()
        yield
    finally:
        gc.enable()
