"""``lipsync timeline`` and ``lipsync curves``: where speech comes from, and what it becomes."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from lipsync._atomic import write_atomic
from lipsync.cli.heard import NO_TEXT
from lipsync.cli.io import UsageError, err, finite_float, out
from lipsync.cli.progress import long_text_note
from lipsync.labels import FORMATS

if TYPE_CHECKING:  # loaded when a command runs, not to build the parser
    from lipsync.maps.lipmap import LipMap
    from lipsync.sound import Audio
    from lipsync.timeline import Timeline

__all__ = ["add_source_arguments", "add_speech_commands", "load_speech"]


def add_source_arguments(parser: argparse.ArgumentParser, *, sequence: bool = True) -> None:
    """Where speech comes from: TEXT to synthesise, or --wav AUDIO with its timing; the map.

    Every command reads these the same way: TEXT is spoken by Open JTalk; --wav is recorded
    speech (any voice), timed by --labels, --sequence, or aligned to --text/--kana/--phonemes.
    """
    parser.add_argument("text", nargs="?", metavar="TEXT", help="Japanese text, spoken by Open JTalk")
    parser.add_argument("--labels", type=Path, metavar="FILE", help="read a label file instead")
    parser.add_argument("--label-format", dest="label_format", choices=FORMATS,
                        help="the label format (default: detected)")
    parser.add_argument("--tier", metavar="NAME", help="the TextGrid tier with the phonemes")
    if sequence:
        parser.add_argument("--sequence", metavar="SEQ", help="a LIPSYNC sequence: sil,187,k,75,...")
    parser.add_argument("--wav", type=Path, metavar="AUDIO",
                        help="recorded speech (WAV, FLAC, MP3, Ogg), timed by --labels, --sequence, "
                        "aligned to --text, --kana or --phonemes, or alone: " + NO_TEXT)
    parser.add_argument("--text", dest="spoken", metavar="TEXT", help="the text --wav says (to align)")
    parser.add_argument("--kana", metavar="KANA", help="the reading --wav says, in kana (to align)")
    parser.add_argument("--phonemes", metavar="PHONEMES", help='the phonemes --wav says: "pau k o N ..."')
    parser.add_argument("--fit", action="store_true",
                        help="re-align the labels' (or sequence's) phonemes to --wav")
    parser.add_argument("--voice", type=Path, metavar="FILE", help="an .htsvoice (default: mei_normal)")
    parser.add_argument("--speed", type=finite_float(0.1, 10), default=1.0,
                        help="speaking rate, 0.1 to 10 (default 1.0)")
    parser.add_argument("--half-tone", type=finite_float(-48, 48), default=0.0, metavar="N",
                        help="pitch shift in semitones, -48 to 48")
    parser.add_argument("--map", metavar="NAME|FILE",
                        help="lip map: a named map (lipsync map list) or a file (default: mmdagent)")
    parser.add_argument("--unknown", metavar="PHONEME",
                        help="draw phonemes the map lacks as this one, with a warning (default: refuse)")


def _recorded(args: argparse.Namespace) -> tuple[Audio, Timeline]:
    """``--wav AUDIO`` and its timeline: from labels or a sequence (checked, or --fit), or aligned."""
    from lipsync.alignment.aligner import AlignmentRefused
    from lipsync.cli.align import check_lengths, fit_labels, named
    from lipsync.labels import read_labels
    from lipsync.sound import Audio
    from lipsync.timeline import Timeline

    audio = Audio.load(args.wav)
    said = [name for name in ("spoken", "kana", "phonemes") if getattr(args, name, None) is not None]
    if said:
        from lipsync.alignment.aligner import align

        if args.fit:
            raise UsageError("--fit re-aligns --labels or --sequence; --text and the like align anyway")
        try:
            return audio, align(audio, args.spoken, kana=args.kana, phonemes=args.phonemes)
        except AlignmentRefused as exc:
            raise named(str(args.wav), exc) from None
    if args.labels is not None:
        timeline = read_labels(
            args.labels, args.label_format, tier=args.tier, voice=args.voice, speed=args.speed
        )
        name = str(args.labels)
    elif args.sequence is None:  # no text, no labels: the phonemes heard in the audio alone
        from lipsync.alignment.recognize import recognize

        if args.fit:
            raise UsageError("--fit re-aligns --labels or --sequence: give them with --wav")
        return audio, recognize(audio)
    else:
        timeline = Timeline.from_sequence(args.sequence)
        name = "the sequence"
    if args.fit:
        try:
            return audio, fit_labels(timeline, audio)
        except AlignmentRefused as exc:
            raise named(str(args.wav), exc) from None
    check_lengths(timeline, audio, name, str(args.wav))
    return audio, timeline


def load_speech(
    args: argparse.Namespace, *, need_audio: bool = True
) -> tuple[Audio | None, Timeline, LipMap]:
    """The audio (synthesised or --wav), the timeline with names the map knows, and the map.

    Without ``need_audio``, text is timed by Open JTalk's duration step alone (no audio).
    """
    from lipsync.labels import read_labels
    from lipsync.maps.named import load_map
    from lipsync.maps.resolver import resolve
    from lipsync.timeline import Timeline

    sources = [name for name in ("text", "labels", "sequence") if getattr(args, name, None) is not None]
    said = [name for name in ("spoken", "kana", "phonemes") if getattr(args, name, None) is not None]
    if args.wav is None:
        if said:
            raise UsageError("--text, --kana and --phonemes say what --wav AUDIO says: give --wav")
        if args.fit:
            raise UsageError("--fit re-aligns labels to their audio: give --wav AUDIO")
        if len(sources) != 1:
            raise UsageError("give exactly one of TEXT, --labels FILE or --sequence SEQ")
    else:
        if args.text is not None:
            raise UsageError("TEXT is synthesised by Open JTalk; for the text --wav says, use --text TEXT")
        if len(sources) + len(said) > 1:
            raise UsageError("--wav AUDIO takes one of --labels, --sequence, --text, --kana or --phonemes "
                             "(or none: heard without its text)")
    lipmap = load_map(args.map)
    audio: Audio | None = None
    if args.wav is not None:
        audio, timeline = _recorded(args)
    elif args.text is not None and not need_audio:
        from lipsync.speech.synthesis import durations

        with long_text_note(args.text, "timing"):
            timeline = durations(args.text, voice=args.voice, speed=args.speed)
    elif args.text is not None:
        from lipsync.speech.synthesis import synthesize

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
    from lipsync.cli.align import print_timeline, write_outputs

    wants_wav = any(path.suffix.lower() == ".wav" for path in args.output or [])
    audio, timeline, _ = load_speech(args, need_audio=args.json or wants_wav)
    write_outputs(args.output, timeline, audio)
    print_timeline(timeline, audio, as_json=args.json)
    return 0


def _curves(args: argparse.Namespace) -> int:
    from lipsync.curves import mouth_curves
    from lipsync.export.curves import curves_csv, curves_json, keyframes_json

    _, timeline, lipmap = load_speech(args, need_audio=False)
    curves = mouth_curves(timeline, lipmap)
    if args.keyframes:
        text = keyframes_json(curves)
    else:
        kind = args.output_format
        if kind is None:
            kind = "csv" if args.output is not None and args.output.suffix.lower() == ".csv" else "json"
        text = curves_csv(curves, args.fps) if kind == "csv" else curves_json(curves, args.fps)
    if args.output is not None:
        write_atomic(args.output, (text.rstrip("\n") + "\n").encode())
    else:
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
    p.add_argument("-o", "--output", type=Path, action="append", default=[], metavar="FILE",
                   help="also write FILE (repeatable), by extension: .wav (the audio), .lab (HTK), "
                   ".TextGrid (Praat), .txt (Audacity labels), .json")
    p.set_defaults(handler=_timeline)

    p = commands.add_parser(
        "curves", help="print per-morph mouth weights over time, as MMDAgent-EX draws them",
        description="Print the mouth curves MMDAgent-EX would draw, for engines without it.",
    )
    add_source_arguments(p)
    p.add_argument("--fps", type=finite_float(1, 1000), default=60.0,
                   help="samples per second, 1 to 1000 (default 60)")
    p.add_argument("--output-format", dest="output_format", choices=("json", "csv"),
                   help="json or csv (default: by the -o extension, else json)")
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help="write here instead of printing")
    p.add_argument("--keyframes", action="store_true", help="print the raw 30 fps keyframes")
    p.set_defaults(handler=_curves)
