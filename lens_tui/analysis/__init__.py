"""Understanding one trace: where the time went, a flame layout, pruned and re-rooted views,
span events and links, and the difference between two traces.

Pure functions over a `SpanForest` and per-node name and service columns: no Textual, no
database access except where a function takes a reader, and no recursion (a trace may hold
100,000 spans or a chain 10,000 deep). See docs/analysis.md.
"""
