"""Tables a step just wrote, kept in memory for the next steps of the same process.

With the in-process executor a table is usually read by the next step right after it was
written. The writer keeps the Arrow table it wrote, keyed by the file it wrote it to and that
file's identity (inode, size, modification time); a reader gets it back only while the file on
disk is still exactly that one, so another writer's change is always seen. The table is still
written before its step succeeds: this saves the read back, never the write. Bounded by bytes
(least recently used out first).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from odibi_dagster.engines.storage import FileIdentity, file_identity

if TYPE_CHECKING:
    import pyarrow as pa

DEFAULT_MAX_BYTES = 256 * 1024 * 1024


class Handoff:
    """``keep`` after a write, ``take`` before a read; thread-safe."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES):
        self.max_bytes = max_bytes
        self._tables: OrderedDict[Path, tuple[FileIdentity, pa.Table]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def keep(self, path: Path, table: pa.Table) -> None:
        identity = file_identity(path)
        if identity is None or table.nbytes > self.max_bytes:
            return
        with self._lock:
            self._drop(path)
            self._tables[path] = (identity, table)
            self._bytes += table.nbytes
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._tables)))

    def take(self, path: Path) -> pa.Table | None:
        """The table written to ``path`` here, if the file is still the one written; else None."""
        with self._lock:
            entry = self._tables.get(path)
            if entry is None:
                return None
            if file_identity(path) != entry[0]:
                self._drop(path)
                return None
            self._tables.move_to_end(path)
            return entry[1]

    def _drop(self, path: Path) -> None:
        entry = self._tables.pop(path, None)
        if entry is not None:
            self._bytes -= entry[1].nbytes
