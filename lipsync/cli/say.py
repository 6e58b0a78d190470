"""``lipsync say``: speak through the sound card while the agent's lips follow."""

from __future__ import annotations

import argparse
import codecs
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from lipsync.cli.heard import NO_TEXT, add_lookahead, pcm_chunks, preload
from lipsync.cli.io import UsageError, err, finite_float, whole_number
from lipsync.cli.signals import install
from lipsync.cli.speech import add_motion_arguments, add_source_arguments, engine_from, load_speech, motion_of
from lipsync.errors import AgentUnreachable, ValueRefused
from lipsync.live.audio import OUTPUTS
from lipsync.live.transport import DEFAULT_URL, open_transport
from lipsync.maps.named import load_map
from lipsync.names import check_alias

if TYPE_CHECKING:
    from lipsync.engines.base import Engine
    from lipsync.live.speaker import Speaker, Utterance
    from lipsync.maps.lipmap import LipMap
    from lipsync.motion.settings import Motion
    from lipsync.timeline import Timeline

__all__ = ["STDOUT_ALIAS", "add_agent_arguments", "add_say_command", "agent_alias", "speak_with"]

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
    from lipsync.speech.pieces import speakable
    from lipsync.timeline import PAUSES

    if args.server is not None:
        from lipsync.cli.say_server import say_via_server

        return say_via_server(args)
    if args.model is None and args.to == "stdout":
        args.model = STDOUT_ALIAS  # lines to read, not to drive an agent: any alias shows them
    alias = agent_alias(args, "say")
    if args.wav is not None and args.text is not None:  # as export takes it: the text it says
        if args.spoken is not None or args.text == "-":
            raise UsageError("with --wav, give the text it says once: TEXT or --text TEXT")
        args.spoken, args.text = args.text, None
    if args.to == "stdout" and args.sync == "event":
        raise UsageError("--sync event waits for an agent's answers; --to stdout has none (the default "
                         "there is --sync clock)")
    if args.text is not None and args.text != "-" and not speakable(args.text):
        raise ValueRefused(f"nothing to say in {args.text[:40]!r}: no letters or digits (only "
                           "punctuation, symbols or emoji?)")
    heard = args.pcm is not None or (args.wav is not None and not any(
        getattr(args, name) is not None for name in ("labels", "sequence", "spoken", "kana", "phonemes")))
    source: object
    if args.pcm is not None:
        if any(getattr(args, name) is not None for name in ("wav", "text", "labels", "sequence")):
            raise UsageError("--pcm is the speech itself: no TEXT, --wav, --labels or --sequence with it")
        if args.rate is None:
            raise UsageError("--pcm needs the audio's --rate (e.g. --rate 24000); --channels if not mono")
    elif args.rate is not None or args.channels != 1:
        raise UsageError("--rate and --channels describe --pcm input")
    engine = engine_from(args)  # checked before anything opens
    if args.wav is not None or args.pcm is not None:
        ignored = [option for option, value, default in (
            ("--voice", args.voice, None), ("--speed", args.speed, 1.0), ("--half-tone", args.half_tone, 0.0),
        ) if value != default]
        if ignored:
            given = "--pcm" if args.pcm is not None else "--wav"
            raise UsageError(f"{', '.join(ignored)} shape synthesised speech: they do not apply to {given}")
    if args.pcm is not None:
        lipmap = load_map(args.map)
        source = pcm_chunks(args.pcm, round(args.rate or 0), args.channels)
    elif heard:  # --wav alone: heard without its text
        from lipsync.sound import Audio

        if args.fit:
            raise UsageError("--fit re-aligns --labels or --sequence: give them with --wav")
        lipmap = load_map(args.map)
        source = Audio.load(args.wav)
    elif args.wav is not None:
        # Any voice: --wav AUDIO with --labels, --sequence, or the --text it says (aligned).
        audio, timeline, lipmap = load_speech(args)
        source = (audio, timeline)
    else:
        if args.labels is not None or args.sequence is not None:
            raise UsageError("--labels and --sequence need the audio they describe: --wav FILE")
        if args.spoken is not None or args.kana is not None or args.phonemes is not None or args.fit:
            raise UsageError("--text, --kana, --phonemes and --fit go with recorded speech: --wav AUDIO")
        if args.text is None:
            raise UsageError("give the speech: TEXT, - (standard input), --wav AUDIO (with its --text, "
                             "--labels FILE or --sequence SEQ, or alone) or --pcm - (raw audio as it comes)")
        lipmap = load_map(args.map)
        source = _stdin_text() if args.text == "-" else args.text  # synthesised as it plays
    if heard:
        preload()

    def said(speaker: Speaker) -> Utterance:
        if isinstance(source, tuple):
            return speaker.say(*source)
        lookahead = args.lookahead / 1000 if args.pcm is not None else None
        return speaker.say(source, lookahead=lookahead)

    timeline = speak_with(args, alias, lipmap, said, motion=motion_of(args), engine=engine)
    if not any(name not in PAUSES for name in timeline.names):
        if heard:
            raise ValueRefused("nothing to say: no speech was heard in the audio")
        who = "Open JTalk" if engine is None else engine.name
        raise ValueRefused(f"nothing to say: the text has no words {who} can speak (only "
                           "punctuation, symbols or emoji?)")
    return 0


def agent_alias(args: argparse.Namespace, command: str) -> str | None:
    """The model alias ``--model`` names (checked), or ``None`` where no agent needs one (VMC)."""
    from lipsync.live.transport.vmc import is_vmc_url

    if not is_vmc_url(args.to):
        open_transport(args.to, model=args.model)  # a bad --to is named before a missing --model
    if args.model is None and not is_vmc_url(args.to):
        raise UsageError(
            f"{command} needs --model ALIAS: the name MMDAgent-EX loaded the model under "
            "(MODEL_ADD|ALIAS|... in its .fst; 'gene' in its sample), or --server URL, or --to vmc://HOST:PORT"
        )
    return check_alias(args.model) if args.model is not None else None


def speak_with(
    args: argparse.Namespace, alias: str | None, lipmap: LipMap, said: Callable[[Speaker], Utterance],
    *, audio: str | None = None, sync: str | None = None, motion: Motion | None = None,
    engine: Engine | None = None,
) -> Timeline:
    """Open the speaker the options describe (the agent, VMC, the audio output), speak what
    ``said`` queues, wait for it and check that the agent heard; the timeline spoken.

    ``engine`` (``--tts``) is asked first, so a missing engine fails before the agent sees us.
    """
    from lipsync.live.speaker import EVENT_TIMEOUT, NO_EVENT_AFTER, Speaker
    from lipsync.live.transport.vmc import VmcSender, is_vmc_url

    # A bad --to is refused before anything opens. VMC is no agent: it takes the mouth weights.
    vmc = VmcSender(args.to) if is_vmc_url(args.to) else None
    if vmc is None and motion is not None and motion.scaled:
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
        transport, alias, audio=audio or args.audio, lipmap=lipmap, voice=getattr(args, "voice", None),
        speed=getattr(args, "speed", 1.0), half_tone=getattr(args, "half_tone", 0.0),
        latency=args.latency / 1000, sync=sync or args.sync,  # type: ignore[arg-type]
        event_timeout=EVENT_TIMEOUT if args.event_timeout is None else args.event_timeout / 1000,
        unknown=args.unknown, motion=motion, on_line=show if args.verbose else None, fps=args.fps,
        on_weights=vmc, tts=engine,
    ) as speaker:
        start[0] = speaker.clock.now()
        utterance = said(speaker)
        utterance.wait()
        if transport is not None and speaker.reached_agent(timeout=NO_EVENT_AFTER) is False:
            raise AgentUnreachable(
                f"lipsync: no LIPSYNC_START reached the agent at {transport.url}: it sent nothing back "
                "(no copy of our line, no LIPSYNC_EVENT_START); it may have crashed or stopped reading"
            )
    # Done: a signal from here on has nothing left to stop, and must not cut the exit short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return utterance.timeline


def add_agent_arguments(p: argparse.ArgumentParser, *, sync: str) -> None:
    """Where the mouth goes (the agent, stdout, VMC) and how the agent is kept in step."""
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
    p.add_argument("--latency", type=finite_float(-10_000, 10_000), default=0.0, metavar="MS",
                   help="send each LIPSYNC_START this much later (negative: earlier)")
    p.add_argument("--sync", choices=("event", "clock"), help=sync)
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


def add_say_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "say", help="speak through the sound card while the agent moves its lips in step",
        description="Speak Japanese text (or play --wav AUDIO, any voice, with its --labels or "
        "--sequence, aligned to the --text it says, or heard without text; or raw PCM as it comes, "
        "--pcm -) and send LIPSYNC_START to MMDAgent-EX when the sound really starts; LIPSYNC_STOP "
        "when cut short. TEXT '-' reads standard input as it arrives. Audio " + NO_TEXT + ". "
        "Exit codes: 0 done, 2 bad input, 3 agent unreachable, 130 interrupted (after the STOP "
        "was sent).",
    )
    add_source_arguments(p)
    add_motion_arguments(p)
    p.add_argument("--pcm", type=Path, metavar="FILE|-",
                   help="raw 16-bit little-endian PCM as it comes (- for standard input: a TTS or "
                   "speech-to-speech pipe), heard without text; the sound is held back --lookahead")
    p.add_argument("--rate", type=finite_float(4000, 768_000), metavar="HZ", help="--pcm's sample rate")
    p.add_argument("--channels", type=whole_number(1, 32), default=1, metavar="N",
                   help="--pcm's channels, interleaved (default 1)")
    add_lookahead(p, 400, what="--pcm's sound is held back this long, so the mouth is on time")
    p.add_argument("--audio", choices=OUTPUTS, default="miniaudio", help="audio output (default miniaudio)")
    add_agent_arguments(p, sync="event: start the sound when the agent's motion starts (default with an "
                        "agent); clock: START on the first sample (default for stdout)")
    p.set_defaults(handler=_say)
