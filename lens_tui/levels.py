"""The one level vocabulary: four levels, and how any other spelling maps onto them.

The writer stores a normalised level, OTLP severities map through the same table, and the reader
decodes whatever another program stored (the original LENS core, a foreign writer) with the same
rule, so a level never reads back differently from how it was written.
"""

from __future__ import annotations

LEVELS: tuple[str, ...] = ("debug", "info", "warn", "error")
"""The levels, lowest first: the log pane's cycle and every `>=` comparison follow this order."""

ALIASES: dict[str, str] = {
    "warning": "warn",
    "critical": "error",
    "fatal": "error",
    "err": "error",
    "exception": "error",
    "panic": "error",
    "alert": "error",
    "emergency": "error",
    "trace": "debug",
    "verbose": "debug",
    "notset": "debug",
}
"""Spellings other libraries use (stdlib logging, syslog, OTLP severity texts), case-folded."""

RANK: dict[str, int] = {level: rank for rank, level in enumerate(LEVELS)}


def _as_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def normalise_level(value: object) -> str:
    """Any level spelling (str, bytes, None) as one of LEVELS; unknown spellings read as info."""
    low = _as_text(value).strip().lower()
    if low in RANK:
        return low
    if low in ALIASES:
        return ALIASES[low]
    if low.startswith("warn"):
        return "warn"
    return "info"


def spellings(level: str) -> list[str]:
    """Stored spellings that read as `level`, for an exact-match SQL filter on a level column
    (its index is case sensitive): the level and its aliases, lower, upper and title case."""
    names = [level] + [alias for alias, target in ALIASES.items() if target == level]
    out: list[str] = []
    for name in names:
        for spelling in (name, name.upper(), name.title()):
            if spelling not in out:
                out.append(spelling)
    return out


def at_least(level: str) -> tuple[str, ...]:
    """The levels at or above `level` (normalised first)."""
    return LEVELS[RANK[normalise_level(level)] :]


LEVEL_NAME_KEY = "log.level_name"
"""The log attribute that keeps a record's own level name where the stored level folds it
(CRITICAL and FATAL stored as error, TRACE as debug, a custom NOTICE as info)."""

_SPELLINGS = frozenset({"warning", "err"})
"""Aliases that spell a level differently rather than name another one (no name to keep)."""

_BY_NUMBER = {10: "debug", 20: "info", 30: "warn", 40: "error", 50: "error"}


def of_number(levelno: int) -> str:
    """A stdlib logging level number as a level: by its tens (DEBUG .. CRITICAL), above
    CRITICAL error, below DEBUG debug."""
    return _BY_NUMBER.get(levelno - levelno % 10, "error" if levelno >= 40 else "debug")


def folded_name(name: object, stored: str) -> str | None:
    """`name` as given, when storing it as the level `stored` would lose it; None when it is
    that level or only spells it differently (WARNING for warn)."""
    text = _as_text(name).strip()
    low = text.lower()
    if not text or low == stored or (low in _SPELLINGS and ALIASES[low] == stored):
        return None
    return text


def level_label(level: str, attributes: object) -> str:
    """The level to show for a log: its own name when one was kept, else the stored level."""
    if isinstance(attributes, dict):
        kept = attributes.get(LEVEL_NAME_KEY)
        if isinstance(kept, str) and kept.strip():
            return kept.strip()
    return level
