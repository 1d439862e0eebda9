"""The Textual dashboard: a live trace list, a span waterfall, a span detail panel and logs."""
