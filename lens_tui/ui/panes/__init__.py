"""The dashboard's panes: each owns one part of the screen's state, the workers that read it,
and the staleness of their results; the dashboard screen routes between them."""
