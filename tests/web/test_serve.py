"""`lens-tui serve`: the dashboard in a real headless browser, and the token in front of it."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ui import fixture_db

pytest.importorskip(
    "textual_serve", reason="textual-serve is not installed (pip install -e '.[test]')"
)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(db: Path, *extra: str) -> tuple[subprocess.Popen[str], int]:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lens_tui", "serve", str(db), "--port", str(port), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(proc.communicate()[1]) from None
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("lens-tui serve did not start listening")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return fixture_db.build(tmp_path / "traces.db")


@pytest.fixture
def served(db: Path) -> Iterator[int]:
    proc, port = _serve(db)
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _frames_text(frames: list[object]) -> bytes:
    return b"".join(f if isinstance(f, bytes) else str(f).encode() for f in frames)


@pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on this machine (apt-get install chromium)"
)
def test_the_dashboard_runs_in_a_headless_browser(served: int, tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.async_api", reason="playwright is not installed")

    async def drive() -> tuple[bytes, bytes]:
        async with playwright.async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                ],
            )
            try:
                page = await browser.new_page(viewport={"width": 1280, "height": 800})
                frames: list[object] = []
                page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(f)))
                await page.goto(f"http://127.0.0.1:{served}/")
                for _ in range(150):  # the dashboard process starts per tab: wait for the list
                    if b"GET /orders" in _frames_text(frames):
                        break
                    await page.wait_for_timeout(100)
                before = _frames_text(frames)
                frames.clear()
                await page.click("#terminal")
                await page.keyboard.press("Enter")
                for _ in range(100):
                    if b"Waterfall" in _frames_text(frames):
                        break
                    await page.wait_for_timeout(100)
                await page.wait_for_timeout(300)
                await page.screenshot(path=str(tmp_path / "serve.png"))
                return before, _frames_text(frames)
            finally:
                await browser.close()

    listed, opened = asyncio.run(drive())
    # The fixture's traces, as the trace list draws them in the browser's terminal.
    assert b"GET /orders" in listed and b"POST /checkout" in listed
    # Enter opened the newest trace: the waterfall pane and its root span appeared.
    assert b"Waterfall" in opened and b"GET /health" in opened
    assert (tmp_path / "serve.png").stat().st_size > 10_000


def _get(url: str, cookie: str | None = None) -> tuple[int, str, str]:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("Set-Cookie", ""), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, "", exc.read().decode()


def test_a_token_is_required_when_set(db: Path) -> None:
    proc, port = _serve(db, "--token", "s3cret")
    try:
        base = f"http://127.0.0.1:{port}"
        assert _get(f"{base}/")[0] == 401
        assert _get(f"{base}/?token=wrong")[0] == 401
        assert _get(f"{base}/static/js/textual.js")[0] == 401
        status, cookie, page = _get(f"{base}/?token=s3cret")
        assert status == 200 and "textual-terminal" in page
        assert cookie.startswith("lens_tui_token=s3cret") and "HttpOnly" in cookie
        # The page's own requests carry the cookie, not the token.
        assert _get(f"{base}/static/js/textual.js", cookie="lens_tui_token=s3cret")[0] == 200
        assert _get(f"{base}/static/js/textual.js", cookie="lens_tui_token=nope")[0] == 401
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_binding_beyond_loopback_warns(db: Path) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lens_tui",
            "serve",
            str(db),
            "--host",
            "0.0.0.0",
            "--port",
            str(port),
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        line = proc.stderr.readline()
        assert "warning: listening on 0.0.0.0" in line and "anyone who can reach port" in line
        assert "--token" in line
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_bad_arguments_are_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for args in (["--port", "70000"], [str(tmp_path / "no" / "such" / "dir.db")]):
        result = subprocess.run(
            [sys.executable, "-m", "lens_tui", "serve", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
        )
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
