"""The ``lipsync`` command: argparse wiring over the library, and the one place that prints.

Exit codes: 0 done, 2 bad input (one line naming file, line and what was expected),
3 agent unreachable, 130 interrupted.
"""

from __future__ import annotations

import argparse
import difflib
import io
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

from lipsync._version import __version__
from lipsync.cli.align import add_align_command
from lipsync.cli.export import add_export_command
from lipsync.cli.io import Handler, Parser, UsageError, WarningPrinter, err, report
from lipsync.cli.listen import add_listen_command
from lipsync.cli.map import add_map_commands
from lipsync.cli.plot import add_plot_command
from lipsync.cli.say import add_say_command
from lipsync.cli.serve import add_serve_command
from lipsync.cli.speech import add_speech_commands
from lipsync.errors import LipsyncError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, for ``main`` and for tests."""
    parser = Parser(
        prog="lipsync", allow_abbrev=False,
        description="Make a 3-D character's mouth move in time with speech (MMDAgent-EX and "
        "game engines).",
    )
    parser.add_argument("--version", action="version", version=f"lipsync {__version__}")
    # Every sub-command parser is a ``Parser`` too (argparse makes them of the parent's class).
    commands: argparse._SubParsersAction[argparse.ArgumentParser] = parser.add_subparsers(  # type: ignore[assignment]
        dest="command", metavar="COMMAND", required=True
    )
    add_say_command(commands)
    add_speech_commands(commands)
    add_map_commands(commands)
    add_export_command(commands)
    add_plot_command(commands)
    add_serve_command(commands)
    add_align_command(commands)
    add_listen_command(commands)
    _no_abbreviations(parser)
    return parser


def _no_abbreviations(parser: argparse.ArgumentParser) -> None:
    """Turn off prefix matching everywhere: ``--w`` must not quietly mean ``--wav``."""
    parser.allow_abbrev = False
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _no_abbreviations(sub)


def _command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the (sub)command ``args`` were given to (``map set``'s, for ``lipsync map set``)."""
    command = parser
    while True:
        chosen = [action for action in command._actions if isinstance(action, argparse._SubParsersAction)]
        name = getattr(args, chosen[0].dest, None) if chosen and chosen[0].dest else None
        if not chosen or name not in chosen[0].choices:
            return command
        command = chosen[0].choices[name]


def _unrecognized(parser: argparse.ArgumentParser, args: argparse.Namespace, extras: list[str]) -> NoReturn:
    """Refuse arguments no command takes, in the words of the command they were given to: its
    usage, and the option meant where one is close (``--speeed``: did you mean ``--speed``?)."""
    command = _command(parser, args)
    options = [option for action in command._actions for option in action.option_strings]
    guesses = [difflib.get_close_matches(extra.split("=")[0], options, n=1, cutoff=0.6)
               for extra in extras if extra.startswith("-")]
    meant = [guess[0] for guess in guesses if guess]
    hint = f" (did you mean {meant[0]}?)" if meant else ""
    command.error(f"unrecognized arguments: {' '.join(extras)}{hint}")


def _check_text(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse an argument that is not valid UTF-8 (Python keeps its bytes as lone surrogates,
    which no text, file or socket can take) with one line naming it."""
    for action in _command(parser, args)._actions:
        value = getattr(args, action.dest, None)
        for text in value if isinstance(value, list) else [value]:
            if not isinstance(text, str):
                continue
            at = next((i for i, ch in enumerate(text) if "\udc80" <= ch <= "\udcff"), None)
            if at is not None:
                name = action.option_strings[-1] if action.option_strings else (action.metavar or action.dest)
                raise UsageError(f"{name}: expected UTF-8 text, found byte 0x{ord(text[at]) - 0xDC00:02x} at "
                                 f"character {at + 1}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    saved = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    logger = logging.getLogger("lipsync")
    printer = WarningPrinter()
    logger.addHandler(printer)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.WARNING)
    try:
        parser = build_parser()
        args, extras = parser.parse_known_args(argv)
        if extras:
            _unrecognized(parser, args, extras)
        _check_text(parser, args)
        handler: Handler = args.handler
        return handler(args)
    except LipsyncError as exc:
        report(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        err("lipsync: interrupted")
        return 130
    except BrokenPipeError:
        # The reader of our output left (``lipsync map show ... | head``): not an error of ours.
        _quiet_stdout()
        return 0
    finally:
        logger.removeHandler(printer)
        if argv is not None:
            # Called from Python (tests, other tools): give back the signal handlers. As the
            # program itself, keep what ``say`` set until the process exits.
            signal.signal(signal.SIGINT, saved[0])
            signal.signal(signal.SIGTERM, saved[1])


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush does not complain either."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError, io.UnsupportedOperation):  # stdout is no file (tests)
        pass
