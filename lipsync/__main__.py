"""``python -m lipsync``: the same as the ``lipsync`` command."""

from lipsync._entry import run

run()
