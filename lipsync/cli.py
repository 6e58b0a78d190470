"""The ``lipsync`` command: argparse wiring over the library, and the one place that prints.

Exit codes: 0 done, 2 bad input (one line naming file, line and what was expected),
3 agent unreachable, 130 interrupted.
"""

from __future__ import annotations

import argparse
import signal
from collections.abc import Sequence

from lipsync import __version__
from lipsync._cli_align import add_align_command
from lipsync._cli_io import Handler, err, report
from lipsync._cli_map import add_map_commands
from lipsync._cli_say import add_say_command
from lipsync._cli_speech import add_speech_commands
from lipsync.errors import LipsyncError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, for ``main`` and for tests."""
    parser = argparse.ArgumentParser(
        prog="lipsync",
        description="Make a 3-D character's mouth move in time with speech (MMDAgent-EX and "
        "game engines).",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"lipsync {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_say_command(commands)
    add_speech_commands(commands)
    add_map_commands(commands)
    add_align_command(commands)
    _no_abbreviations(parser)
    return parser


def _no_abbreviations(parser: argparse.ArgumentParser) -> None:
    """Turn off prefix matching everywhere: ``--w`` must not quietly mean ``--wav``."""
    parser.allow_abbrev = False
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _no_abbreviations(sub)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    saved = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        handler: Handler = args.handler
        return handler(args)
    except LipsyncError as exc:
        report(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        err("lipsync: interrupted")
        return 130
    finally:
        if argv is not None:
            # Called from Python (tests, other tools): give back the signal handlers. As the
            # program itself, keep what ``say`` set until the process exits.
            signal.signal(signal.SIGINT, saved[0])
            signal.signal(signal.SIGTERM, saved[1])
