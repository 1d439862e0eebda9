"""The README's OpenTelemetry snippet, run as it is written: its spans and its stdlib log
records arrive in the database, the log tied to its span."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from .support import ROOT, rows, user_env


def readme_snippet() -> str:
    """The first Python block under the README's OpenTelemetry heading."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## OpenTelemetry in and out", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "no Python block in the README's OpenTelemetry section"
    return match.group(1)


def test_the_snippet_stores_a_span_and_a_log_tied_to_it(tmp_path: Path) -> None:
    code = readme_snippet()
    assert "LensLogExporter(" in code  # imported and wired, not only imported
    result = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=user_env(),
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Deprecat" not in result.stderr, result.stderr
    db = tmp_path / "traces.db"
    spans = rows(db, "SELECT trace_id, span_id, name, service FROM spans")
    assert len(spans) == 1, spans
    trace_id, span_id, name, service = spans[0]
    assert service == "checkout"
    logs = rows(db, "SELECT level, message, trace_id, span_id, service FROM logs")
    assert len(logs) == 1, logs
    level, message, log_trace, log_span, log_service = logs[0]
    assert level == "warn" and message
    assert (log_trace, log_span, log_service) == (trace_id, span_id, "checkout")
    assert rows(db, "SELECT root_span_name FROM traces WHERE trace_id = ?", trace_id) == [(name,)]
