"""The command palette: the dashboard's actions, and a jump to a trace by id prefix."""

from __future__ import annotations

import asyncio
import string
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from lens_tui.text import visible

if TYPE_CHECKING:
    from lens_tui.ui.app import LensApp

ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("Pause / resume live updates", "toggle_pause", "space: hold still; nothing is lost"),
    ("Errors only", "toggle_errors", "e: show only traces with an error"),
    ("Slow traces only", "slower", "d: at least 10ms, 100ms, 1s, 10s, then all again"),
    ("Cycle minimum log level", "cycle_level", "l: debug → info → warn → error"),
    ("Filter traces by root span name", "filter_traces", "/ on the trace list"),
    ("Filter logs by text", "filter_logs", "/ on the log pane"),
    ("Find spans by name", "find_spans", "/ in the waterfall; n / N go through the matches"),
    ("Back to the live top", "live_top", "g: newest trace, clears “N new”"),
    ("Collapse / expand all spans", "toggle_all", "a in the waterfall"),
    ("Collapse fast spans", "threshold", "t in the waterfall: cycles 1ms, 10ms, 100ms, 1s, none"),
    ("Close the open trace", "close_trace", "escape on the trace list"),
    ("Copy the selection", "copy", "c: OSC 52, works over SSH"),
    ("Copy the trace as a text tree", "copy_tree", "y: what `lens-tui show` prints, for an issue or a chat"),
    ("Show keys", "help", "?"),
)
_HEX = frozenset(string.hexdigits)
MIN_ID_PREFIX = 3
"""Hex characters typed before trace ids are looked up."""


class LensCommands(Provider):
    """Offers every dashboard action and, for a hex query, the traces whose id starts with it."""

    @property
    def lens(self) -> LensApp:
        """The dashboard app."""
        return cast("LensApp", self.app)

    def _run(self, action: str) -> None:
        self.lens.call_later(self.lens.run_action, action)

    async def discover(self) -> Hits:
        """All actions, before anything is typed."""
        for title, action, help_text in ACTIONS:
            yield DiscoveryHit(title, lambda a=action: self._run(a), help=help_text)

    async def search(self, query: str) -> Hits:
        """Actions matching the query, then traces whose id starts with it."""
        matcher = self.matcher(query)
        for title, action, help_text in ACTIONS:
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(title), lambda a=action: self._run(a), help=help_text
                )
        prefix = query.strip().lower()
        if len(prefix) >= MIN_ID_PREFIX and set(prefix) <= _HEX:
            reader = await asyncio.to_thread(self.lens.readers.get, "palette")
            found = await asyncio.to_thread(reader.find_trace_ids, prefix, 10)
            for trace_id in found:
                yield Hit(
                    1.0,
                    Content.assemble("Jump to trace ", (visible(trace_id, 64), "bold")),
                    lambda t=trace_id: self.lens.open_trace(t),
                    text=f"Jump to trace {visible(trace_id, 64)}",
                    help="open it in the waterfall",
                )
