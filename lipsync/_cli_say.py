"""``lipsync say``: speak through the sound card while the agent's lips follow."""

from __future__ import annotations

import argparse
import codecs
import os
import signal
import sys
from collections.abc import Iterator
from types import FrameType

from lipsync._cli_io import UsageError, err
from lipsync._cli_speech import add_source_arguments, load_speech
from lipsync.audio import OUTPUTS
from lipsync.errors import ValueRefused
from lipsync.lipmap import load_map
from lipsync.names import check_alias
from lipsync.transport import DEFAULT_URL, open_transport

__all__ = ["add_say_command"]


def _stdin_text() -> Iterator[str]:
    """Standard input as it arrives (not line by line: a pipe may pause mid-line)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    read = 0
    try:
        while True:
            data = os.read(sys.stdin.fileno(), 4096)
            read += len(data)
            yield decoder.decode(data, final=not data)
            if not data:
                return
    except UnicodeDecodeError as exc:
        raise ValueRefused(f"<stdin>: expected UTF-8 text, found byte {exc.object[exc.start]:#04x} "
                           f"near byte {read - len(exc.object) + exc.start + 1}") from exc


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGINT or SIGTERM: unwind once (clean-up sends the STOP); later signals wait for it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def _warn(message: str) -> None:
    err(message if message.startswith("lipsync:") else f"lipsync: warning: {message}")


def _say(args: argparse.Namespace) -> int:
    from lipsync.speaker import Speaker

    alias = check_alias(args.model)
    if args.text is not None and args.text != "-" and not args.text.strip():
        raise ValueRefused("nothing to say: the text is empty")
    if args.wav is not None:
        # Any voice: --wav AUDIO with --labels, --sequence, or the --text it says (aligned).
        audio, timeline, lipmap = load_speech(args)
    else:
        if args.labels is not None or args.sequence is not None:
            raise UsageError("--labels and --sequence need the audio they describe: --wav FILE")
        if args.spoken is not None or args.kana is not None or args.phonemes is not None or args.fit:
            raise UsageError("--text, --kana, --phonemes and --fit go with recorded speech: --wav AUDIO")
        if args.text is None:
            raise UsageError("give exactly one of TEXT, -, --labels FILE or --sequence SEQ")
        lipmap = load_map(args.map)
        audio, timeline = None, None  # synthesised as it plays, piece by piece
    transport = open_transport(args.to, wait=args.wait)  # a bad --to is refused before anything opens
    start = [0.0]

    def show(direction: str, at: float, line: str) -> None:
        err(f"{at - start[0]:9.3f} s {direction} {line.rstrip()}")

    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    with Speaker(
        transport, alias, audio=args.audio, lipmap=lipmap, voice=args.voice, speed=args.speed,
        half_tone=args.half_tone, latency=args.latency / 1000, sync=args.sync,
        unknown=args.unknown, on_line=show if args.verbose else None,
        on_warning=_warn,
    ) as speaker:
        assert speaker.output is not None
        start[0] = speaker.clock.now()
        if speaker.output.notice:
            err(speaker.output.notice)
        if audio is not None and timeline is not None:
            utterance = speaker.say(audio, timeline)
        elif args.text == "-":
            utterance = speaker.say(_stdin_text())
        else:
            utterance = speaker.say(args.text)
        utterance.wait()
    # Done: a signal from here on has nothing left to stop, and must not cut the exit short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return 0


def add_say_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "say", help="speak through the sound card while the agent moves its lips in step",
        description="Speak Japanese text (or play --wav AUDIO, any voice, with its --labels or "
        "--sequence, or aligned to the --text it says) and send "
        "LIPSYNC_START to MMDAgent-EX when the sound really starts; LIPSYNC_STOP when cut short. "
        "TEXT '-' reads standard input as it arrives. Exit codes: 0 done, 2 bad input, "
        "3 agent unreachable, 130 interrupted (after the STOP was sent).",
    )
    add_source_arguments(p)
    p.add_argument("--model", required=True, metavar="ALIAS", help="the agent's model alias (e.g. gene)")
    p.add_argument("--to", default=DEFAULT_URL, metavar="URL",
                   help=f"tcp://HOST:PORT (default {DEFAULT_URL}), ws://HOST:PORT/PATH "
                   "(the agent connects to us), or stdout")
    p.add_argument("--audio", choices=OUTPUTS, default="miniaudio", help="audio output (default miniaudio)")
    p.add_argument("--latency", type=float, default=0.0, metavar="MS",
                   help="send each LIPSYNC_START this much later (negative: earlier)")
    p.add_argument("--sync", choices=("event", "clock"),
                   help="event: start the sound when the agent's motion starts (default with an agent); "
                   "clock: START on the first sample (default for stdout)")
    p.add_argument("--wait", type=float, metavar="SECONDS",
                   help="how long to wait for the agent (default: one try for tcp, 10 s for ws)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="show each line sent and heard, with its time")
    p.set_defaults(handler=_say)
