"""The command palette: the dashboard's actions, and a jump to a trace by a part of its id."""

from __future__ import annotations

import asyncio
import string
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from lens_tui import humanize as fmt
from lens_tui.store.reader import TraceReader
from lens_tui.store.records import TraceSummary
from lens_tui.text import visible
from lens_tui.trace_ids import find_trace, short_id, short_id_length
from lens_tui.ui.keys import Key, palette_entries
from lens_tui.ui.workers import Job

if TYPE_CHECKING:
    from lens_tui.ui.app import LensApp

_HEX = frozenset(string.hexdigits)
_ELLIPSES = ("…", "...")
MIN_ID_PART = 3
"""Hex characters typed before trace ids are looked up."""
CANDIDATES = 10
"""Traces listed when a part of an id matches several."""


def id_part(query: str) -> str | None:
    """The query as a part of a trace id (a prefix, or a tail as the screen shows it, either
    marked by `…`), or None when it cannot be one."""
    text = query.strip()
    bare = text
    for mark in _ELLIPSES:
        bare = bare.removeprefix(mark).removesuffix(mark)
    if len(bare) < MIN_ID_PART or not set(bare) <= _HEX:
        return None
    return text


def look_up(reader: TraceReader, part: str) -> tuple[list[TraceSummary], int]:
    """The traces `part` names (whole id, prefix or tail; `find_trace`): the one, or the
    first candidates, and how many match in all. Blocking: run it off the event loop."""
    match = find_trace(reader, part, shown=CANDIDATES)
    if match.trace_id is not None:
        return reader.summaries([match.trace_id]), 1
    return list(match.candidates), match.total


class LensCommands(Provider):
    """Offers every dashboard action and, for a part of a trace id, the traces it names."""

    @property
    def lens(self) -> LensApp:
        """The dashboard app."""
        return cast("LensApp", self.app)

    def _run(self, key: Key) -> None:
        """Run the key's action where it belongs (the dashboard, not the palette's screen)."""
        lens = self.lens
        targets = {
            "screen": lens.dashboard,
            "traces": lens.dashboard.traces,
            "waterfall": lens.waterfall,
        }
        lens.call_later(lens.run_action, key.target_action, None, targets)

    async def discover(self) -> Hits:
        """All actions, before anything is typed."""
        for title, help_text, key in palette_entries():
            yield DiscoveryHit(title, lambda k=key: self._run(k), help=help_text)

    async def search(self, query: str) -> Hits:
        """Actions matching the query, then the traces a part of an id names."""
        matcher = self.matcher(query)
        for title, help_text, key in palette_entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(title), lambda k=key: self._run(k), help=help_text
                )
        part = id_part(query)
        if part is None:
            return
        reader = await asyncio.to_thread(self.lens.dashboard.readers.get, Job.PALETTE)
        try:
            found, total = await asyncio.to_thread(look_up, reader, part)
        except asyncio.CancelledError:
            # The query changed: the palette drops this search; a tail reads every trace id,
            # so stop that read too instead of letting the next one queue behind it.
            reader.interrupt()
            raise
        length = short_id_length(t.trace_id for t in found)
        help_text = "open it in the waterfall"
        if total > 1:
            help_text = f"one of {fmt.count(total)} traces whose id starts or ends so"
            if total > len(found):
                help_text += f" (the first {len(found)} listed: type more of the id)"
        for summary in found:
            yield self._jump(summary, short_id(summary.trace_id, length), help_text)

    def _jump(self, summary: TraceSummary, shown: str, help_text: str) -> Hit:
        name = visible(summary.root_span_name or "(no root span)", 60)
        when = fmt.clock_time(summary.started_at)
        title = Content.assemble(
            "Jump to trace ", (name, "bold"), " · ", (visible(shown), "dim"), f" · {when}"
        )
        return Hit(
            1.0,
            title,
            lambda t=summary.trace_id, n=summary.root_span_name: self.lens.dashboard.open_trace(
                t, name=n
            ),
            text=f"Jump to trace {name} {visible(summary.trace_id, 64)}",
            help=help_text,
        )
