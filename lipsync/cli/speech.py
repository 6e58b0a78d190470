"""``lipsync timeline`` and ``lipsync curves``: where speech comes from, and what it becomes."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from lipsync._atomic import write_atomic
from lipsync.cli.heard import NO_TEXT
from lipsync.cli.io import UsageError, err, finite_float, out
from lipsync.cli.progress import long_text_note
from lipsync.errors import UntimedLabels
from lipsync.labels import FORMATS

if TYPE_CHECKING:  # loaded when a command runs, not to build the parser
    from lipsync.engines.base import Engine, EngineVoice
    from lipsync.maps.lipmap import LipMap
    from lipsync.motion.settings import Motion
    from lipsync.sound import Audio
    from lipsync.timeline import Timeline

__all__ = [
    "add_engine_arguments", "add_motion_arguments", "add_source_arguments", "add_speech_commands",
    "engine_from", "engine_said", "engine_voice", "load_speech", "motion_of",
]

#: The engine settings' options, their EngineVoice names, and their ranges.
_SETTINGS = (("--pitch", "pitch", -1, 1), ("--intonation", "intonation", 0, 5), ("--volume", "volume", 0, 5),
             ("--pre-phoneme", "pre_phoneme", 0, 10), ("--post-phoneme", "post_phoneme", 0, 10))


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
    parser.add_argument("--strict", action="store_true",
                        help="refuse a doubtful alignment of --wav (exit 2) instead of warning")
    parser.add_argument("--voice", type=Path, metavar="FILE", help="an .htsvoice (default: mei_normal)")
    parser.add_argument("--speed", type=finite_float(0.1, 10), default=1.0,
                        help="speaking rate, 0.1 to 10 (default 1.0; with --tts, the engine's speedScale)")
    parser.add_argument("--half-tone", type=finite_float(-48, 48), default=0.0, metavar="N",
                        help="pitch shift in semitones, -48 to 48")
    parser.add_argument("--map", metavar="NAME|FILE",
                        help="lip map: a named map (lipsync map list) or a file (default: mmdagent; "
                        "for export, the format's own, see above)")
    parser.add_argument("--unknown", metavar="PHONEME",
                        help="draw phonemes the map lacks as this one, with a warning (default: refuse)")
    add_engine_arguments(parser)


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """--tts URL (a TTS engine speaks TEXT instead of Open JTalk), --speaker, the engine's settings."""
    parser.add_argument("--tts", metavar="URL",
                        help="a TTS engine speaks TEXT instead of Open JTalk: voicevox://HOST:PORT, "
                        "aivisspeech://HOST:PORT, sbv2://HOST:PORT (Style-Bert-VITS2) or "
                        "coeiroink://HOST:PORT (ports default to 50021, 10101, 5000, 50032)")
    parser.add_argument("--speaker", metavar="ID",
                        help="the engine's speaker: a style id (Style-Bert-VITS2: MODEL or MODEL/STYLE); "
                        "default: the first it lists")
    for option, name, low, high in _SETTINGS:
        parser.add_argument(option, dest=name, type=finite_float(low, high), metavar="X",
                            help=f"the engine's {name.replace('_', ' ')} ({low} to {high}; "
                            "VOICEVOX and AivisSpeech only)")


def engine_voice(args: argparse.Namespace) -> EngineVoice | None:
    """The voice ``--speaker`` and the settings give (``None`` without ``--tts``), checked."""
    from lipsync.engines.base import EngineVoice

    given = [option for option, name, _, _ in _SETTINGS if getattr(args, name, None) is not None]
    if getattr(args, "speaker", None) is not None:
        given.insert(0, "--speaker")
    if getattr(args, "tts", None) is None:
        if given:
            raise UsageError(f"{given[0]} sets the TTS engine's voice: give --tts URL")
        return None
    if getattr(args, "voice", None) is not None or getattr(args, "half_tone", 0.0) != 0.0:
        raise UsageError("--voice and --half-tone shape Open JTalk's voice; with --tts, the engine's "
                         "voice is --speaker (and --pitch)")
    speaker: int | str | None = args.speaker
    if isinstance(speaker, str) and speaker.isascii() and speaker.isdigit():
        speaker = int(speaker)
    speed = getattr(args, "speed", 1.0)
    settings = {name: getattr(args, name, None) for _, name, _, _ in _SETTINGS}
    return EngineVoice(speaker=speaker, speed=None if speed == 1.0 else speed, **settings)


def engine_said(engine: Engine, text: str, *, need_audio: bool = True) -> tuple[Audio | None, Timeline]:
    """``text`` spoken whole by ``engine`` (or timed only), with progress on a terminal."""
    from lipsync.cli.progress import Progress
    from lipsync.engines.stream import engine_speech, engine_timing
    from lipsync.speech.pieces import split_text

    if not need_audio:
        return None, engine_timing(engine, text)
    progress = Progress(f"{engine.name}: piece", len(split_text(text)))
    try:
        return engine_speech(engine, text, on_piece=lambda n: progress.update(min(n, progress.total)))
    finally:
        progress.close()


def engine_from(args: argparse.Namespace) -> Engine | None:
    """The TTS engine ``--tts`` names (not yet asked anything), or ``None``."""
    voice = engine_voice(args)
    if voice is None:
        return None
    sources = (("--wav", "wav"), ("--pcm", "pcm"), ("--labels", "labels"), ("--sequence", "sequence"))
    for option, name in sources:
        if getattr(args, name, None) is not None:
            raise UsageError(f"--tts speaks TEXT; {option} brings speech of its own")
    from lipsync.engines import open_engine

    return open_engine(args.tts, voice)


def add_motion_arguments(parser: argparse.ArgumentParser) -> None:
    """How the mouth moves: lipsync's rules or MMDAgent-EX's own, how big, per-morph gains."""
    parser.add_argument("--no-coarticulation", dest="coarticulation", action="store_false",
                        help="MMDAgent-EX's own motion (the old curves; the agent gets the plain "
                        "sequence): no closure on m/b/p, no look-ahead")
    parser.add_argument("--intensity", type=finite_float(0, 3), default=1.0, metavar="X",
                        help="scale every mouth weight, 0 to 3 (default 1; engines and files, not "
                        "MMDAgent-EX, which draws its own lip.txt)")
    parser.add_argument("--gain", action="append", default=[], metavar="MORPH=X",
                        help="scale one morph (repeatable), e.g. --gain aa=0.8")
    parser.add_argument("--gains", type=Path, metavar="FILE",
                        help="a file of MORPH GAIN lines (# comments); --gain overrides it")


def motion_of(args: argparse.Namespace) -> Motion:
    """The ``Motion`` the command line asks for."""
    from lipsync.motion.settings import Motion, parse_gains, read_gains

    gains = dict(read_gains(args.gains)) if args.gains is not None else {}
    for given in args.gain:
        name, equals, value = given.partition("=")
        if not equals:
            raise UsageError(f"--gain {given[:40]!r}: expected MORPH=X, e.g. --gain aa=0.8")
        gains.update(parse_gains(f"{name} {value}", "--gain"))
    return Motion.of(coarticulation=args.coarticulation, intensity=args.intensity, gains=gains)


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
            timeline = align(audio, args.spoken, kana=args.kana, phonemes=args.phonemes, strict=args.strict)
            return audio, timeline
        except AlignmentRefused as exc:
            raise named(str(args.wav), exc) from None
    if args.labels is not None:
        try:
            timeline = read_labels(
                args.labels, args.label_format, tier=args.tier, voice=args.voice, speed=args.speed
            )
        except UntimedLabels:  # phonemes without times (AivisSpeech's query): align the audio to them
            return audio, _aligned_query(args, audio)
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
            return audio, fit_labels(timeline, audio, strict=args.strict)
        except AlignmentRefused as exc:
            raise named(str(args.wav), exc) from None
    check_lengths(timeline, audio, name, str(args.wav))
    return audio, timeline


def _aligned_query(args: argparse.Namespace, audio: Audio) -> Timeline:
    """``--wav AUDIO`` aligned to the phonemes of an untimed ``--labels`` query."""
    from lipsync.alignment.aligner import AlignmentRefused
    from lipsync.alignment.query import align_query
    from lipsync.cli.align import named
    from lipsync.labels import read_query_phonemes

    if args.fit:
        raise UsageError("--fit re-aligns timed labels; these have no timing and are aligned anyway")
    try:
        return align_query(audio, read_query_phonemes(args.labels))
    except AlignmentRefused as exc:
        raise named(str(args.wav), exc) from None


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
    engine = engine_from(args)
    audio: Audio | None = None
    if engine is not None:
        audio, timeline = engine_said(engine, args.text, need_audio=need_audio)
    elif args.wav is not None:
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
    from lipsync.export.curves import curves_csv, curves_json, keyframes_json
    from lipsync.motion import mouth_curves

    _, timeline, lipmap = load_speech(args, need_audio=False)
    motion = motion_of(args)
    sequence = None
    if args.agent:
        from lipsync.curves import agent_curves
        from lipsync.motion.agent import agent_sequence
        from lipsync.timeline import Timeline

        sequence = agent_sequence(timeline, lipmap) if motion.coarticulation else timeline.to_sequence()
        curves = agent_curves(Timeline.from_sequence(sequence).shifted(timeline.start), lipmap)
    else:
        curves = mouth_curves(timeline, lipmap, motion)
    if args.keyframes:
        text = keyframes_json(curves, sequence)
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
        "curves", help="print per-morph mouth weights over time (lipsync's motion, or the agent's)",
        description="Print the mouth curves of speech for engines: by lipsync's rules (closure on "
        "m/b/p, shapes a little ahead of their sound), or with --no-coarticulation as MMDAgent-EX "
        "draws them. --agent: the motion MMDAgent-EX draws of the sequence lipsync sends it.",
    )
    add_source_arguments(p)
    add_motion_arguments(p)
    p.add_argument("--agent", action="store_true",
                   help="MMDAgent-EX's own motion of what lipsync sends it as one START (with "
                   "--keyframes, the sequence too)")
    p.add_argument("--fps", type=finite_float(1, 1000), default=60.0,
                   help="samples per second, 1 to 1000 (default 60)")
    p.add_argument("--output-format", dest="output_format", choices=("json", "csv"),
                   help="json or csv (default: by the -o extension, else json)")
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help="write here instead of printing")
    p.add_argument("--keyframes", action="store_true", help="print the 30 fps keyframes")
    p.set_defaults(handler=_curves)
