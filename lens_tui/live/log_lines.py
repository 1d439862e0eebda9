"""`LogLines`: the log pane's lines in time order, capped, whatever order they were committed in.

Several processes write one file, each committing its own batches: ids (commit order) then
interleave the processes' lines out of time order. The pane shows them by timestamp (the id
breaks ties, so one writer's lines of one millisecond keep their order), and a line that
arrives late is slotted in where its time puts it. The lines also tally what the pane's
columns depend on: how many services they come from, and the widest level name kept.
"""

from __future__ import annotations

import json
import math
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator

from lens_tui.levels import LEVEL_NAME_KEY, level_label
from lens_tui.store.presence import Presence
from lens_tui.store.records import LogRow

LEVEL_W = 5
"""The level column's width for the stored levels (DEBUG .. ERROR)."""
KEPT_LEVEL_MAX_W = 10
"""The widest a kept level name (CRITICAL, NOTICE, …) widens the level column."""


def kept_level(log: LogRow) -> str:
    """The level to show for a log line: the name it was logged with where the stored level
    folds it (CRITICAL stored as error), else the stored level."""
    attributes = log.attributes
    if not attributes or LEVEL_NAME_KEY not in attributes:
        return log.level
    try:
        decoded = json.loads(attributes)
    except (ValueError, RecursionError):
        return log.level
    return level_label(log.level, decoded)


def _key(log: LogRow) -> tuple[float, int]:
    return (log.timestamp, log.id)


class LogLines:
    """Log rows sorted by (timestamp, id), at most `cap` of them: past it the earliest go."""

    __slots__ = ("_keys", "_rows", "_services", "_widths", "cap")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._rows: list[LogRow] = []
        self._keys: list[tuple[float, int]] = []
        self._services: Counter[str] = Counter()
        """Lines held per service."""
        self._widths: Counter[int] = Counter()
        """Lines held per width of a kept level name wider than LEVEL_W."""

    def __len__(self) -> int:
        return len(self._rows)

    def __bool__(self) -> bool:
        return bool(self._rows)

    def __getitem__(self, index: int) -> LogRow:
        return self._rows[index]

    def __iter__(self) -> Iterator[LogRow]:
        return iter(self._rows)

    # ---- what the columns depend on

    @property
    def mixed_services(self) -> bool:
        """The lines held come from more than one service."""
        return len(self._services) > 1

    @property
    def level_width(self) -> int:
        """Cells for the widest level name held (kept names included, up to a limit)."""
        return max(self._widths, default=LEVEL_W)

    def _tally(self, log: LogRow, step: int) -> None:
        if log.service:
            services = self._services
            services[log.service] += step
            if services[log.service] <= 0:
                del services[log.service]
        if log.attributes and LEVEL_NAME_KEY in log.attributes:
            width = min(len(kept_level(log)), KEPT_LEVEL_MAX_W)
            if width > LEVEL_W:
                widths = self._widths
                widths[width] += step
                if widths[width] <= 0:
                    del widths[width]

    def _retally(self) -> None:
        self._services.clear()
        self._widths.clear()
        for log in self._rows:
            self._tally(log, 1)

    # ---- changes

    def clear(self) -> None:
        """Hold no line."""
        self._rows.clear()
        self._keys.clear()
        self._retally()

    def replace(self, logs: Iterable[LogRow]) -> None:
        """Hold exactly these lines (the newest `cap` of them by time)."""
        rows = sorted(logs, key=_key)[-self.cap :] if self.cap > 0 else []
        self._rows = rows
        self._keys = [_key(log) for log in rows]
        self._retally()

    def insert(self, log: LogRow) -> int:
        """Slot one line in where its time puts it; its index (usually the last)."""
        key = _key(log)
        keys = self._keys
        at = len(keys) if not keys or keys[-1] <= key else bisect_right(keys, key)
        keys.insert(at, key)
        self._rows.insert(at, log)
        self._tally(log, 1)
        return at

    def drop_overflow(self) -> int:
        """Drop the earliest lines beyond the cap; how many went."""
        over = len(self._rows) - self.cap
        if over <= 0:
            return 0
        for log in self._rows[:over]:
            self._tally(log, -1)
        del self._rows[:over]
        del self._keys[:over]
        return over

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
            self._rows = [log for index, log in enumerate(rows) if index not in doomed]
            self._keys = [_key(log) for log in self._rows]
            self._retally()
        return sorted(doomed)

    # ---- look-ups

    def oldest_id(self) -> int | None:
        """The lowest id held: older pages are read below it (ids are the file's order)."""
        return min((log.id for log in self._rows), default=None)

    def index_of(self, log_id: int) -> int | None:
        """Where the line of `log_id` is held, if it is."""
        for index in range(len(self._rows) - 1, -1, -1):
            if self._rows[index].id == log_id:
                return index
        return None
