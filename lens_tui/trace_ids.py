"""Trace ids for people: the short form to show, and the trace a typed part of an id names.

Our trace ids start with the time (lens_tui/tracing/ids.py: 48 bits of milliseconds, then a
per-process nonce and a counter), and so do UUIDv7 and X-Ray ids, while W3C trace context puts
the random part at the right end. Traces of the same minute share their first 8 hex digits, so
a prefix tells them apart badly; the last digits differ from trace to trace. The short form is
therefore the id's tail, and every id argument accepts a tail as well as a prefix
(docs/decisions.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lens_tui.store.reader import TraceReader
    from lens_tui.store.records import TraceSummary

SHORT_ID_LENGTH = 8
"""The fewest characters of an id to show: 32 bits, which the traces on one screen rarely share."""
LOOKUP_LIMIT = 100_000
"""Most matches counted for a typed part of an id (beyond it: "at least")."""
_ELLIPSES = ("…", "...")


def short_id(trace_id: str, length: int = SHORT_ID_LENGTH) -> str:
    """The last `length` characters of a trace id (the whole id when it is shorter)."""
    return trace_id[-length:] if length > 0 else trace_id


def short_id_length(trace_ids: Iterable[str], minimum: int = SHORT_ID_LENGTH) -> int:
    """The shortest tail length, at least `minimum`, whose tails tell all `trace_ids` apart
    (one length for all, so a column of them lines up; never beyond the longest id)."""
    reversed_ids = sorted({trace_id[::-1] for trace_id in trace_ids})
    if not reversed_ids:
        return minimum
    longest = max(len(r) for r in reversed_ids)
    needed = minimum
    # Sorted reversed, the ids sharing the longest tail with an id are its neighbours.
    for left, right in pairwise(reversed_ids):
        common = 0
        for a, b in zip(left, right, strict=False):  # one may be the longer
            if a != b:
                break
            common += 1
        needed = max(needed, common + 1)
    return min(needed, longest)


@dataclass(frozen=True, slots=True)
class IdMatch:
    """What a typed part of a trace id names: one trace, none, or several."""

    trace_id: str | None
    """The trace, when exactly one matches."""
    candidates: tuple[TraceSummary, ...]
    """When several match: the first few in id order (the earliest, for time-ordered ids),
    listed by start time."""
    total: int
    """How many traces match, up to LOOKUP_LIMIT."""
    at_least: bool = False
    """True when `total` stopped at the limit: more may match."""

    @property
    def more(self) -> int:
        """Matches beyond the candidates listed."""
        return max(self.total - len(self.candidates), 0)


def find_trace(
    reader: TraceReader, text: str, *, shown: int = 10, limit: int = LOOKUP_LIMIT
) -> IdMatch:
    """The trace that `text` names: a whole id, a prefix, or a tail (as the screen shows it).

    A leading `…` (or `...`) means a tail only, a trailing one a prefix only. A whole id wins
    even when it is also the start or end of another. Ambiguous: up to `shown` candidates."""
    wanted = text.strip()
    tail_only = wanted.startswith(_ELLIPSES)
    prefix_only = wanted.endswith(_ELLIPSES) and not tail_only
    for mark in _ELLIPSES:
        wanted = wanted.removeprefix(mark).removesuffix(mark)
    wanted = wanted.strip()
    if not wanted:
        return IdMatch(None, (), 0)
    found: list[str] = []
    if not tail_only:
        found += reader.find_trace_ids(wanted, limit=limit)
        if wanted in found or wanted.lower() in found:
            return IdMatch(wanted if wanted in found else wanted.lower(), (), 1)
    if not prefix_only:
        found += reader.find_trace_ids(wanted, limit=limit, tail=True)
    unique = list(dict.fromkeys(found))
    if len(unique) == 1:
        return IdMatch(unique[0], (), 1)
    if not unique:
        return IdMatch(None, (), 0)
    unique.sort()
    listed = reader.summaries(unique[: max(shown, 0)]) if shown > 0 else []
    return IdMatch(
        None, tuple(listed[:shown]), min(len(unique), limit), at_least=len(unique) >= limit
    )
