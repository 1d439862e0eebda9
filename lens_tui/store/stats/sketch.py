"""A latency sketch: counts of durations in logarithmic buckets, mergeable and with exact removal.

The bucket mapping is DDSketch's logarithmic one: a value x > 0 goes to bucket
`ceil(log(x) / log(gamma))` with `gamma = (1 + a) / (1 - a)`, and a bucket is represented by
`2 * gamma**i / (gamma + 1)`, which is within a relative `a` of every value in it. A quantile read
from the counts is the bucket holding the value of that rank, so it is within `a` of the exact
nearest-rank answer. Unlike the `ddsketch` package's sketch, counts can be taken out again:
a trace that changes (running -> done, an error added) moves between buckets, and a time bucket
that leaves a sliding window is subtracted from the window's total (docs/decisions.md).
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left
from collections.abc import Sequence
from itertools import accumulate

RELATIVE_ERROR = 0.01
"""`a`: every quantile is within 1 % of the exact nearest-rank value (values above
`ZERO_BELOW_MS`)."""
ZERO_BELOW_MS = 1e-3
"""Durations at or below one microsecond (and negative ones: skewed clocks) count as 0 ms."""
ZERO_BUCKET = -(2**31)
"""The bucket index of zero durations; below every other index."""

_GAMMA = (1.0 + RELATIVE_ERROR) / (1.0 - RELATIVE_ERROR)
LOG_GAMMA = math.log(_GAMMA)
"""`log(gamma)`: a value's bucket is `ceil(log(value) / LOG_GAMMA)` (SQL seeds use the same)."""
_INV_LOG_GAMMA = 1.0 / LOG_GAMMA
_log = math.log
_ceil = math.ceil


def bucket_of(value_ms: float) -> int:
    """The bucket index of a duration."""
    if value_ms <= ZERO_BELOW_MS:
        return ZERO_BUCKET
    return _ceil(_log(value_ms) * _INV_LOG_GAMMA)


def bucket_value(index: int) -> float:
    """The duration that represents bucket `index` (within RELATIVE_ERROR of all in it)."""
    if index == ZERO_BUCKET:
        return 0.0
    return 2.0 * math.exp(index * LOG_GAMMA) / (_GAMMA + 1.0)


def nearest_rank(q: float, count: int) -> int:
    """The 1-based nearest rank of quantile `q` (0 < q <= 1) among `count` values:
    ceil(q * count), at least 1. Computed on integer percent-mille so 0.95 * 20 is 19, not
    19.000000000000004 rounded up to 20."""
    permille = round(q * 100_000)
    return max(1, -(-permille * count // 100_000))


class LogHistogram:
    """Counts per logarithmic bucket in one dense array (8 bytes a bucket), plus zeros."""

    __slots__ = ("_counts", "_offset", "zeros", "total")

    def __init__(self) -> None:
        self._counts = array("q")
        self._offset = 0
        self.zeros = 0
        self.total = 0
        """How many values are counted."""

    def add(self, index: int, count: int = 1) -> None:
        """Count `count` values in bucket `index` (a negative count takes them out again)."""
        self.total += count
        if index == ZERO_BUCKET:
            self.zeros += count
            return
        counts = self._counts
        at = index - self._offset
        if 0 <= at < len(counts):
            counts[at] += count
            return
        self._extend(index)
        self._counts[index - self._offset] += count

    def _extend(self, index: int) -> None:
        counts = self._counts
        if not counts:
            self._offset = index
            counts.append(0)
        elif index < self._offset:
            self._counts = array("q", bytes(8 * (self._offset - index))) + counts
            self._offset = index
        else:
            counts.extend(array("q", bytes(8 * (index - self._offset - len(counts) + 1))))

    def merge(self, other: LogHistogram, sign: int = 1) -> None:
        """Add `other`'s counts (`sign=-1`: subtract them, e.g. a time bucket leaving a window)."""
        self.total += sign * other.total
        self.zeros += sign * other.zeros
        if not other._counts:
            return
        self.add(other._offset, 0)
        self.add(other._offset + len(other._counts) - 1, 0)
        counts, at = self._counts, other._offset - self._offset
        for i, value in enumerate(other._counts):
            if value:
                counts[at + i] += sign * value

    def quantiles(self, qs: Sequence[float]) -> list[float | None]:
        """The estimated nearest-rank value of each quantile in `qs` (ascending, 0 < q <= 1);
        None when nothing is counted."""
        total = self.total
        if total <= 0:
            return [None] * len(qs)
        zeros = self.zeros
        # Running sums in C, then a binary search per rank: the overview reads a p95 per time
        # bucket per route each refresh, and a Python walk over the slots cost 80 µs a read.
        running = list(accumulate(self._counts))
        top = running[-1] if running else 0
        out: list[float | None] = []
        for q in qs:
            rank = nearest_rank(q, total)
            if rank <= zeros:
                out.append(0.0)
            elif rank - zeros <= top:
                out.append(bucket_value(self._offset + bisect_left(running, rank - zeros)))
            else:  # counts out of step with total: never past the top value
                out.append(self.max_value())
        return out

    def max_value(self) -> float | None:
        """The estimated largest value counted; None when nothing is."""
        counts = self._counts
        for i in range(len(counts) - 1, -1, -1):
            if counts[i] > 0:
                return bucket_value(self._offset + i)
        return 0.0 if self.zeros > 0 else None

    def buckets(self) -> int:
        """How many bucket slots the array holds (its memory is 8 bytes each)."""
        return len(self._counts)
