"""`HeaderBar`: one line with the database, LIVE/PAUSED, rates, last write age, drops, new rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from lens_tui import humanize as fmt
from lens_tui.live.rates import RateMeter
from lens_tui.store.records import StoreStats
from lens_tui.text import visible
from lens_tui.ui.cells import component_style


class HeaderBar(Widget):
    """The dashboard's status line; setting one of its reactives redraws it."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "header-bar--brand",
        "header-bar--live",
        "header-bar--paused",
        "header-bar--waiting",
        "header-bar--muted",
        "header-bar--warning",
        "header-bar--new",
    }

    DEFAULT_CSS = """
    HeaderBar {
        height: 1;
        background: $panel;
        color: $text;
        & > .header-bar--brand { color: $accent; text-style: bold; }
        & > .header-bar--live { color: $success; text-style: bold; }
        & > .header-bar--paused { color: $warning; text-style: bold reverse; }
        & > .header-bar--waiting { color: $warning; text-style: italic; }
        & > .header-bar--muted { color: $text-muted; }
        & > .header-bar--warning { color: $error; text-style: bold; }
        & > .header-bar--new { color: $accent; text-style: bold; }
    }
    """

    waiting: reactive[str | None] = reactive("opening…")
    """Why nothing is shown yet, or None once the database is open."""
    paused = reactive(False)
    """PAUSED instead of LIVE."""
    queued = reactive(0)
    """Rows held back while paused."""
    held = reactive("")
    """What those rows are ("67 new traces, 3 updated, 1,204 logs")."""
    new_count = reactive(0)
    """Traces that arrived above the trace-list cursor."""

    def __init__(
        self,
        db_label: str,
        clock: Callable[[], float],
        *,
        receiving: str | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.db_label = visible(db_label, 120)
        """The database as the user named it."""
        self.receiving = visible(receiving, 120) if receiving else None
        """Where the OTLP receiver of `--otlp` listens (None without one)."""
        self._clock = clock
        self.stats: StoreStats | None = None
        self._traces_rate = RateMeter()
        self._spans_rate = RateMeter()

    def set_stats(self, stats: StoreStats) -> None:
        """New totals from the store."""
        now = self._clock()
        self.stats = stats
        self._traces_rate.add(now, stats.traces)
        self._spans_rate.add(now, stats.spans)
        self.refresh()

    def reset(self) -> None:
        """The database was replaced: forget rates and totals."""
        self.stats = None
        self._traces_rate.clear()
        self._spans_rate.clear()
        self.refresh()

    def render(self) -> Text:
        """The status line (a `Text` built from pieces: the database name is never markup)."""
        now = self._clock()

        def styled(text: str, component: str) -> tuple[str, Style]:
            return (text, component_style(self, f"header-bar--{component}"))

        sep = styled(" · ", "muted")
        parts: list[tuple[str, Style] | str] = [styled(" ◆ lens ", "brand"), self.db_label, "  "]
        if self.waiting is not None:
            parts.append(styled(visible(self.waiting, 200), "waiting"))
            return Text.assemble(*parts, no_wrap=True, overflow="ellipsis")
        if self.paused:
            parts.append(styled(" ❚❚ PAUSED ", "paused"))
            if self.queued:
                held = self.held or f"{fmt.count(self.queued)} rows"
                parts.append(styled(f" {held} held", "warning"))
        else:
            parts.append(styled("● LIVE", "live"))
        if self.receiving is not None:
            parts += [sep, styled("receiving OTLP on ", "muted"), self.receiving]
        parts += [
            "  ",
            fmt.rate(self._traces_rate.rate(now)),
            styled(" traces/s", "muted"),
            sep,
            fmt.rate(self._spans_rate.rate(now)),
            styled(" spans/s", "muted"),
        ]
        stats = self.stats
        if stats is not None:
            last = None if stats.last_write_at is None else max(now - stats.last_write_at, 0.0)
            parts += [sep, styled("write ", "muted"), fmt.age(last)]
            if stats.dropped > 0:
                parts += [sep, styled(f"⚠ {fmt.count(stats.dropped)} dropped", "warning")]
        if self.new_count:
            parts += [sep, styled(f"↑ {fmt.count(self.new_count)} new (g)", "new")]
        return Text.assemble(*parts, no_wrap=True, overflow="ellipsis")
