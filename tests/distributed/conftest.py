"""Real processes on loopback: services run by uvicorn (tests/distributed/services.py) and
`lens-tui otlp`, all writing one trace database, which a second, read-only connection checks."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import apsw
import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("httpx")
pytest.importorskip("starlette")

ROOT = Path(__file__).resolve().parents[2]
SERVICES = Path(__file__).with_name("services.py")
T = TypeVar("T")


def read(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Rows of one query on a fresh read-only connection (the dashboard's way), as dicts."""
    if not path.exists():
        return []
    conn = apsw.Connection(
        f"file:{path}?mode=ro", flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI
    )
    try:
        conn.setbusytimeout(2000)
        cursor = conn.execute(sql, params)
        try:
            names = [d[0] for d in cursor.getdescription()]
        except apsw.ExecutionCompleteError:
            return []
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    except apsw.SQLError:  # no tables yet: nobody has written
        return []
    finally:
        conn.close()


def wait_for(probe: Callable[[], T | None], timeout: float = 20.0, what: str = "it") -> T:
    """Poll `probe` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Process:
    """A child process that announced its URL on its first line of output."""

    def __init__(self, argv: list[str], url_pattern: str, stream: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        pipe = self.proc.stdout if stream == "stdout" else self.proc.stderr
        assert pipe is not None
        line = pipe.readline()
        match = re.search(url_pattern, line)
        if match is None:
            self.proc.kill()
            out, err = self.proc.communicate(timeout=10)
            raise AssertionError(f"{argv[2:4]} did not start: {line!r} {out!r} {err!r}")
        self.url = match.group(1)

    def stop(self) -> str:
        """SIGTERM, wait, and return what it wrote on stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            _out, err = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _out, err = self.proc.communicate()
        return err


Launch = Callable[..., Process]


@pytest.fixture
def launch() -> Iterator[Launch]:
    """Start services (`launch("back", db, flush=0.05)`) and `lens-tui otlp` (`launch("otlp", db)`);
    all are stopped at the end of the test."""
    started: list[Process] = []

    def start(role: str, db: Path, **options: Any) -> Process:
        if role == "otlp":
            argv = [sys.executable, "-m", "lens_tui.cli", "otlp", "--db", str(db), "--port", "0"]
            process = Process(argv, r"(http://127\.0\.0\.1:\d+)/v1/traces", "stderr")
        else:
            argv = [sys.executable, str(SERVICES), role, "--db", str(db)]
            for key, value in options.items():
                argv += [f"--{key}", str(value)]
            process = Process(argv, r"listening on (http://127\.0\.0\.1:\d+)", "stdout")
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in reversed(started):
            process.stop()
