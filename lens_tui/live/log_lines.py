"""`LogLines`: the log pane's lines in time order, capped, whatever order they were committed in.

Several processes write one file, each committing its own batches: ids (commit order) then
interleave the processes' lines out of time order. The pane shows them by timestamp (the id
breaks ties, so one writer's lines of one millisecond keep their order), and a line that
arrives late is slotted in where its time puts it.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator

from lens_tui.store.presence import Presence
from lens_tui.store.records import LogRow


def _key(log: LogRow) -> tuple[float, int]:
    return (log.timestamp, log.id)


class LogLines:
    """Log rows sorted by (timestamp, id), at most `cap` of them: past it the earliest go."""

    __slots__ = ("_keys", "_rows", "cap")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._rows: list[LogRow] = []
        self._keys: list[tuple[float, int]] = []

    def __len__(self) -> int:
        return len(self._rows)

    def __bool__(self) -> bool:
        return bool(self._rows)

    def __getitem__(self, index: int) -> LogRow:
        return self._rows[index]

    def __iter__(self) -> Iterator[LogRow]:
        return iter(self._rows)

    def clear(self) -> None:
        """Hold no line."""
        self._rows.clear()
        self._keys.clear()

    def replace(self, logs: Iterable[LogRow]) -> None:
        """Hold exactly these lines (the newest `cap` of them by time)."""
        rows = sorted(logs, key=_key)[-self.cap :] if self.cap > 0 else []
        self._rows = rows
        self._keys = [_key(log) for log in rows]

    def insert(self, log: LogRow) -> int:
        """Slot one line in where its time puts it; its index (usually the last)."""
        key = _key(log)
        keys = self._keys
        at = len(keys) if not keys or keys[-1] <= key else bisect_right(keys, key)
        keys.insert(at, key)
        self._rows.insert(at, log)
        return at

    def drop_overflow(self) -> int:
        """Drop the earliest lines beyond the cap; how many went."""
        over = len(self._rows) - self.cap
        if over <= 0:
            return 0
        del self._rows[:over]
        del self._keys[:over]
        return over

    def oldest_id(self) -> int | None:
        """The lowest id held: older pages are read below it (ids are the file's order)."""
        return min((log.id for log in self._rows), default=None)

    def index_of(self, log_id: int) -> int | None:
        """Where the line of `log_id` is held, if it is."""
        for index in range(len(self._rows) - 1, -1, -1):
            if self._rows[index].id == log_id:
                return index
        return None

    def drop_gone(self, presence: Presence) -> list[int]:
        """Drop the lines `presence` says are not in the file any more; the indices they had,
        ascending. Cheap when none is: the lines older than the oldest log left come first."""
        rows = self._rows
        earlier = bisect_left(self._keys, (presence.oldest_log, -math.inf))
        doomed = {i for i in range(earlier) if presence.log_gone(rows[i].id, rows[i].timestamp)}
        for log_id in presence.missing_logs:
            index = self.index_of(log_id)
            if index is not None:
                doomed.add(index)
        if doomed:
            self.remove_at(doomed)
        return sorted(doomed)

    def remove_at(self, indices: set[int]) -> None:
        """Drop the lines at `indices`."""
        self._rows = [log for index, log in enumerate(self._rows) if index not in indices]
        self._keys = [_key(log) for log in self._rows]
