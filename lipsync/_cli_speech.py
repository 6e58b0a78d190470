"""``lipsync timeline`` and ``lipsync curves``: where speech comes from, and what it becomes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lipsync._atomic import write_atomic
from lipsync._cli_io import UsageError, err, out
from lipsync._cli_progress import long_text_note
from lipsync.labels import FORMATS, read_labels
from lipsync.labels.segments import format_mono
from lipsync.lipmap import LipMap, load_map
from lipsync.resolve import resolve
from lipsync.sound import Audio
from lipsync.timeline import Timeline

__all__ = ["add_source_arguments", "add_speech_commands", "load_speech"]


def add_source_arguments(
    parser: argparse.ArgumentParser, *, format_option: str = "--format", sequence: bool = True
) -> None:
    """TEXT, or --labels FILE, or --sequence SEQ; voice options; the map to check against."""
    parser.add_argument("text", nargs="?", metavar="TEXT", help="Japanese text, spoken by Open JTalk")
    parser.add_argument("--labels", type=Path, metavar="FILE", help="read a label file instead")
    parser.add_argument(format_option, dest="label_format", choices=FORMATS,
                        help="the label format (default: detected)")
    parser.add_argument("--tier", metavar="NAME", help="the TextGrid tier with the phonemes")
    if sequence:
        parser.add_argument("--sequence", metavar="SEQ", help="a LIPSYNC sequence: sil,187,k,75,...")
    parser.add_argument("--voice", type=Path, metavar="FILE", help="an .htsvoice (default: mei_normal)")
    parser.add_argument("--speed", type=float, default=1.0, help="speaking rate (default 1.0)")
    parser.add_argument("--half-tone", type=float, default=0.0, metavar="N", help="pitch shift in semitones")
    parser.add_argument("--map", metavar="NAME|FILE",
                        help="lip map: a named map (lipsync map list) or a file (default: mmdagent)")
    parser.add_argument("--unknown", metavar="PHONEME",
                        help="draw phonemes the map lacks as this one, with a warning (default: refuse)")


def load_speech(
    args: argparse.Namespace, *, need_audio: bool = True
) -> tuple[Audio | None, Timeline, LipMap]:
    """The audio (when synthesised), the timeline with names the map knows, and the map.

    Without ``need_audio``, text is timed by Open JTalk's duration step alone (no audio).
    """
    given = [name for name in ("text", "labels", "sequence") if getattr(args, name, None) is not None]
    if len(given) != 1:
        raise UsageError("give exactly one of TEXT, --labels FILE or --sequence SEQ")
    lipmap = load_map(args.map)
    audio: Audio | None = None
    if args.text is not None and not need_audio:
        from lipsync.jtalk import durations

        with long_text_note(args.text, "timing"):
            timeline = durations(args.text, voice=args.voice, speed=args.speed)
    elif args.text is not None:
        from lipsync.jtalk import synthesize

        with long_text_note(args.text, "synthesising"):
            audio, timeline = synthesize(
                args.text, voice=args.voice, speed=args.speed, half_tone=args.half_tone
            )
    elif args.labels is not None:
        timeline = read_labels(
            args.labels, args.label_format, tier=args.tier, voice=args.voice, speed=args.speed
        )
    else:
        timeline = Timeline.from_sequence(args.sequence)
    timeline, warnings = resolve(timeline, lipmap, unknown=args.unknown)
    for warning in warnings:
        err(f"lipsync: warning: {warning}")
    return audio, timeline, lipmap


def _timeline(args: argparse.Namespace) -> int:
    if args.wav is not None and args.text is None:
        raise UsageError("--wav needs TEXT: only synthesised speech has audio to write")
    audio, timeline, _ = load_speech(args, need_audio=args.wav is not None or args.json)
    if args.wav is not None and audio is not None:
        audio.save_wav(args.wav)
    if args.lab is not None:
        write_atomic(args.lab, format_mono(timeline).encode())
    if args.json:
        data: dict[str, object] = {}
        if audio is not None:
            data = {"sample_rate": audio.sample_rate, "samples": len(audio)}
        data["phonemes"] = [
            {"name": p.name, "start_ms": p.start_ms, "duration_ms": p.duration_ms} for p in timeline
        ]
        out(json.dumps(data, ensure_ascii=False))
    else:
        out(timeline.to_sequence())
    return 0


def _curves(args: argparse.Namespace) -> int:
    from lipsync.curves import mouth_curves
    from lipsync.export.curves import curves_csv, curves_json, keyframes_json

    _, timeline, lipmap = load_speech(args, need_audio=False)
    curves = mouth_curves(timeline, lipmap)
    if args.keyframes:
        text = keyframes_json(curves)
    elif args.output_format == "csv":
        text = curves_csv(curves, args.fps)
    else:
        text = curves_json(curves, args.fps)
    out(text.rstrip("\n"))
    return 0


def add_speech_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "timeline", help="print the LIPSYNC sequence of speech (text, labels or a sequence)",
        description="Print the phoneme timeline of synthesised speech or a label file, with the "
        "synthesiser's own durations, as a LIPSYNC sequence (or --json).",
    )
    add_source_arguments(p)
    p.add_argument("--json", action="store_true", help="print JSON with exact start and duration")
    p.add_argument("--wav", type=Path, metavar="OUT", help="also write the synthesised audio")
    p.add_argument("--lab", type=Path, metavar="OUT", help="also write an HTK mono label, same times")
    p.set_defaults(handler=_timeline)

    p = commands.add_parser(
        "curves", help="print per-morph mouth weights over time, as MMDAgent-EX draws them",
        description="Print the mouth curves MMDAgent-EX would draw, for engines without it.",
    )
    add_source_arguments(p, format_option="--label-format")
    p.add_argument("--fps", type=float, default=60.0, help="samples per second (default 60)")
    p.add_argument("--format", dest="output_format", choices=("json", "csv"), default="json",
                   help="output format (default json)")
    p.add_argument("--keyframes", action="store_true", help="print the raw 30 fps keyframes")
    p.set_defaults(handler=_curves)
