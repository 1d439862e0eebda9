"""Traces and spans per second from successive store totals (pure, clock passed in)."""

from __future__ import annotations

from collections import deque

WINDOW_MS = 5_000.0
"""Rates average over about this long."""


class RateMeter:
    """A per-second rate of a growing total over a sliding window of samples."""

    def __init__(self, window_ms: float = WINDOW_MS) -> None:
        self._window = window_ms
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, now_ms: float, total: int) -> None:
        """Record the total at a moment."""
        samples = self._samples
        if samples and total < samples[-1][1]:
            samples.clear()  # retention pruned the oldest rows: start over rather than go negative
        samples.append((now_ms, total))
        self._trim(now_ms)

    def _trim(self, now_ms: float) -> None:
        samples = self._samples
        # Keep one sample at or before the window's start so the window stays covered.
        while len(samples) > 1 and samples[1][0] <= now_ms - self._window:
            samples.popleft()

    def rate(self, now_ms: float) -> float | None:
        """Per second over the window ending now; None until there is time to measure."""
        self._trim(now_ms)
        samples = self._samples
        if not samples:
            return None
        first_t, first_total = samples[0]
        elapsed = now_ms - first_t
        if elapsed < 500:
            return None
        return max(samples[-1][1] - first_total, 0) * 1000.0 / elapsed

    def clear(self) -> None:
        """Forget every sample (the database was replaced)."""
        self._samples.clear()
