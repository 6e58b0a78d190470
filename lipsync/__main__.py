"""``python -m lipsync``: the same as the ``lipsync`` command."""

from lipsync.cli import main

raise SystemExit(main())
