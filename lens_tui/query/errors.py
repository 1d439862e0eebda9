"""The one exception a query raises: what is wrong and at which column of the query text."""

from __future__ import annotations


class QueryError(ValueError):
    """A query that cannot be parsed or compiled; `str()` is one line pointing at the problem.

    `column` is 1-based, in characters of the query text (one past its end for "the query
    ended too early"); `hint` says what would be accepted there, when that is short.
    """

    def __init__(self, message: str, column: int, hint: str | None = None) -> None:
        self.message = message
        self.column = max(1, int(column))
        self.hint = hint
        super().__init__(self.line())

    def line(self) -> str:
        """`unknown unit 'parsecs' at column 14: use us, ms, s, m, h`."""
        text = f"{self.message} at column {self.column}"
        return f"{text}: {self.hint}" if self.hint else text

    def pointer(self, query: str) -> str:
        """The query and a caret under the column, two lines, for a filter bar or a terminal."""
        return f"{query}\n{' ' * (self.column - 1)}^"
