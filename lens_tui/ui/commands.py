"""The command palette: the dashboard's actions, and a jump to a trace by id prefix."""

from __future__ import annotations

import asyncio
import string
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from lens_tui.text import visible
from lens_tui.ui.keys import Key, palette_entries
from lens_tui.ui.workers import Job

if TYPE_CHECKING:
    from lens_tui.ui.app import LensApp

_HEX = frozenset(string.hexdigits)
MIN_ID_PREFIX = 3
"""Hex characters typed before trace ids are looked up."""


class LensCommands(Provider):
    """Offers every dashboard action and, for a hex query, the traces whose id starts with it."""

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
        """Actions matching the query, then traces whose id starts with it."""
        matcher = self.matcher(query)
        for title, help_text, key in palette_entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(title), lambda k=key: self._run(k), help=help_text
                )
        prefix = query.strip().lower()
        if len(prefix) >= MIN_ID_PREFIX and set(prefix) <= _HEX:
            reader = await asyncio.to_thread(self.lens.dashboard.readers.get, Job.PALETTE)
            found = await asyncio.to_thread(reader.find_trace_ids, prefix, 10)
            for trace_id in found:
                yield Hit(
                    1.0,
                    Content.assemble("Jump to trace ", (visible(trace_id, 64), "bold")),
                    lambda t=trace_id: self.lens.dashboard.open_trace(t),
                    text=f"Jump to trace {visible(trace_id, 64)}",
                    help="open it in the waterfall",
                )
