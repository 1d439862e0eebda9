"""Wake the dashboard when the database changes: watchfiles on its directory plus a slow poll.

The directory is watched, not the file: the `-wal` disappears when the last writer closes and
watching a missing path raises (docs/findings.md), and the database may not exist yet. Events are
filtered to the database and its `-wal` (never `-shm`: readers touch it, which would loop).
A change is only a hint; the caller confirms it with `TraceReader.changed()` (data_version).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

import watchfiles

from lens_tui.store.connection import file_identity

log = logging.getLogger(__name__)

_Signature = tuple[tuple[int, int, int, int] | None, ...]


class ChangeWatcher:
    """Watches the database's directory with watchfiles (db and -wal only, short debounce,
    step ~10 ms) plus a slow fallback poll; calls `on_change()` from its own thread."""

    def __init__(
        self,
        path: Path,
        on_change: Callable[[], None],
        *,
        fallback_s: float = 1.0,
        debounce_ms: int = 5,
        step_ms: int = 10,
    ) -> None:
        self._path = Path(os.path.abspath(path))
        self._names = frozenset({self._path.name, self._path.name + "-wal"})
        self._on_change = on_change
        self._fallback_s = max(float(fallback_s), 0.05)
        self._debounce_ms = max(int(debounce_ms), 1)
        self._step_ms = max(int(step_ms), 1)
        self._stop = threading.Event()
        self._signature: _Signature | None = None
        self._warned = False

    def stop(self) -> None:
        """Ask run() to return; it does within about one step (or one poll wait)."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        """True once stop() was called."""
        return self._stop.is_set()

    def run(self) -> None:
        """Blocking loop until stop(); meant to run in a worker thread. Never raises."""
        self._signature = self._stat_signature()
        while not self._stop.is_set():
            directory = self._path.parent
            try:
                if directory.is_dir():
                    self._watch(directory)
                    continue
            except Exception:  # noqa: BLE001 - a watcher error must never end the dashboard
                # Once loudly (e.g. the inotify watch limit), then quietly while it persists.
                level = logging.DEBUG if self._warned else logging.WARNING
                log.log(level, "watching %s failed; polling instead", directory, exc_info=True)
                self._warned = True
            # No directory (or the watcher failed): poll until it is back.
            if self._stop.wait(self._fallback_s):
                break
            self._poll()

    def _watch(self, directory: Path) -> None:
        """One watchfiles session; returns when stopped or the directory is gone or replaced."""
        identity = file_identity(directory)
        for changes in watchfiles.watch(
            directory,
            watch_filter=self._relevant,
            debounce=self._debounce_ms,
            step=self._step_ms,
            stop_event=self._stop,
            rust_timeout=max(int(self._fallback_s * 1000), 1),
            yield_on_timeout=True,
            raise_interrupt=False,
            recursive=False,
        ):
            if self._stop.is_set():
                return
            if changes:
                self._signature = self._stat_signature()
                self._notify()
            else:
                # Timeout: the fallback poll (filesystems without notifications, missed events),
                # and a watch on a deleted or replaced directory would never fire again.
                self._poll()
                if file_identity(directory) != identity:
                    return
        # watch() returned without stop (a signal): the caller's loop starts a new session.

    def _relevant(self, _change: watchfiles.Change, path: str) -> bool:
        return os.path.basename(path) in self._names

    def _stat_signature(self) -> _Signature:
        """(inode, size, mtime, ctime) of the db and its -wal; None for a missing file."""
        signature: list[tuple[int, int, int, int] | None] = []
        for name in sorted(self._names):
            try:
                st = os.stat(self._path.parent / name)
            except OSError:
                signature.append(None)
            else:
                signature.append((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
        return tuple(signature)

    def _poll(self) -> None:
        signature = self._stat_signature()
        if signature != self._signature:
            self._signature = signature
            self._notify()

    def _notify(self) -> None:
        try:
            self._on_change()
        except Exception:  # noqa: BLE001 - the callback's failure must not stop the watching
            log.exception("on_change callback failed")
