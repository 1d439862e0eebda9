"""Helpers for the command-line tests: the real CLI in a subprocess, and read-only checks."""

from __future__ import annotations

import fcntl
import logging
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apsw

from lens_tui import tracing

ROOT = Path(__file__).resolve().parents[2]


def user_env(**extra: str) -> dict[str, str]:
    """The environment a user's shell gives `lens-tui`: this checkout's code, no LENS_DB of ours."""
    env = {k: v for k, v in os.environ.items() if k != "LENS_DB"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env.update(extra)
    return env


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m lens_tui ARGS` as a user would (no terminal), capturing both streams."""
    return subprocess.run(
        [sys.executable, "-m", "lens_tui", *args],
        check=False,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=user_env(**(env or {})),
    )


@contextmanager
def traced_logger(db: Path, service: str, name: str) -> Iterator[logging.Logger]:
    """The tracing library writing to `db` and a logger of `name` storing its records there;
    everything flushed and shut down afterwards."""
    tracing.configure(db, service=service, flush_interval=0.02)
    handler = tracing.LogHandler()
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield logger
        tracing.flush()
    finally:
        tracing.shutdown()
        logger.removeHandler(handler)


def read_only(db: Path) -> apsw.Connection:
    """A second, read-only connection on a database (the dashboard's way)."""
    return apsw.Connection(
        f"file:{db}?mode=ro", flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI
    )


def rows(db: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """All rows of one query through a fresh read-only connection."""
    conn = read_only(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def assert_one_line(result: subprocess.CompletedProcess[str], code: int, needle: str) -> str:
    """The run ended with `code` and one stderr line containing `needle`; that line."""
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert needle in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    return lines[0]


@dataclass
class PtyRun:
    """What a command run on a pseudo-terminal did."""

    returncode: int | None
    """None: it was still running at the timeout (and was killed)."""
    output: bytes
    """Every byte it wrote to the terminal."""
    saw: bool
    """Whether the awaited text appeared (the keys were typed then)."""


def run_in_pty(
    *args: str,
    wait_for: bytes | None = None,
    keys: bytes = b"q",
    timeout: float = 60.0,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    size: tuple[int, int] = (120, 32),
) -> PtyRun:
    """`python -m lens_tui ARGS` with stdin, stdout and stderr on a new pseudo-terminal of
    `size` (columns, rows): once `wait_for` (if given) shows up on it, `keys` are typed; then
    it runs to its end (killed after `timeout`)."""
    master, slave = os.openpty()
    columns, lines = size
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    full_env = user_env(TERM="xterm-256color", **(env or {}))
    for name in ("TEXTUAL", "TEXTUAL_DRIVER", "NO_COLOR"):
        full_env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "lens_tui", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=cwd,
        env=full_env,
        close_fds=True,
        start_new_session=True,
    )
    os.close(slave)
    output = bytearray()
    saw = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the program and its children are gone
                    break
                if not chunk:
                    break
                output += chunk
            elif proc.poll() is not None:
                break
            if not saw and wait_for is not None and wait_for in _plain(bytes(output)):
                saw = True
                time.sleep(0.3)  # the screen drawn is not yet the app listening
                os.write(master, keys)
        try:
            code: int | None = proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            code = None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        os.close(master)
    return PtyRun(code, bytes(output), saw)


_ESCAPES = re.compile(
    rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|[=>78])"
)


def _plain(data: bytes) -> bytes:
    """Terminal output without its escape sequences (text drawn in several runs joins up)."""
    return _ESCAPES.sub(b"", data)
