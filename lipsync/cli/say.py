"""``lipsync say``: speak through the sound card while the agent's lips follow."""

from __future__ import annotations

import argparse
import codecs
import os
import signal
import sys
from collections.abc import Iterator

from lipsync.cli.io import UsageError, err, finite_float
from lipsync.cli.signals import install
from lipsync.cli.speech import add_motion_arguments, add_source_arguments, engine_from, load_speech, motion_of
from lipsync.errors import AgentUnreachable, ValueRefused
from lipsync.live.audio import OUTPUTS
from lipsync.live.transport import DEFAULT_URL, open_transport
from lipsync.maps.named import load_map
from lipsync.names import check_alias

__all__ = ["STDOUT_ALIAS", "add_say_command"]

#: The model alias ``--to stdout`` prints when no ``--model`` is given (MMDAgent-EX's sample model).
STDOUT_ALIAS = "gene"


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


def _say(args: argparse.Namespace) -> int:
    from lipsync.live.speaker import EVENT_TIMEOUT, NO_EVENT_AFTER, Speaker
    from lipsync.live.transport.vmc import VmcSender, is_vmc_url
    from lipsync.speech.pieces import speakable
    from lipsync.timeline import PAUSES

    if args.server is not None:
        from lipsync.cli.say_server import say_via_server

        return say_via_server(args)
    if args.model is None and args.to == "stdout":
        args.model = STDOUT_ALIAS  # lines to read, not to drive an agent: any alias shows them
    if not is_vmc_url(args.to):
        open_transport(args.to, model=args.model)  # a bad --to is named before a missing --model
    if args.to == "stdout" and args.sync == "event":
        raise UsageError("--sync event waits for an agent's answers; --to stdout has none (the default "
                         "there is --sync clock)")
    if args.model is None and not is_vmc_url(args.to):
        raise UsageError(
            "say needs --model ALIAS: the name MMDAgent-EX loaded the model under (MODEL_ADD|ALIAS|... "
            "in its .fst; 'gene' in its sample), or --server URL, or --to vmc://HOST:PORT"
        )
    alias = check_alias(args.model) if args.model is not None else None
    if args.text is not None and args.text != "-" and not speakable(args.text):
        raise ValueRefused(f"nothing to say in {args.text[:40]!r}: no letters or digits (only "
                           "punctuation, symbols or emoji?)")
    engine = engine_from(args)  # checked before anything opens
    if args.wav is not None:
        ignored = [option for option, value, default in (
            ("--voice", args.voice, None), ("--speed", args.speed, 1.0), ("--half-tone", args.half_tone, 0.0),
        ) if value != default]
        if ignored:
            raise UsageError(f"{', '.join(ignored)} shape synthesised speech: they do not apply to --wav")
        # Any voice: --wav AUDIO with --labels, --sequence, or the --text it says (aligned).
        audio, timeline, lipmap = load_speech(args)
    else:
        if args.labels is not None or args.sequence is not None:
            raise UsageError("--labels and --sequence need the audio they describe: --wav FILE")
        if args.spoken is not None or args.kana is not None or args.phonemes is not None or args.fit:
            raise UsageError("--text, --kana, --phonemes and --fit go with recorded speech: --wav AUDIO")
        if args.text is None:
            raise UsageError("give the speech: TEXT, - (standard input), or --wav AUDIO with its --text, "
                             "--labels FILE or --sequence SEQ")
        lipmap = load_map(args.map)
        audio, timeline = None, None  # synthesised as it plays, piece by piece
    # A bad --to is refused before anything opens. VMC is no agent: it takes the mouth weights.
    vmc = VmcSender(args.to) if is_vmc_url(args.to) else None
    motion = motion_of(args)
    if vmc is None and motion.scaled:
        err("lipsync: warning: --intensity and --gain scale the curves engines get (VMC, files, serve); "
            "MMDAgent-EX draws its own lip.txt (scale its rows with 'lipsync map set')")
    transport = None if vmc is not None else open_transport(args.to, wait=args.wait,
                                                            any_client=args.any_client, model=alias)
    if engine is not None:
        engine.prepare()  # no engine (exit 3) or no such speaker before the agent sees us
    start = [0.0]

    def show(direction: str, at: float, line: str) -> None:
        err(f"{at - start[0]:9.3f} s {direction} {line.rstrip()}")

    install()
    with Speaker(
        transport, alias, audio=args.audio, lipmap=lipmap, voice=args.voice, speed=args.speed,
        half_tone=args.half_tone, latency=args.latency / 1000, sync=args.sync,
        event_timeout=EVENT_TIMEOUT if args.event_timeout is None else args.event_timeout / 1000,
        unknown=args.unknown, motion=motion,
        on_line=show if args.verbose else None, fps=args.fps, on_weights=vmc, tts=engine,
    ) as speaker:
        start[0] = speaker.clock.now()
        if audio is not None and timeline is not None:
            utterance = speaker.say(audio, timeline)
        elif args.text == "-":
            utterance = speaker.say(_stdin_text())
        else:
            utterance = speaker.say(args.text)
        utterance.wait()
        if transport is not None and speaker.reached_agent(timeout=NO_EVENT_AFTER) is False:
            raise AgentUnreachable(
                f"lipsync: no LIPSYNC_START reached the agent at {transport.url}: it sent nothing back "
                "(no copy of our line, no LIPSYNC_EVENT_START); it may have crashed or stopped reading"
            )
    if not any(name not in PAUSES for name in utterance.timeline.names):
        who = "Open JTalk" if engine is None else engine.name
        raise ValueRefused(f"nothing to say: the text has no words {who} can speak (only "
                           "punctuation, symbols or emoji?)")
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
    add_motion_arguments(p)
    p.add_argument("--model", metavar="ALIAS",
                   help="the name the agent loaded the model under (MODEL_ADD|ALIAS|... in its .fst; "
                   f"'gene' in MMDAgent-EX's sample); --to stdout prints '{STDOUT_ALIAS}' if none is given")
    p.add_argument("--to", default=DEFAULT_URL, metavar="URL",
                   help=f"tcp://HOST:PORT (default {DEFAULT_URL}), ws://HOST:PORT/PATH "
                   "(the agent connects to us), 'exec:PATH/MMDAgent-EX main.mdf' (started as our child, "
                   "over its stdin and stdout: use_stdinout=true in the .mdf), stdout, or "
                   "vmc://HOST:PORT (VMC blend shapes, e.g. VSeeFace with --map vrm0)")
    p.add_argument("--fps", type=finite_float(1, 240), default=60.0, help="VMC frames a second (default 60)")
    p.add_argument("--server", metavar="URL",
                   help="hand the speech to a running 'lipsync serve' at ws://HOST:PORT instead")
    p.add_argument("--audio", choices=OUTPUTS, default="miniaudio", help="audio output (default miniaudio)")
    p.add_argument("--latency", type=finite_float(-10_000, 10_000), default=0.0, metavar="MS",
                   help="send each LIPSYNC_START this much later (negative: earlier)")
    p.add_argument("--sync", choices=("event", "clock"),
                   help="event: start the sound when the agent's motion starts (default with an agent); "
                   "clock: START on the first sample (default for stdout)")
    p.add_argument("--event-timeout", type=finite_float(0, 10_000), metavar="MS",
                   help="with --sync event, how long an utterance's sound waits for the agent's "
                   "LIPSYNC_EVENT_START (default: lipsync.live.speaker.EVENT_TIMEOUT, 500); a later one "
                   "still counts")
    p.add_argument("--wait", type=finite_float(0, 3600), metavar="SECONDS",
                   help="how long to wait for the agent (default: one try for tcp, 10 s for ws, 30 s "
                   "for exec: to add the model)")
    p.add_argument("--any-client", action="store_true",
                   help="ws:// only: take any WebSocket client as the agent (default: only MMDAgent-EX, "
                   "which sends X-App-Type: MMDAgent and no Origin; a web page could otherwise connect)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="show each line sent and heard, with its time")
    p.set_defaults(handler=_say)
