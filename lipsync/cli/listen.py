"""``lipsync listen``: a live voice (a microphone) moves the mouth: the agent's, VMC's, a server's.

The voice is heard without its text as it comes and never played back (it is already in the
room): the mouth follows it ``--lookahead`` behind, the recogniser's look-ahead. With
``--server``, the audio goes to a running ``lipsync serve`` (``"audio": "none"``), which moves
its agent or VMC model. ``--input file:PATH`` stands in for a microphone with a recording
played in real time (tests, machines without one).
"""

from __future__ import annotations

import argparse

from lipsync.cli.heard import NO_TEXT, add_lookahead, preload
from lipsync.cli.io import UsageError
from lipsync.cli.say import STDOUT_ALIAS, add_agent_arguments, agent_alias, speak_with
from lipsync.live.audio.capture import CAPTURES, open_capture
from lipsync.maps.named import load_map

__all__ = ["add_listen_command"]


def _listen(args: argparse.Namespace) -> int:
    lookahead = args.lookahead / 1000
    if args.server is not None:
        from lipsync.cli.say_server import stream_via_server

        with open_capture(args.input) as capture:
            return stream_via_server(args.server, capture, rate=capture.rate, lookahead=args.lookahead,
                                     lipmap=args.map, mode="none")
    if args.model is None and args.to == "stdout":
        args.model = STDOUT_ALIAS
    alias = agent_alias(args, "listen")
    if args.sync == "event":
        raise UsageError("listen cannot hold a live voice back for the agent: --sync clock only")
    lipmap = load_map(args.map)
    preload()
    with open_capture(args.input) as capture:
        speak_with(args, alias, lipmap,
                   lambda speaker: speaker.say(capture, live=True, lookahead=lookahead),
                   audio="null", sync="clock")
    return 0


def add_listen_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "listen", help="move the mouth from a live voice (a microphone), heard as it comes",
        description="Hear a live voice without its text and move MMDAgent-EX's lips (or VMC blend "
        "shapes, or a running lipsync serve's) a look-ahead behind it: the voice is not played, "
        "and not ours to hold back, so the mouth is --lookahead late. The voice is heard " + NO_TEXT
        + ". Ctrl-C ends it (exit 130, after LIPSYNC_STOP).",
    )
    p.add_argument("--input", default="miniaudio", metavar="DEVICE",
                   help=f"where the voice comes from: {' or '.join(CAPTURES)} (a recording played in real "
                   "time, as a stand-in); default miniaudio (the default capture device)")
    add_lookahead(p, 150, what="the mouth is this far behind the voice")
    p.add_argument("--map", metavar="NAME|FILE",
                   help="lip map: a named map (lipsync map list) or a file (default: mmdagent)")
    p.add_argument("--unknown", metavar="PHONEME",
                   help="draw phonemes the map lacks as this one, with a warning (default: refuse)")
    add_agent_arguments(p, sync="clock (the only choice: a START leaves as soon as its phonemes are heard)")
    p.set_defaults(handler=_listen)
