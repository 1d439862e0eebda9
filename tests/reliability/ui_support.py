"""Shared helpers for the dashboard-side reliability cases (no tests in this module).

A writer connection that can store raw, invalid text; the dashboard run for real in a
pseudo-terminal with the bytes it writes captured; a strict reader of those bytes; and the
in-process Pilot helpers from tests/ui.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apsw

from lens_tui import schema
from lens_tui.text import visible

from .conftest import child_env

T0 = 1_700_000_000_000.0
"""Epoch ms of the first written trace in the hand-built databases."""


class RawText(bytes):
    """Bytes to store as TEXT as they are (invalid UTF-8 included), not as a BLOB."""


def writer(path: Path) -> apsw.Connection:
    """A writing connection in WAL mode with the schema in place (a second process's view)."""
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA journal_mode=WAL").fetchall()
    conn.set_busy_timeout(5000)
    schema.migrate(conn)
    return conn


def insert(conn: apsw.Connection, table: str, **values: Any) -> None:
    """INSERT one row; a RawText value is stored with CAST(? AS TEXT), bytes as a BLOB."""
    marks = ["CAST(? AS TEXT)" if isinstance(v, RawText) else "?" for v in values.values()]
    conn.execute(
        f'INSERT INTO "{table}" ({", ".join(values)}) VALUES ({", ".join(marks)})',
        tuple(bytes(v) if isinstance(v, RawText) else v for v in values.values()),
    )


def add_trace(
    conn: apsw.Connection,
    trace_id: str,
    name: Any,
    start: float,
    *,
    spans: int = 1,
    service: Any = "svc",
    updated_at: float | None = None,
) -> None:
    """A finished trace of `spans` spans (the root named `name`), in its own transaction."""
    stamp = updated_at if updated_at is not None else time.time() * 1000
    conn.execute("BEGIN IMMEDIATE")
    insert(
        conn,
        "traces",
        trace_id=trace_id,
        root_span_name=name,
        source="python",
        started_at=start,
        ended_at=start + 5,
        duration_ms=5.0,
        root_span_id=f"{0:016x}",
        service=service,
        status="ok",
        span_count=spans,
        error_count=0,
        updated_at=stamp,
    )
    for n in range(spans):
        insert(
            conn,
            "spans",
            span_id=f"{trace_id[-8:]}{n:08x}",
            trace_id=trace_id,
            parent_span_id=None if n == 0 else f"{trace_id[-8:]}{0:08x}",
            name=name if n == 0 else f"child {n}",
            started_at=start + n * 0.01,
            duration_ms=1.0,
            status="ok",
            service=service,
            updated_at=stamp,
        )
    conn.execute("COMMIT")


# --------------------------------------------------------------------------- the real terminal


@dataclass
class PtyRun:
    """What a program wrote to its terminal, how it ended, and what it reported."""

    output: bytes
    returncode: int | None
    elapsed: float
    report: dict[str, Any]
    sent_at: float | None = None
    """Seconds from the start until `keys` were typed (None if never)."""
    ended_at: float | None = None
    """Seconds from the start until the terminal's last writer closed it (the program ended)."""
    modes_before: int = 0
    modes_after: int = 0
    """The terminal's local modes (termios lflag) before the program and after it ended."""


def run_in_pty(
    script: Path,
    *args: str,
    report: Path,
    size: tuple[int, int] = (200, 60),
    timeout: float = 40.0,
    keys: bytes = b"",
    keys_when: Path | None = None,
) -> PtyRun:
    """Run `python script args` with stdin/stdout/stderr on a new pseudo-terminal of `size`
    (columns, rows) and capture every byte it writes until it exits; the script writes its
    findings as JSON to `report`. `keys` are typed once the file `keys_when` exists. Killed
    (and the test failed by the caller) after `timeout`."""
    master, slave = os.openpty()
    columns, rows = size
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    modes_before = termios.tcgetattr(slave)[3]
    env = child_env(TERM="xterm-256color", COLORTERM="truecolor")
    for name in ("TEXTUAL", "TEXTUAL_DRIVER", "TEXTUAL_DEBUG", "NO_COLOR"):
        env.pop(name, None)
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, str(script), *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        close_fds=True,
        start_new_session=True,  # the pty becomes its controlling terminal
    )
    os.close(slave)
    output = bytearray()
    deadline = started + timeout
    sent_at: float | None = None
    ended_at: float | None = None
    modes_after = 0
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.killpg(proc.pid, signal.SIGKILL)
                break
            if keys and sent_at is None and keys_when is not None and keys_when.exists():
                os.write(master, keys)
                sent_at = time.monotonic() - started
            ready, _, _ = select.select([master], [], [], min(left, 0.05 if keys else 0.5))
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every slave end is closed, the program is gone
                break
            if not chunk:
                break
            output += chunk
        ended_at = time.monotonic() - started
        modes_after = termios.tcgetattr(master)[3]
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    finally:
        os.close(master)
    elapsed = time.monotonic() - started
    data = json.loads(report.read_text()) if report.exists() else {}
    return PtyRun(
        bytes(output), proc.returncode, elapsed, data, sent_at, ended_at, modes_before, modes_after
    )


_TEXTUAL_SEQUENCES = re.compile(
    rb"""
      \x1b\[[0-9;]*m                    # SGR colours and attributes
    | \x1b\[[0-9]+;[0-9]+H              # cursor position
    | \x1b\[\?[0-9]+[hl]                # private modes: mouse, alt screen, paste, focus, wrap
    | \x1b\[\?[0-9]+\$p                 # DECRQM: does the terminal support a mode?
    | \x1b\[>[0-9]+u | \x1b\[<u         # kitty keyboard protocol push / pop
    | \x1b\]22;[a-z-]+\x07              # OSC 22: pointer shape
    | \x1b\]52;c;[A-Za-z0-9+/=]*\x07    # OSC 52: the app's own copy (base64 only)
    | \r\n
    """,
    re.X,
)
"""Every escape sequence and control byte Textual 8.2 writes for this dashboard (read from a
clean run). Anything else in the output came from data or is new: both fail the test."""

_UNSAFE_CHARS = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
    "\ufff9-\ufffb]"
)


def foreign_controls(output: bytes) -> list[str]:
    """Control characters and escape sequences in `output` that Textual did not write itself
    (empty when the terminal only saw the app's own sequences and printable text)."""
    rest = _TEXTUAL_SEQUENCES.sub(b"", output)
    try:
        text = rest.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [f"invalid UTF-8 at {exc.start}: {rest[max(exc.start - 20, 0) : exc.end + 20]!r}"]
    found = []
    for match in _UNSAFE_CHARS.finditer(text):
        found.append(repr(text[max(match.start() - 15, 0) : match.end() + 25]))
    return found


def clipboard_writes(output: bytes) -> list[str]:
    """The texts the app put on the clipboard with OSC 52 (base64 decoded)."""
    import base64

    return [
        base64.b64decode(m).decode("utf-8", "replace")
        for m in re.findall(rb"\x1b\]52;c;([A-Za-z0-9+/=]*)\x07", output)
    ]


def unsafe_in(text: str, *, keep_newlines: bool = True) -> list[str]:
    """Characters `visible()` would replace, found in `text` (newlines allowed if asked)."""
    return [c for c in text if visible(c, keep_newlines=keep_newlines) != c]
