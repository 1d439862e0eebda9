"""The writer's former module, kept importable for code written against it.

The writer lives in writer.py (`TraceWriter`), its rows in batch.py, its SQL and
`open_writable` in sql.py, its fork and exit hooks in process.py.
"""

from lens_tui.tracing.process import FORK_WAIT_S
from lens_tui.tracing.sql import open_writable
from lens_tui.tracing.writer import TraceStore, TraceWriter

__all__ = ["FORK_WAIT_S", "TraceStore", "TraceWriter", "open_writable"]
