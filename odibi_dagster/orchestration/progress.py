"""Live progress of a ``run_project`` run: one line per layer, steps done / total and elapsed time.

Fed the run's translator after every poll. On a terminal each layer's line is rewritten in place
(elapsed time ticking once a second) and kept when the layer ends; elsewhere (a log file, CI, a
notebook) a line is printed each time a step of the layer ends.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from odibi_dagster.hooks.translator import LayerState, RunTranslator

REFRESH_SECONDS = 1.0


class LayerProgress:
    """Prints ``Silver_1  [2/3] transformations done  1.4 s`` lines as a run goes on."""

    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None):
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty() if live is None else live  # rewrite lines in place
        self._shown: dict[str, tuple[int, bool]] = {}  # layer -> (steps ended, closed) last printed
        self._open: str | None = None  # the layer whose line is being rewritten
        self._last_refresh = 0.0

    def update(self, translator: RunTranslator) -> None:
        bronze = translator.project.bronze_layer
        now = time.time()
        for name, layer in translator.layers.items():
            if layer.started is None and not layer.closed:
                continue
            state = (len(layer.ended), layer.closed)
            ticking = self.live and self._open == name and now - self._last_refresh >= REFRESH_SECONDS
            if self._shown.get(name) == state and not ticking:
                continue
            self._shown[name] = state
            self._print(name, self._line(name, layer, "sources" if name == bronze else "transformations", now),
                        closed=layer.closed)

    @staticmethod
    def _line(name: str, layer: LayerState, noun: str, now: float) -> str:
        planned, ended = len(layer.planned), len(layer.ended)
        if layer.started is None:
            return f"{name:<12} [0/{planned}] {noun} skipped (upstream failed)"
        end = (layer.last_end or now) if layer.closed else now
        line = f"{name:<12} [{ended}/{planned}] {noun} done  {end - layer.started:.1f} s"
        failed = len(layer.failed)
        if failed:
            line += f"  ({failed} failed)"
        if layer.closed:
            line += "  ok" if not failed and ended == planned else "  FAILED"
        return line

    def _print(self, name: str, line: str, *, closed: bool) -> None:
        if not self.live:
            print(line, file=self.stream, flush=True)
            return
        if self._open not in (None, name):  # another layer's line is open: keep it, start a new one
            self.stream.write("\n")
        self.stream.write("\r\x1b[2K" + line)
        self._open, self._last_refresh = name, time.time()
        if closed:
            self.stream.write("\n")
            self._open = None
        self.stream.flush()
