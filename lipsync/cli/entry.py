"""The program's entry point: signal handlers first, then everything else.

A Ctrl-C or SIGTERM in the first moments (while Python and Open JTalk load) must end like one
later on: one line and exit code 130, never a traceback. So this module imports nothing of
lipsync's but the handler itself before the handlers are in place (``lipsync/__init__`` loads
its names lazily, ``lipsync/cli/__init__`` nothing).
"""

from __future__ import annotations

import sys

from lipsync.cli.signals import install

__all__ = ["run"]


def run() -> None:
    """``lipsync`` and ``python -m lipsync``."""
    install()
    try:
        from lipsync.cli.main import main

        code = main()
    except KeyboardInterrupt:  # before main() could take it (while importing)
        try:
            sys.stderr.write("lipsync: interrupted\n")
        except OSError:
            pass
        code = 130
    sys.exit(code)
