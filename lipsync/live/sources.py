"""What a ``say()`` speaks, and the pieces it becomes (audio and the timeline of exactly that audio).

- text, or an iterator of text still being written: Open JTalk (or a TTS engine), piece by piece;
- ``(audio, text)`` pairs: another voice, each piece aligned to its text;
- ``Audio`` chunks: a stream without text, heard as it comes (``lipsync.alignment.heard``),
  its sound to be held back by the look-ahead (``lipsync.live.incoming`` notes arrivals);
- a ``Piece`` (audio and its timeline), or ``Audio`` alone: a recording heard whole.

An iterator is told apart by its first item, looked at in the producer's thread (a generator
is read once): a ``str``, a ``tuple`` or an ``Audio``.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lipsync.errors import ValueRefused
from lipsync.live.clock import Clock
from lipsync.live.incoming import Incoming
from lipsync.sound import Audio
from lipsync.speech.pieces import Piece
from lipsync.timeline import Timeline

if TYPE_CHECKING:
    from lipsync.engines.base import Engine

__all__ = ["Ready", "Source", "Speech", "source_pieces", "speech_source"]

#: What ``Speaker.say`` takes.
Speech = str | Iterable[str] | Iterable[tuple[Audio, str]] | Iterable[Audio] | Audio
#: What one utterance speaks: as said, or a piece (audio with its timeline).
Source = Speech | Piece
#: A piece on its way to the output, and when it may sound (``None``: at once).
Ready = tuple[Piece, "float | None"]


def speech_source(
    speech: Speech, timeline: Timeline | None, text: str | None, *, fps: float | None = None,
    tts: object = None, lookahead: float | None = None, live: bool = False,
) -> Source:
    """What ``Speaker.say(speech, timeline, text=...)`` is to speak, its arguments checked
    (with ``fps``, ``tts``, ``lookahead`` and ``live``, which it must fit)."""
    if fps is not None and not fps > 0:
        raise ValueRefused(f"fps must be above 0, not {fps}")
    if tts is not None and isinstance(speech, Audio | Piece):  # (a stream's kind is known later)
        raise ValueRefused("tts= speaks text: say(text, tts=...), not audio")
    source = _source(speech, timeline, text)
    if lookahead is not None:
        if isinstance(source, str | Audio | Piece):
            raise ValueRefused("lookahead= goes with a stream of audio chunks: say(chunks, lookahead=...)")
        from lipsync.alignment.heard import stream_settings

        stream_settings(lookahead, live=live)  # checks its range now
    return source


def _source(speech: Speech, timeline: Timeline | None, text: str | None) -> Source:
    if isinstance(speech, Audio):
        if timeline is not None and text is not None:
            raise ValueRefused("audio goes with its timeline or its text, not both")
        if timeline is None and text is None:
            return speech  # no text: heard by the recogniser
        return Piece(speech, timeline) if timeline is not None else [(speech, text or "")]
    if text is not None:
        raise ValueRefused("text= goes with audio: say(audio, text=...)")
    if timeline is not None:
        raise ValueRefused("a timeline goes with audio: say(audio, timeline)")
    return speech


def _peek(source: Iterable[Any]) -> tuple[str, Iterable[Any]]:
    """What ``source`` holds (``"pairs"``, ``"audio"`` chunks, else ``"text"``) and all its items."""
    if isinstance(source, (list, tuple)):
        first = source[0] if source else None
        items: Iterable[Any] = source
    else:
        iterator = iter(source)
        first = next(iterator, None)
        items = itertools.chain([] if first is None else [first], iterator)
    kind = "pairs" if isinstance(first, tuple) else "audio" if isinstance(first, Audio) else "text"
    return kind, items


def source_pieces(
    source: Source, *, rate: int, clock: Clock, cancelled: threading.Event, lookahead: float,
    live: bool = False, voice: str | Path | None, speed: float, half_tone: float, tts: Engine | None = None,
) -> tuple[Iterable[Piece], Incoming | None]:
    """The pieces ``source`` makes (at ``rate`` where the source is heard), made lazily, and
    the stream they come from, when they do (its arrivals time their release)."""
    if isinstance(source, Piece):
        return [source], None
    if isinstance(source, Audio):  # no text: heard whole, a window at a time
        from lipsync.alignment.recognize import recording_pieces

        return recording_pieces(source, rate=rate), None
    if tts is not None and isinstance(source, str):
        return _engine_pieces(tts, source, cancelled), None
    if isinstance(source, str):
        from lipsync.speech.pieces import speech_pieces

        return speech_pieces(source, voice=voice, speed=speed, half_tone=half_tone), None
    kind, rest = _peek(source)
    if kind == "pairs":  # another voice: (audio, text) pieces, each aligned here
        from lipsync.alignment.pieces import aligned_pieces

        return aligned_pieces(rest), None
    if kind == "audio":  # a stream without text: heard as it comes
        from lipsync.alignment.heard import heard_pieces, stream_settings

        incoming = Incoming(rest, clock, cancelled)
        return heard_pieces(incoming, rate=rate, stream=stream_settings(lookahead, live=live)), incoming
    if tts is not None:
        return _engine_pieces(tts, rest, cancelled), None
    from lipsync.speech.pieces import speech_pieces

    return speech_pieces(rest, voice=voice, speed=speed, half_tone=half_tone), None


def _engine_pieces(tts: Engine, text: str | Iterable[str], cancelled: threading.Event) -> Iterable[Piece]:
    """A TTS engine's speech of ``text``, a sentence a piece (a stop hangs up on the one asked for)."""
    from lipsync.engines.stream import engine_pieces

    return engine_pieces(tts, text, cancelled=cancelled)
