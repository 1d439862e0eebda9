"""The writer and the life of its process: os.fork(), multiprocessing children, SIGTERM, exit.

A queued tail is lost when the process ends without a flush (SIGTERM's default action and
os._exit skip atexit), and a child forked while the writer thread is inside SQLite inherits
SQLite's lock bookkeeping: these hooks flush on the way out and fork only between batches.
"""

from __future__ import annotations

import atexit
import os
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import apsw

if TYPE_CHECKING:
    from lens_tui.tracing.writer import TraceWriter

FORK_WAIT_S = 2.0
"""The longest os.fork() waits for the writer thread to leave SQLite (see ForkLock)."""

SIGTERM_FLUSH_S = 2.0
"""The longest SIGTERM waits for the queued tail to be written before the process ends."""

_inherited: list[apsw.Connection] = []
"""Connections inherited across fork: kept referenced so the child never closes them."""


def keep_inherited(conn: apsw.Connection) -> None:
    """Keep a connection inherited from the parent referenced for good: closing it in the child
    would end the parent's locks and statements on the same file descriptors."""
    _inherited.append(conn)


class ForkLock:
    """Held by the writer thread while it uses SQLite, and taken around os.fork().

    A child forked while this process holds a SQLite lock inherits SQLite's in-process lock
    bookkeeping, a write lock "held" by a connection that does not exist there, and its own
    writer is refused forever (tests/reliability/test_13_context.py).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held_for_fork = False

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self._lock.release()

    def hold_for_fork(self) -> bool:
        """Wait (at most FORK_WAIT_S) until the writer thread is outside SQLite; True if it is.

        A batch takes milliseconds; a longer wait means the database is locked by another
        process, and then the writer holds no lock while it waits."""
        self._held_for_fork = self._lock.acquire(timeout=FORK_WAIT_S)
        return self._held_for_fork

    def release_after_fork(self) -> None:
        """In the parent after os.fork(): let the writer thread go on."""
        if self._held_for_fork:
            self._held_for_fork = False
            self._lock.release()


class ProcessHooks:
    """Ties the process-wide writer (whatever `current()` returns) to the process's life.

    `shutdown(timeout)` flushes and stops it. Registered once: the os.fork() hooks at creation,
    interpreter exit and SIGTERM by `attach` when a writer is configured.
    """

    def __init__(
        self, current: Callable[[], TraceWriter | None], shutdown: Callable[[float], bool]
    ) -> None:
        self._current = current
        self._shutdown = shutdown
        self._forking: TraceWriter | None = None
        self._exit_registered = False
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(
                before=self._before_fork,
                after_in_parent=self._after_fork_in_parent,
                after_in_child=self._after_fork_in_child,
            )

    def install_sigterm_flush(self) -> None:
        """SIGTERM's default action skips atexit, losing the queued tail: flush first, then die.

        Only from the main thread, and only while SIGTERM has its default action (a handler of
        the application's own stays)."""
        if threading.current_thread() is not threading.main_thread():
            return
        try:
            if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
                signal.signal(signal.SIGTERM, self._on_sigterm)
        except (ValueError, OSError, AttributeError):
            pass

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        try:
            self._shutdown(SIGTERM_FLUSH_S)
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    def flush_at_exit(self) -> None:
        """Flush and stop the writer at interpreter exit (registered once)."""
        if not self._exit_registered:
            atexit.register(self._shutdown)
            self._exit_registered = True

    def flush_multiprocessing_children(self, writer: TraceWriter) -> None:
        """Have a multiprocessing child flush `writer` on its way out, which is os._exit (no atexit).

        Registered with `register_after_fork` because a multiprocessing child clears its
        finalizer registry after os.fork's own hooks ran, so a Finalize made there would be lost.
        """
        try:
            import multiprocessing.util as mp_util

            mp_util.register_after_fork(writer, self._mp_child_exit)
        except Exception:
            pass

    def _mp_child_exit(self, writer: TraceWriter) -> None:
        if writer is self._current():
            import multiprocessing.util as mp_util

            mp_util.Finalize(writer, writer.shutdown, exitpriority=100)

    def _before_fork(self) -> None:
        self._forking = self._current()
        if self._forking is not None:
            self._forking.before_fork()

    def _after_fork_in_parent(self) -> None:
        writer, self._forking = self._forking, None
        if writer is not None:
            writer.after_fork_in_parent()

    def _after_fork_in_child(self) -> None:
        writer = self._current()
        if writer is not None:
            writer.after_fork_in_child()
