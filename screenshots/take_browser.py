"""Take the README's browser screenshot: `lens-tui serve` on a demo database, in headless chromium.

Usage: `python screenshots/take_browser.py [--seconds 6] [--out screenshots/browser.png]`

Needs textual-serve and playwright (`pip install -e '.[test]'`) and the machine's chromium
(`apt-get install chromium`); playwright's own browser download is not used.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def shoot(url: str, out: Path) -> None:
    from playwright.async_api import async_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("take_browser: no chromium on this machine (apt-get install chromium)")
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=chromium,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = await browser.new_page(viewport={"width": 1280, "height": 760})
        await page.goto(url)
        await page.wait_for_timeout(4000)
        await page.click("#terminal")
        await page.keyboard.press("e")  # the failed requests
        await page.wait_for_timeout(800)
        await page.keyboard.press("Enter")  # the newest of them, opened
        await page.wait_for_timeout(1500)
        await page.screenshot(path=str(out))
        await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="demo workload before the shot")
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots" / "browser.png")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory(prefix="lens-shot-") as tmp:
        db = Path(tmp) / "traces.db"
        demo = subprocess.Popen(
            [sys.executable, "-m", "lens_tui", "demo", "--db", str(db), "--no-ui", "--seed", "7"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port = _free_port()
        serve = subprocess.Popen(
            [sys.executable, "-m", "lens_tui", "serve", str(db), "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(args.seconds)
            asyncio.run(shoot(f"http://127.0.0.1:{port}/", args.out))
        finally:
            for proc in (serve, demo):
                proc.terminate()
                proc.wait(timeout=10)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
