"""`Readers`: one lazily opened `TraceReader` per job, so a slow trace load never delays the
live tail and queries of different jobs never interleave on one connection."""

from __future__ import annotations

import threading
from collections.abc import Hashable
from pathlib import Path

from lens_tui.store.reader import TraceReader


class Readers:
    """One lazily opened `TraceReader` per key (a job); `invalidate()` reopens them all."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._epoch = 0
        self._readers: dict[Hashable, tuple[TraceReader, int]] = {}
        self.closed = threading.Event()
        """Set by `close_all`: a worker waiting to try again stops waiting."""

    def get(self, key: Hashable) -> TraceReader:
        """The key's reader (call from a worker thread: it may close a stale connection)."""
        stale: TraceReader | None = None
        with self._lock:
            entry = self._readers.get(key)
            if entry is not None and entry[1] != self._epoch:
                stale, entry = entry[0], None
            if entry is None:
                entry = (TraceReader(self.path), self._epoch)
                self._readers[key] = entry
        if stale is not None:
            stale.close()
        return entry[0]

    def invalidate(self) -> None:
        """The file was replaced: every reader reopens on its next use (cheap, any thread)."""
        with self._lock:
            self._epoch += 1

    def open_readers(self) -> list[TraceReader]:
        """Every reader opened so far (a test holds their locks to find a query half-way)."""
        with self._lock:
            return [entry[0] for entry in self._readers.values()]

    def close_all(self) -> None:
        """Close every connection; waits for another try end (`closed`)."""
        self.closed.set()
        with self._lock:
            readers = [entry[0] for entry in self._readers.values()]
            self._readers.clear()
        for reader in readers:
            reader.close()
