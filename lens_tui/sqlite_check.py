"""A one-line warning when the linked SQLite has the WAL-reset bug (sqlite.org/wal.html#walresetbug).

SQLite 3.7.0 up to 3.51.2 can corrupt a WAL database when two or more connections write or
checkpoint at the same time, which is exactly several traced processes sharing one trace file.
3.51.3 fixed it. APSW bundles its own SQLite; a build linked against an older system SQLite
would be affected.
"""

from __future__ import annotations

import re

FIRST_AFFECTED = (3, 7, 0)
FIRST_FIXED = (3, 51, 3)

_VERSION = re.compile(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?")


def parse_version(version: str) -> tuple[int, int, int] | None:
    """`"3.40.1"` as (3, 40, 1); a missing patch number is 0; None when it is not a version."""
    match = _VERSION.match(version or "")
    if not match:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def wal_reset_warning(version: str) -> str | None:
    """The warning line for an affected SQLite `version`, or None (also for an unparsable one)."""
    parsed = parse_version(version)
    if parsed is None or not FIRST_AFFECTED <= parsed < FIRST_FIXED:
        return None
    return (
        f"lens_tui: warning: SQLite {version.strip()} has the WAL-reset bug (3.7.0 to 3.51.2, "
        "fixed in 3.51.3): several processes writing one trace database may corrupt it; "
        "upgrade APSW (pip install -U apsw)"
    )


def check_linked() -> str | None:
    """The warning for the SQLite that APSW (our only binding) runs, or None."""
    import apsw

    return wal_reset_warning(apsw.sqlite_lib_version())
