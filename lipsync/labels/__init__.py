"""Label files -> ``Timeline``: one small reader per format, and detection by content.

Formats: ``hts`` (full-context labels with 100 ns times), ``mono`` (``start end phoneme``,
100 ns integers or seconds), ``julius`` (segmentation-kit / WaveSurfer, seconds),
``textgrid`` (Praat, long or short form), ``voicevox`` (an AudioQuery JSON) and ``json``
(the timeline JSON lipsync writes; ``lipsync.labels.write`` has the writers). Full-context
labels without times are timed by Open JTalk's HTS engine: the durations it would use.
An AudioQuery without timing (zero lengths) is refused (``UntimedLabels``);
``read_query_phonemes`` gives its phonemes, to align its audio to them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lipsync.errors import SourceError, ValueRefused, quote

if TYPE_CHECKING:
    from lipsync.labels.voicevox import QueryPhonemes
    from lipsync.timeline import Timeline
# The readers load when a file is read: the command line only needs FORMATS to start.

__all__ = ["FORMATS", "decode_labels", "detect_format", "read_labels", "read_query_phonemes"]

FORMATS = ("hts", "mono", "julius", "textgrid", "voicevox", "json")
_MAX_UNTIMED = 20_000  # labels: about an hour of speech
_JULIUS_NAMES = frozenset({"silB", "silE", "sp", "q"})


def detect_format(text: str) -> str:
    """Tell a label format from its content (see ``FORMATS``)."""
    from lipsync.labels.segments import is_full_context
    from lipsync.labels.timeline_json import is_timeline_json

    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("{"):
        return "json" if is_timeline_json(stripped) else "voicevox"
    if stripped.startswith(("File type", '"ooTextFile"')):
        return "textgrid"
    lines = [line.split() for line in stripped.splitlines() if line.strip()]
    if any(is_full_context(fields[-1]) for fields in lines[:3] if fields):
        return "hts"
    names = {fields[-1] for fields in lines if len(fields) == 3}
    if names & _JULIUS_NAMES or any(name.endswith(":") for name in names):
        return "julius"
    return "mono"


def read_labels(
    path: str | Path,
    format: str | None = None,
    *,
    tier: str | None = None,
    voice: str | Path | None = None,
    speed: float = 1.0,
) -> Timeline:
    """Read a label file as a timeline; ``format`` is detected when not given.

    ``tier`` picks a TextGrid tier; ``voice`` and ``speed`` time untimed full-context labels.
    """
    path = Path(path)
    if format is not None and format not in FORMATS:
        raise ValueRefused(f"label format {format!r} is not one of {', '.join(FORMATS)}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueRefused(f"{path}: cannot read: {exc.strerror or exc}") from exc
    return decode_labels(data, str(path), format, tier=tier, voice=voice, speed=speed)


def decode_labels(
    data: bytes,
    source: str,
    format: str | None = None,
    *,
    tier: str | None = None,
    voice: str | Path | None = None,
    speed: float = 1.0,
) -> Timeline:
    """A label file's bytes as a timeline (as ``read_labels``); ``source`` names it in errors."""
    from lipsync.labels.textgrid import decode_textgrid

    if format is not None and format not in FORMATS:
        raise ValueRefused(f"label format {format!r} is not one of {', '.join(FORMATS)}")
    try:
        text = decode_textgrid(data) if format in (None, "textgrid") else data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        found = f"byte 0x{data[exc.start]:02x}"
        raise SourceError(source, line, 1, f"expected UTF-8 text, found {found}") from None
    try:
        return _read(text, source, format, tier=tier, voice=voice, speed=speed)
    except ValueRefused as exc:
        if str(exc).startswith(source):
            raise
        raise ValueRefused(f"{source}: {exc}") from exc  # a bound the timeline keeps


def read_query_phonemes(path: str | Path) -> QueryPhonemes:
    """The phonemes of an AudioQuery file (timed or not), to align its audio to them."""
    from lipsync.labels.voicevox import query_phonemes

    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise ValueRefused(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        found = f"byte 0x{exc.object[exc.start]:02x}"
        raise SourceError(str(path), 1, 1, f"expected UTF-8 text, found {found}") from None
    return query_phonemes(text, str(path))


def _read(
    text: str, source: str, format: str | None, *, tier: str | None, voice: str | Path | None,
    speed: float,
) -> Timeline:
    from lipsync.labels.segments import OPEN_JTALK_LABEL, read_segments
    from lipsync.labels.textgrid import read_textgrid
    from lipsync.labels.timeline_json import read_timeline_json
    from lipsync.labels.voicevox import read_audio_query

    kind = format or detect_format(text)
    if kind == "voicevox":
        return read_audio_query(text, source)
    if kind == "json":
        return read_timeline_json(text, source)
    if kind == "textgrid":
        return read_textgrid(text, source, tier=tier)
    lines = [line for line in text.splitlines() if line.strip()]
    if kind == "hts" and lines and all(len(line.split()) == 1 for line in lines):
        from lipsync.speech.jtalk import time_labels

        for number, raw in enumerate(text.splitlines(), start=1):
            if raw.strip() and not OPEN_JTALK_LABEL.match(raw.strip()):
                raise SourceError(source, number, 1, "expected an Open JTalk full-context label "
                                  f"(p1^p2-p3+p4=p5/A:.../K:...), found {quote(raw.strip())}", text=text)
        if len(lines) > _MAX_UNTIMED:
            raise SourceError(source, _MAX_UNTIMED + 1, 1, f"expected at most {_MAX_UNTIMED} untimed "
                              "labels (the HTS engine times them all at once)", text=text)

        return time_labels([line.strip() for line in lines], voice=voice, speed=speed, source=source)
    return read_segments(text, source, seconds=True if kind == "julius" else None)
