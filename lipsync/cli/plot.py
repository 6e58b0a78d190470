"""``lipsync plot``: a picture of speech (waveform, phoneme spans, mouth curves) to check by eye."""

from __future__ import annotations

import argparse
from pathlib import Path

from lipsync._atomic import write_atomic
from lipsync.cli.io import UsageError, err, out
from lipsync.cli.progress import LONG_TEXT, Progress
from lipsync.cli.speech import add_motion_arguments, add_source_arguments, load_speech, motion_of
from lipsync.sound import Audio
from lipsync.timeline import Timeline

__all__ = ["add_plot_command", "speak"]


def speak(text: str, args: argparse.Namespace) -> tuple[Audio, Timeline]:
    """Synthesise ``text`` (by Open JTalk, or the --tts engine); a long one piece by piece,
    with progress on a terminal."""
    from lipsync.cli.speech import engine_from, engine_said
    from lipsync.speech.synthesis import synthesize

    engine = engine_from(args)
    if engine is not None:
        audio, timeline = engine_said(engine, text)
        assert audio is not None
        return audio, timeline
    if len(text) <= LONG_TEXT:
        return synthesize(text, voice=args.voice, speed=args.speed, half_tone=args.half_tone)
    from lipsync.speech.pieces import joined_speech, split_text

    progress = Progress("synthesising piece", len(split_text(text)))
    try:
        return joined_speech(text, voice=args.voice, speed=args.speed, half_tone=args.half_tone,
                             on_piece=lambda number: progress.update(min(number, progress.total)))
    finally:
        progress.close()


def _plot(args: argparse.Namespace) -> int:
    from lipsync.maps.named import load_map
    from lipsync.maps.resolver import resolve
    from lipsync.motion import mouth_curves
    from lipsync.plot import PLOT_FORMATS, render

    if args.output is None:
        raise UsageError("plot needs -o FILE (its extension picks the format: .png or .svg)")
    fmt = args.output.suffix.lower().lstrip(".")
    if fmt not in PLOT_FORMATS:
        raise UsageError(f"-o {args.output}: the picture is written as .png or .svg")
    if args.wav is not None or args.text is None:
        # Recorded speech (--labels, --sequence, or aligned to --text/--kana/--phonemes), or labels
        # or a sequence alone: read as every command reads them.
        audio, timeline, lipmap = load_speech(args)
    else:
        if args.labels is not None or args.sequence is not None:
            raise UsageError("give exactly one of TEXT, --labels FILE or --sequence SEQ (or --wav AUDIO)")
        lipmap = load_map(args.map)
        audio, timeline = speak(args.text, args)
        timeline, warnings = resolve(timeline, lipmap, unknown=args.unknown)
        for warning in warnings:
            err(f"lipsync: warning: {warning}")
    motion = motion_of(args)
    if args.agent:
        from lipsync.curves import agent_curves
        from lipsync.motion.agent import agent_sequence

        sent = agent_sequence(timeline, lipmap) if motion.coarticulation else timeline.to_sequence()
        curves = agent_curves(Timeline.from_sequence(sent).shifted(timeline.start), lipmap)
    else:
        curves = mouth_curves(timeline, lipmap, motion)
    data = render(timeline, curves, audio, format=fmt, title=args.title)
    write_atomic(args.output, data)
    out(f"{args.output}: {fmt}, {len(data)} bytes")
    return 0


def add_plot_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "plot", help="draw the waveform, phoneme spans and mouth curves (PNG or SVG)",
        description="Draw speech on one time axis: the waveform with its phoneme spans, and each "
        "morph's weight (lipsync's motion; --no-coarticulation: MMDAgent-EX's own; --agent: what "
        "MMDAgent-EX draws of the sequence lipsync sends it). Needs matplotlib: "
        "pip install 'lipsync-ja[plot]'.",
    )
    add_source_arguments(p)
    add_motion_arguments(p)
    p.add_argument("--agent", action="store_true",
                   help="draw MMDAgent-EX's own motion of what lipsync sends it")
    p.add_argument("-o", "--output", type=Path, metavar="FILE.png|svg", help="the picture to write")
    p.add_argument("--title", metavar="TEXT", help="a title above the picture")
    p.set_defaults(handler=_plot)
