"""``python -m lipsync``: the same as the ``lipsync`` command."""

from lipsync.cli.entry import run

run()
