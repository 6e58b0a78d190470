"""``lipsync plot``: a picture of speech (waveform, phoneme spans, mouth curves) to check by eye."""

from __future__ import annotations

import argparse
from pathlib import Path

from lipsync._atomic import write_atomic
from lipsync._cli_io import UsageError, err, out
from lipsync._cli_progress import LONG_TEXT, Progress
from lipsync._cli_speech import add_source_arguments, load_speech
from lipsync.sound import Audio
from lipsync.timeline import Timeline

__all__ = ["add_plot_command", "speak"]


def speak(text: str, args: argparse.Namespace) -> tuple[Audio, Timeline]:
    """Synthesise ``text``; a long one piece by piece, with progress on a terminal."""
    from lipsync.jtalk import synthesize

    if len(text) <= LONG_TEXT:
        return synthesize(text, voice=args.voice, speed=args.speed, half_tone=args.half_tone)
    import numpy as np

    from lipsync.stream import speech_pieces, split_text

    progress = Progress("synthesising piece", len(split_text(text)))
    audio: list[Audio] = []
    timeline: Timeline | None = None
    try:
        for number, piece in enumerate(
            speech_pieces(text, voice=args.voice, speed=args.speed, half_tone=args.half_tone), start=1
        ):
            progress.update(min(number, progress.total))
            audio.append(piece.audio)
            timeline = piece.timeline if timeline is None else timeline + piece.timeline
    finally:
        progress.close()
    if timeline is None:
        from lipsync.errors import ValueRefused

        raise ValueRefused(f"nothing to say in {text[:40]!r}: Open JTalk found no speech")
    rate = audio[0].sample_rate
    return Audio(np.concatenate([a.samples for a in audio]), rate), timeline


def _plot(args: argparse.Namespace) -> int:
    from lipsync.curves import mouth_curves
    from lipsync.labels import read_labels
    from lipsync.lipmap import load_map
    from lipsync.plot import PLOT_FORMATS, render
    from lipsync.resolver import resolve

    fmt = args.output.suffix.lower().lstrip(".")
    if fmt not in PLOT_FORMATS:
        raise UsageError(f"-o {args.output}: the picture is written as .png or .svg")
    audio: Audio | None = None
    if args.wav is not None:
        # Recorded speech: timed by --labels or --sequence, or aligned to --text/--kana/--phonemes.
        audio, timeline, lipmap = load_speech(args)
    else:
        given = [n for n in ("text", "labels", "sequence") if getattr(args, n) is not None]
        if len(given) != 1:
            raise UsageError("give exactly one of TEXT, --labels FILE or --sequence SEQ (or --wav AUDIO)")
        lipmap = load_map(args.map)
        if args.text is not None:
            audio, timeline = speak(args.text, args)
        elif args.labels is not None:
            timeline = read_labels(
                args.labels, args.label_format, tier=args.tier, voice=args.voice, speed=args.speed
            )
        else:
            timeline = Timeline.from_sequence(args.sequence)
        timeline, warnings = resolve(timeline, lipmap, unknown=args.unknown)
        for warning in warnings:
            err(f"lipsync: warning: {warning}")
    data = render(timeline, mouth_curves(timeline, lipmap), audio, format=fmt, title=args.title)
    write_atomic(args.output, data)
    out(f"{args.output}: {fmt}, {len(data)} bytes")
    return 0


def add_plot_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "plot", help="draw the waveform, phoneme spans and mouth curves (PNG or SVG)",
        description="Draw speech on one time axis: the waveform with its phoneme spans, and each "
        "morph's weight as MMDAgent-EX draws it. Needs matplotlib: pip install 'lipsync-ja[plot]'.",
    )
    add_source_arguments(p)
    p.add_argument("-o", "--output", type=Path, required=True, metavar="FILE.png|svg")
    p.add_argument("--title", metavar="TEXT", help="a title above the picture")
    p.set_defaults(handler=_plot)
