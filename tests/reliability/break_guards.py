"""Break each guard of the reliability suite once, in a COPY of the tree, and watch its test fail.

    python tests/reliability/break_guards.py            # every break
    python tests/reliability/break_guards.py 02-no-inode-check 12-uncounted-drop

For each entry: copy lens_tui/ and tests/ to a temporary directory, replace one snippet (the
guard) there, run the guarding test from the copy (its subprocesses import the copy too, see
conftest.child_env) and print whether and how it failed. The working tree is never modified.
An anchor that no longer matches (the code moved on) is reported, not guessed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SRC = Path(__file__).resolve().parents[2]

Break = tuple[str, int, str, str, str, str, str]
"""(id, case, test node, file, old snippet, new snippet, what the break does)."""

BREAKS: list[Break] = [
    # (id, case, test node, file, old, new, description)
    (
        "01-kept-cursor",
        1,
        "tests/reliability/test_01_checkpoint.py::test_01_checkpoint_starvation_short",
        "lens_tui/store/queries/totals.py",
        """        totals = []
        for table in ORIGINAL_TABLES:""",
        """        totals = []
        db.leak = tx.conn.execute("SELECT rowid FROM spans")  # BROKEN: a kept cursor
        next(db.leak, None)
        for table in ORIGINAL_TABLES:""",
        "stats() keeps a half-read cursor (a kept peewee iterator)",
    ),
    (
        "01-no-commit",
        1,
        "tests/reliability/test_01_checkpoint.py::test_01_checkpoint_starvation_short",
        "lens_tui/store/connection.py",
        """            self._end(conn, "COMMIT")""",
        """            pass  # BROKEN: the read transaction is never ended""",
        "Database.read never ends its read transaction",
    ),
    (
        "02-no-inode-check",
        2,
        "tests/reliability/test_02_replaced.py",
        "lens_tui/store/connection.py",
        "if self._conn is not None and identity == self._identity:",
        "if self._conn is not None and identity is not None:  # BROKEN: inode not compared",
        "changed() no longer compares (st_dev, st_ino)",
    ),
    (
        "03-watch-file",
        3,
        "tests/reliability/test_03_wal_lifecycle.py",
        "lens_tui/store/tail.py",
        "                if directory.is_dir():\n                    self._watch(directory)",
        "                if directory.is_dir():\n                    self._watch(self._path)  # BROKEN: watch the file",
        "ChangeWatcher watches the database file instead of its directory",
    ),
    (
        "03-no-open-on-appear",
        3,
        "tests/reliability/test_03_wal_lifecycle.py",
        "lens_tui/store/connection.py",
        "            if identity is None:\n                return had_connection",
        "            if identity is None or not had_connection:  # BROKEN\n                return had_connection",
        "changed() does not open a file that appeared after start",
    ),
    (
        "04-two-transactions",
        4,
        "tests/reliability/test_04_killed.py",
        "lens_tui/tracing/writer.py",
        "            sql.TRACES_MULTI.run(conn, rows.traces, (stamp,))\n",
        "            sql.TRACES_MULTI.run(conn, rows.traces, (stamp,))\n"
        '            conn.execute("COMMIT")  # BROKEN: the batch split in two transactions\n'
        '            conn.execute("BEGIN IMMEDIATE")\n',
        "the writer commits trace counts and spans in two transactions",
    ),
    (
        "05-no-immutable-first",
        5,
        "tests/reliability/test_05_readonly.py::test_05_file_not_writable_in_shared_directory",
        "lens_tui/store/connection.py",
        "        immutable = _must_not_create_files(self._path)\n",
        "        immutable = False  # BROKEN: the fix of this suite removed\n",
        "reader opens normally (creates -wal/-shm) a WAL db it cannot write",
    ),
    (
        "05-no-immutable-fallback",
        5,
        "tests/reliability/test_05_readonly.py::test_05_readonly_directory",
        "lens_tui/store/connection.py",
        "    return not os.access(path.parent, os.W_OK)\n",
        "    return False  # BROKEN: no immutable fallback\n",
        "no immutable fallback in a read-only directory",
    ),
    (
        "06-fifo-opened",
        6,
        "tests/reliability/test_06_bad_files.py::test_06_broken_file_through_cli[fifo]",
        "lens_tui/store/connection.py",
        '    if not stat.S_ISREG(st.st_mode):\n        raise OpenError(f"{path} is not a regular file (a FIFO, socket or device)")\n    if st.st_size == 0:',
        "    if stat.S_ISREG(st.st_mode) and st.st_size == 0:  # BROKEN: a FIFO is opened",
        "the FIFO pre-check removed (open() on a FIFO blocks)",
    ),
    (
        "06-no-version-check",
        6,
        "tests/reliability/test_06_bad_files.py::test_06_broken_file_through_cli[newer-schema]",
        "lens_tui/store/connection.py",
        "    if version > SCHEMA_VERSION:\n        raise OpenError(",
        "    if False:  # BROKEN\n        raise OpenError(",
        "the newer-schema check removed",
    ),
    (
        "07-no-follow-schema",
        7,
        "tests/reliability/test_07_schema_live.py",
        "lens_tui/store/connection.py",
        "                self._follow_schema(conn)\n",
        "                pass  # BROKEN: column cache never refreshed\n",
        "the reader's column cache is not refreshed on a schema change",
    ),
    (
        "07-seed-null-name",
        7,
        "tests/reliability/test_07_schema_live.py::test_07_migration_while_reader_open",
        "lens_tui/tracing/batch.py",
        '            a[4] if has_root else "",\n',
        "            a[4] if has_root else None,\n",
        "the trace seed leaves root_span_name NULL (original layout: NOT NULL)",
    ),
    (
        "11-no-cycle-restart",
        11,
        "tests/reliability/test_11_pathological.py",
        "lens_tui/forest.py",
        "    if len(order) < count:\n",
        "    if False:  # BROKEN: spans in a cycle are never reached\n",
        "the span tree does not restart from spans caught in a parent cycle",
    ),
    (
        "11-inf-times",
        11,
        "tests/reliability/test_11_pathological.py::test_11_pathological_trace_from_the_database",
        "lens_tui/store/decode.py",
        "    return number if math.isfinite(number) else None",
        "    return number  # BROKEN",
        "the reader passes inf/NaN times through",
    ),
    (
        "12-uncounted-drop",
        12,
        "tests/reliability/test_12_load.py::test_12_load_with_locked_database_short",
        "lens_tui/tracing/writer.py",
        "        if size >= self.max_queue or self._closed:\n            self._count_dropped(1)",
        "        if size >= self.max_queue or self._closed:\n            pass  # BROKEN: a span dropped silently",
        "a span dropped on a full queue is not counted",
    ),
    (
        "12-unbounded-queue",
        12,
        "tests/reliability/test_12_load.py::test_12_load_with_locked_database_short",
        "lens_tui/tracing/writer.py",
        "        if size >= self.max_queue or self._closed:\n            self._count_dropped(1)",
        "        if self._closed:  # BROKEN: no queue bound\n            self._count_dropped(1)",
        "the queue bound removed from the span hot path",
    ),
    (
        "13-no-reset-fallback",
        13,
        "tests/reliability/test_13_context.py::test_13_generator_closed_in_another_context",
        "lens_tui/tracing/api.py",
        "    try:\n        current.reset(token)\n    except ValueError:",
        "    try:\n        current.reset(token)\n    except KeyError:  # BROKEN: no fallback",
        "_reset() without its fallback for a token of another context",
    ),
    (
        "13-genexit-context",
        13,
        "tests/reliability/test_13_context.py::test_13_generator_closed_early",
        "lens_tui/tracing/api.py",
        "                    token = current.set(record)\n                    try:\n                        gen.close()\n                    finally:\n                        _reset(token, record)\n",
        "                    gen.close()  # BROKEN: the fix of this suite removed\n",
        "gen.close() run outside the generator's span (this suite's fix removed)",
    ),
    (
        "13-no-fork-guard",
        13,
        "tests/reliability/test_13_context.py::test_13_os_fork_while_writer_holds_the_write_lock",
        "lens_tui/tracing/process.py",
        "                before=self._before_fork,\n",
        "",
        "os.fork() no longer waits for the writer to leave SQLite (this suite's fix removed)",
    ),
    (
        "14-no-atexit",
        14,
        "tests/reliability/test_14_signals.py::test_14_signal_mid_batch_flushes_everything",
        "lens_tui/tracing/process.py",
        "            atexit.register(self._shutdown)\n",
        "            pass  # BROKEN: no flush at exit\n",
        "no flush at interpreter exit",
    ),
    (
        "15-any-file",
        15,
        "tests/reliability/test_15_storms.py::test_15_file_storm_beside_the_database",
        "lens_tui/store/tail.py",
        "        return os.path.basename(path) in self._names",
        "        return True  # BROKEN: every file in the directory",
        "the watcher's filter lets every file in the directory through",
    ),
    (
        "15-wrong-bound",
        15,
        "tests/reliability/test_15_storms.py",
        "lens_tui/sqlite_check.py",
        "FIRST_FIXED = (3, 51, 3)",
        "FIRST_FIXED = (3, 51, 2)",
        "the affected range ends one release early",
    ),
]


def run(only: set[str]) -> dict[str, dict[str, object]]:
    """Run the selected breaks (all when `only` is empty); returns id -> outcome."""
    results: dict[str, dict[str, object]] = {}
    root = Path(tempfile.mkdtemp(prefix="lens-break-"))
    try:
        for bid, case, node, rel, old, new, what in BREAKS:
            if only and bid not in only:
                continue
            results[bid] = _one(root / bid, case, node, rel, old, new, what)
            print(bid, json.dumps(results[bid], indent=1), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return results


def _one(
    tree: Path, case: int, node: str, rel: str, old: str, new: str, what: str
) -> dict[str, object]:
    for name in ("lens_tui", "tests"):
        shutil.copytree(SRC / name, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(SRC / "pyproject.toml", tree / "pyproject.toml")
    target = tree / rel
    text = target.read_text()
    if text.count(old) != 1:
        return {"case": case, "error": f"anchor found {text.count(old)} times in {rel}"}
    target.write_text(text.replace(old, new))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            node,
            "-x",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            "not soak",
        ],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=900,
    )
    lines = proc.stdout.splitlines()
    return {
        "case": case,
        "what": what,
        "failed_as_it_should": proc.returncode == 1,
        "E": [line for line in lines if line.startswith("E ")][:4],
        "failed": [line for line in lines if line.startswith("FAILED")][:2],
        "tail": lines[-1:],
    }


if __name__ == "__main__":
    outcome = run(set(sys.argv[1:]))
    sys.exit(0 if all(o.get("failed_as_it_should") for o in outcome.values()) else 1)
