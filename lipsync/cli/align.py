"""``lipsync align``: any voice's audio (and the text it says) -> the LIPSYNC sequence, JSON or labels.

Without the text, the phonemes are heard from the audio alone (``lipsync.alignment.recognize``).

Also what other commands share about audio that arrives with its own labels: writing a
timeline to the files ``-o`` names (format by extension), the length check between labels
and their audio, and ``--fit`` (re-align a label's phonemes to the audio).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from lipsync._atomic import write_atomic
from lipsync.cli.io import UsageError, err, out

if TYPE_CHECKING:  # loaded when a command runs, not to build the parser
    from lipsync.sound import Audio
    from lipsync.timeline import Timeline

__all__ = ["add_align_command", "check_lengths", "fit_labels", "write_outputs"]

#: One video frame at 30 fps: labels and audio further apart than this are worth a warning.
VIDEO_FRAME = Fraction(1, 30)
_OUTPUTS = ".lab, .TextGrid, .txt (Audacity), .json"
#: How the two compare, for the help texts (bench/test_bench_recognize.py, bench/test_bench_align.py).
_ACCURACY = "the mouth right in about 9 of 10 frames heard alone, against nearly all aligned"


def write_outputs(
    paths: Sequence[Path], timeline: Timeline, audio: Audio | None, confidence: Sequence[float] | None = None
) -> None:
    """Write ``timeline`` (and ``audio`` to ``.wav`` paths) to each file, by its extension.

    Every path is checked before any file is written, and each is written atomically. An
    alignment's ``confidence`` goes into ``.json`` files.
    """
    from lipsync.labels.write import LABEL_FORMATS, format_json, label_format_for

    kinds = []
    for path in paths:
        kind = "wav" if path.suffix.lower() == ".wav" else label_format_for(path)
        if kind is None:
            raise UsageError(f"-o {path}: expected a file ending in .wav, {_OUTPUTS}")
        if kind == "wav" and audio is None:
            raise UsageError(f"-o {path}: there is no audio to write (only synthesised speech has it)")
        kinds.append(kind)
    for path, kind in zip(paths, kinds, strict=True):
        if kind == "wav":
            assert audio is not None
            audio.save_wav(path)
        elif kind == "json" and audio is not None:
            text = format_json(timeline, sample_rate=audio.sample_rate, samples=len(audio),
                               confidence=confidence)
            write_atomic(path, text.encode())
        else:
            write_atomic(path, LABEL_FORMATS[kind](timeline).encode())


def print_timeline(
    timeline: Timeline, audio: Audio | None, *, as_json: bool, confidence: Sequence[float] | None = None
) -> None:
    """The LIPSYNC sequence, or the JSON of ``timeline --json`` (with an alignment's confidence)."""
    from lipsync.labels.write import format_json

    if as_json:
        rate = None if audio is None else audio.sample_rate
        samples = None if audio is None else len(audio)
        out(format_json(timeline, sample_rate=rate, samples=samples, confidence=confidence).rstrip("\n"))
    else:
        out(timeline.to_sequence())


def check_lengths(timeline: Timeline, audio: Audio, labels: str, audio_name: str) -> bool:
    """Warn (and say so) when labels and their audio differ by more than a video frame."""
    if abs(timeline.end - audio.duration) <= VIDEO_FRAME:
        return True
    err(f"lipsync: warning: {labels} ends at {float(timeline.end):.3f} s but {audio_name} lasts "
        f"{float(audio.duration):.3f} s: they differ by more than a video frame (1/30 s); "
        "--fit re-aligns the labels' phonemes to the audio")
    return False


def fit_labels(timeline: Timeline, audio: Audio, *, strict: bool = False) -> Timeline:
    """The label's phonemes re-aligned to ``audio``; its pauses may move, its durations guide."""
    from lipsync.alignment.aligner import Plan, align_plan

    pauses = {"sil", "pau", "sp", "silB", "silE"}
    names: list[str] = []
    optional: list[bool] = []
    expected: list[float] = []
    pause_before = False
    for phone in timeline:
        if phone.name in pauses:
            pause_before = bool(names)
            continue
        names.append(phone.name)
        optional.append(pause_before)
        expected.append(float(phone.duration))
        pause_before = False
    if not names:
        raise UsageError("--fit: the labels have no phonemes to align, only pauses")
    plan = Plan(tuple(names), tuple(optional), tuple(expected))
    result = align_plan(audio, plan, strict=strict)
    for warning in result.warnings:
        err(f"lipsync: warning: {warning}")
    return result.timeline


def named(audio_name: str, error: Exception) -> Exception:
    """An alignment refusal with the audio file's name in front."""
    from lipsync.alignment.aligner import AlignmentRefused

    return AlignmentRefused(f"{audio_name}: {error}")


def _align(args: argparse.Namespace) -> int:
    from lipsync.alignment.aligner import AlignmentRefused, alignment
    from lipsync.maps.named import load_map
    from lipsync.maps.resolver import resolve
    from lipsync.sound import Audio

    given = [name for name in ("text", "kana", "phonemes") if getattr(args, name) is not None]
    if len(given) > 1:
        raise UsageError("give at most one of TEXT, --kana KANA or --phonemes \"pau k o N ...\"")
    for path in args.output:
        if path.suffix.lower() == ".wav":
            raise UsageError(f"-o {path}: align writes labels ({_OUTPUTS}), not audio")
    lipmap = load_map(args.map)
    audio = Audio.load(args.audio)
    confidence: Sequence[float] | None = None
    if not given:  # no text: the phonemes heard in the audio alone
        from lipsync.alignment.recognize import recognize

        heard = recognize(audio)
    else:
        try:
            result = alignment(audio, args.text, kana=args.kana, phonemes=args.phonemes, strict=args.strict)
        except AlignmentRefused as exc:
            raise named(str(args.audio), exc) from None
        for warning in result.warnings:
            err(f"lipsync: warning: {args.audio}: {warning}")
        heard, confidence = result.timeline, result.confidence
    timeline, warnings = resolve(heard, lipmap, unknown=args.unknown)
    for warning in warnings:
        err(f"lipsync: warning: {warning}")
    write_outputs(args.output, timeline, audio, confidence)
    print_timeline(timeline, audio, as_json=args.json, confidence=confidence)
    return 0


def add_align_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "align", help="find each phoneme in any voice's audio (WAV, FLAC, MP3, Ogg), with its text or not",
        description="Align the text a voice said (or its kana reading, or its phonemes) to the audio, "
        "and print the LIPSYNC sequence (or --json); -o writes .lab (HTK), .TextGrid (Praat), "
        ".txt (Audacity labels) or .json by extension. Exit 2 when the audio does not say the text. "
        "Without TEXT, the phonemes are heard from the audio alone (recognised): when the text is "
        "known, give it, aligning is more accurate (" + _ACCURACY + ").",
    )
    p.add_argument("audio", type=Path, metavar="AUDIO", help="the speech: WAV, FLAC, MP3 or Ogg Vorbis")
    p.add_argument("text", nargs="?", metavar="TEXT",
                   help="the Japanese text it says (none: heard from the audio alone)")
    p.add_argument("--kana", metavar="KANA", help="the reading, in kana, instead of TEXT")
    p.add_argument("--phonemes", metavar="PHONEMES", help='the phonemes instead of TEXT: "pau k o N n i ..."')
    p.add_argument("--json", action="store_true",
                   help="print JSON with exact start and duration, and each phoneme's confidence (0 to 1)")
    p.add_argument("--strict", action="store_true",
                   help="refuse a doubtful alignment (exit 2) instead of giving it with a warning")
    p.add_argument("-o", "--output", type=Path, action="append", default=[], metavar="FILE",
                   help="also write the labels here (repeatable; the format by extension)")
    p.add_argument("--map", metavar="NAME|FILE",
                   help="lip map: a named map (lipsync map list) or a file (default: mmdagent)")
    p.add_argument("--unknown", metavar="PHONEME",
                   help="draw phonemes the map lacks as this one, with a warning (default: refuse)")
    p.set_defaults(handler=_align)
