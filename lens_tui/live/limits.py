"""How much the dashboard holds in memory and reads at once: the bounds that keep it flat."""

from __future__ import annotations

TRACE_CAP = 5_000
"""Traces the list keeps in memory (the newest)."""
OLDER_PAGE = 500
"""Traces paged in when the cursor reaches the bottom of the list."""
LOG_CAP = 10_000
"""Log lines the log pane keeps in memory."""
LOG_BATCH = 5_000
"""New logs read per refresh; a full batch asks for another refresh right away."""
LOG_LOAD_LIMIT = 2_000
"""Log lines loaded when the log pane's scope changes (live lines add up to its cap)."""
OLDER_LOG_PAGE = 2_000
"""Older log lines paged in when the user reaches the oldest line held (up to its cap)."""
