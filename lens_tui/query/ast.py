"""The query tree: frozen dataclasses that the parser builds and both compilers read.

One tree means the same thing to SQL and to Python. Where a term stands decides what it is
about: at the top of a trace query a term is about the trace (its root span for names and
attributes), inside a `Selector` about one span, in a log query about one log record.
Columns are kept for error messages and take no part in equality.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Op = Literal["=", "!=", "~", "!~", "<", "<=", ">", ">="]
OPS: tuple[str, ...] = ("=", "!=", "~", "!~", "<", "<=", ">", ">=")
NEGATED: dict[str, str] = {"!=": "=", "!~": "~"}
"""`a != v` is exactly `not (a = v)`, `a !~ v` exactly `not (a ~ v)`, wherever they stand."""

Scalar = str | int | float | bool


@dataclass(frozen=True, slots=True)
class Compare:
    """An intrinsic field against a value.

    Fields and their values: `name`, `service`, `kind`, `logger`, `message` (str);
    `status` (`ok`, `error`, `running`); `level` (one of lens_tui.levels.LEVELS);
    `duration` (float ms); `start` (float epoch ms: `since`/`until`); `trace`, `span`
    (an id prefix, str).
    """

    field: str
    op: Op
    value: str | float
    column: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Attribute:
    """An attribute (a top-level key of the stored JSON object) against a value.

    A str value compares as text with strings only; an int or float compares as a number with
    JSON numbers and with strings that are exactly a JSON number (`"42"`); a bool matches
    JSON `true`/`false` (`=`, `!=` only).
    """

    key: str
    op: Op
    value: Scalar
    column: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Selector:
    """`{ ... }`: one span of the trace satisfies `term` (`{}`: the trace has a span)."""

    term: Node
    column: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class And:
    """Every term holds (no terms: always true, the empty query)."""

    terms: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """Some term holds."""

    terms: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """The term does not hold."""

    term: Node


Node = Compare | Attribute | Selector | And | Or | Not

EVERYTHING = And(())
"""The empty query: matches every row."""
