"""The cyclic garbage collector kept out of the way while a huge trace is read and built."""

from __future__ import annotations

import gc


class CollectorPaused:
    """The cyclic garbage collector off while a huge trace is read and built: its 100,000 rows
    set off full collections that walk every live object of the app (about 60 ms of a
    300 ms open). Nothing here makes cycles; whatever is due is collected once it is back on.
    Overlapping pauses leave it on at the end: only the one that turned it off turns it on.

    With `freeze` set, what was built is moved out of the collector's sight (`gc.freeze`)
    before it is turned back on: otherwise its first passes over the young generations walk
    every slot of the new forest's lists (10 to 20 ms each, twice, while the trace opens).
    The UI hands everything back (`thaw`, into the oldest generation) once the trace is on
    screen; nothing is lost meanwhile, only not collected yet."""

    def __init__(self) -> None:
        self.freeze = False
        self._was_enabled = False

    def __enter__(self) -> CollectorPaused:
        self._was_enabled = gc.isenabled()
        gc.disable()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.freeze:
            gc.freeze()
        if self._was_enabled:
            gc.enable()


def thaw() -> None:
    """Hand what a `CollectorPaused(freeze=True)` hid back to the collector."""
    gc.unfreeze()
