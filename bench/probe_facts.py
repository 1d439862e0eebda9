"""Re-measure the facts about SQLite, watchfiles and Textual that lens_tui's design relies on.

docs/findings.md quotes what this prints. Run: `python bench/probe_facts.py` (about a minute).
Each figure is a median of several runs; the machine's load average is printed with them.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import apsw


def _median_us(fn, repeat: int = 20000) -> float:
    samples = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(repeat):
            fn()
        samples.append((time.perf_counter() - t0) / repeat * 1e6)
    return statistics.median(samples)


def _make_db(path: Path) -> apsw.Connection:
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA journal_mode = WAL").fetchall()
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(
        "CREATE TABLE spans (id INTEGER PRIMARY KEY, trace_id TEXT, name TEXT, started_at REAL,"
        " duration_ms REAL, attributes TEXT)"
    )
    conn.execute("CREATE INDEX spans_trace ON spans (trace_id)")
    return conn


def _insert(conn: apsw.Connection, start: int, count: int) -> None:
    with conn:
        conn.executemany(
            "INSERT INTO spans (trace_id, name, started_at, duration_ms, attributes)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                (f"{i // 10:032x}", "db.query", float(i), 1.5, f'{{"user.id": {i}}}')
                for i in range(start, start + count)
            ),
        )


def versions() -> None:
    print(
        f"sqlite3 module links SQLite {sqlite3.sqlite_version}; APSW {apsw.apsw_version()}"
        f" bundles SQLite {apsw.sqlite_lib_version()}"
    )


def polling(tmp: Path) -> None:
    conn = _make_db(tmp / "poll.db")
    _insert(conn, 0, 100_000)
    reader = apsw.Connection(str(tmp / "poll.db"), flags=apsw.SQLITE_OPEN_READONLY)
    dv = _median_us(lambda: reader.execute("PRAGMA data_version").fetchall())
    top = reader.execute("SELECT max(id) FROM spans").fetchall()[0][0]
    empty = _median_us(
        lambda: reader.execute("SELECT id FROM spans WHERE id > ?", (top,)).fetchall()
    )
    print(f"PRAGMA data_version: {dv:.1f} us; an empty `WHERE rowid > ?` poll: {empty:.1f} us")
    before = reader.execute("PRAGMA data_version").fetchall()[0][0]
    _insert(conn, 100_000, 1)
    after = reader.execute("PRAGMA data_version").fetchall()[0][0]
    print(f"data_version changes when another connection commits: {before != after}")

    def offset() -> None:
        reader.execute("SELECT id FROM spans ORDER BY id LIMIT 50 OFFSET 90000").fetchall()

    def keyset() -> None:
        reader.execute("SELECT id FROM spans WHERE id > 90000 ORDER BY id LIMIT 50").fetchall()

    o, k = _median_us(offset, 200), _median_us(keyset, 200)
    print(f"page 50 rows at row 90,000: OFFSET {o:.0f} us, keyset {k:.0f} us ({o / k:.0f}x)")
    reader.close()
    conn.close()


def starvation(tmp: Path) -> None:
    for held in (False, True):
        path = tmp / f"starve-{held}.db"
        conn = _make_db(path)
        conn.execute("PRAGMA wal_autocheckpoint = 1000").fetchall()
        reader = apsw.Connection(str(path))
        if held:
            reader.execute("BEGIN")
            reader.execute("SELECT count(*) FROM spans").fetchall()
        for start in range(0, 200_000, 2_000):
            _insert(conn, start, 2_000)
            if not held:
                reader.execute("SELECT count(*) FROM spans").fetchall()
        size = os.path.getsize(str(path) + "-wal") / 2**20
        print(
            f"WAL after 200,000 rows, reader {'holds one read transaction' if held else 'reads briefly'}: {size:.0f} MiB"
        )
        if held:
            reader.execute("COMMIT")
        reader.close()
        conn.close()


def replaced(tmp: Path) -> None:
    path = tmp / "replaced.db"
    conn = _make_db(path)
    _insert(conn, 0, 10)
    conn.close()
    reader = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
    dv = reader.execute("PRAGMA data_version").fetchall()[0][0]
    ino = os.stat(path).st_ino
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    conn = _make_db(path)
    _insert(conn, 0, 3)
    conn.close()
    rows = reader.execute("SELECT count(*) FROM spans").fetchall()[0][0]
    dv2 = reader.execute("PRAGMA data_version").fetchall()[0][0]
    print(
        f"file deleted and recreated: old connection sees {rows} rows (new file has 3),"
        f" data_version changed: {dv != dv2}, inode changed: {ino != os.stat(path).st_ino}"
    )
    reader.close()
    for uri, label in (("mode=ro", "mode=ro"), ("immutable=1", "immutable=1")):
        conn = _make_db(tmp / f"{label}.db")
        _insert(conn, 0, 1)
        ro = apsw.Connection(
            f"file:{tmp / f'{label}.db'}?{uri}",
            flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI,
        )
        try:
            ro.execute("SELECT count(*) FROM spans").fetchall()
            _insert(conn, 1, 1)
            seen = ro.execute("SELECT count(*) FROM spans").fetchall()[0][0] == 2
        except apsw.SQLError:
            seen = False  # immutable=1 ignores the -wal file: not even the table is there yet
        print(f"{label} reader sees a row committed after it opened: {seen}")
        ro.close()
        conn.close()


def watch_missing(tmp: Path) -> None:
    import watchfiles

    try:
        for _ in watchfiles.watch(
            tmp / "absent-wal", stop_event=_SetEvent(), yield_on_timeout=True
        ):
            break
        print("watching a missing path: no error")
    except FileNotFoundError:
        print("watching a missing path raises FileNotFoundError")


class _SetEvent:
    def is_set(self) -> bool:
        return True


def textual_facts() -> None:
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable, Static, Tree

    class Probe(App[None]):
        def compose(self) -> ComposeResult:
            yield DataTable()

    async def datatable() -> float:
        app = Probe()
        async with app.run_test(size=(100, 30)) as pilot:
            table = app.query_one(DataTable)
            table.add_columns("a", "b", "c")
            t0 = time.perf_counter()
            for i in range(10_000):
                table.add_row(str(i), "x", "y")
            await pilot.pause()
            t1 = time.perf_counter()
            for i in range(50):
                table.add_row(str(i), "x", "y")
                await pilot.pause()
            per = (time.perf_counter() - t1) / 50 * 1000
            return t1 - t0, per

    total, per = asyncio.run(datatable())
    print(
        f"DataTable: 10,000 rows to the first idle {total:.2f} s; then each append + frame {per:.0f} ms"
    )

    class Deep(App[None]):
        def compose(self) -> ComposeResult:
            yield Tree("root")

    async def deep() -> str:
        app = Deep()
        try:
            async with app.run_test(size=(100, 30)) as pilot:
                node = app.query_one(Tree).root
                for i in range(2000):
                    node = node.add(f"n{i}", expand=True)
                app.query_one(Tree).root.expand_all()
                await pilot.pause()
            return "no error"
        except RecursionError:
            return "RecursionError"

    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        outcome = asyncio.run(deep())
    print(f"Tree with a chain 2,000 deep: {outcome} (Textual prints its crash report above)")

    class Esc(App[None]):
        def compose(self) -> ComposeResult:
            yield Static("a\x1b]0;pwned\x07b\x1b[2Jc", markup=False)

    async def escapes() -> bool:
        app = Esc()
        async with app.run_test(size=(40, 3)):
            strip = app.query_one(Static).render_line(0)
            return any("\x1b" in seg.text or "\x07" in seg.text for seg in strip)

    print(
        f"an escape sequence in Static text reaches the rendered segments: {asyncio.run(escapes())}"
    )


def main() -> None:
    print(f"load average: {os.getloadavg()[0]:.2f}, cores: {os.cpu_count()}")
    versions()
    tmp = Path(tempfile.mkdtemp(prefix="lens-probe-"))
    try:
        polling(tmp)
        starvation(tmp)
        replaced(tmp)
        watch_missing(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    textual_facts()


if __name__ == "__main__":
    main()
