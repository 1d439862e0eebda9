"""The dashboard's data side, without Textual: readers per job, the tail of new rows, the open
trace, the queue held while paused, the trace list's rows, rates and single-flight jobs.

Everything here that touches the database blocks and runs in worker threads; it hands back
immutable records. The UI (`lens_tui.ui`) drives it and draws what it returns.
"""
