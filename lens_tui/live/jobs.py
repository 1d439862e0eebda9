"""`SingleFlight`: at most one background job of a kind, later requests folded into one rerun."""

from __future__ import annotations

from collections.abc import Callable


class SingleFlight:
    """Runs `start(force)` when idle; requests while busy coalesce into exactly one more run.

    Used on the event loop only. Thread workers cannot be interrupted, so "exclusive" workers
    may overlap; the live refresh must never overlap (it advances tail marks) nor drop a result.
    """

    def __init__(self, start: Callable[[bool], None]) -> None:
        self._start = start
        self.running = False
        self._again = False
        self._force = False

    def request(self, force: bool = False) -> None:
        """Run now, or once more after the current run (`force`: even if nothing seems changed)."""
        if self.running:
            self._again = True
            self._force = self._force or force
            return
        self.running = True
        self._start(force)

    def done(self) -> None:
        """The current run finished (or failed): start the folded rerun if one was asked for."""
        self.running = False
        if self._again:
            force, self._again, self._force = self._force, False, False
            self.request(force)

    def abandon(self) -> None:
        """The start function declined to run: idle again, a folded rerun forgotten."""
        self.running = False
        self._again = False
        self._force = False
