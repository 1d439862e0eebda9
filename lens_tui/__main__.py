"""Run the command line with `python -m lens_tui`."""

from lens_tui.cli import main

raise SystemExit(main())
