"""An engine's speech of any length: cut into sentences, asked for one at a time.

``engine_pieces`` is what ``Speaker.say(text, tts=engine)`` plays: the text (or text still
arriving) cut as Open JTalk's is (``lipsync.speech.pieces.text_pieces``: sentences, and
clauses of long sentences), each piece asked of the engine when the player takes the one
before, so the first sound waits for the first piece only and the next is made while one
plays. A stop sets ``cancelled``: the request in flight is given up at once. Each piece
keeps the engine's own silences at its ends (they play back to back).

``engine_speech`` and ``engine_timing`` give a whole text at once (for ``timeline``,
``export``, ``curves``, ``plot``): the pieces joined, the silences between two pieces made
one pause.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from fractions import Fraction

from lipsync.engines.base import Engine, on_samples
from lipsync.engines.http import RequestCancelled
from lipsync.errors import ValueRefused
from lipsync.sound import Audio
from lipsync.speech.pieces import Piece, text_pieces
from lipsync.timeline import PAUSES, Timeline

__all__ = ["engine_pieces", "engine_speech", "engine_timing", "join_timelines"]


def engine_pieces(
    engine: Engine, source: str | Iterable[str], *, cancelled: threading.Event | None = None,
) -> Iterator[Piece]:
    """``source`` spoken by ``engine`` piece by piece, each asked for when the last is taken."""
    for text in text_pieces(source):
        if cancelled is not None and cancelled.is_set():
            return
        try:
            piece = engine.speak(text.strip(), cancelled=cancelled)
        except RequestCancelled:
            return
        if piece is not None:
            yield piece


def engine_speech(
    engine: Engine, text: str, *, on_piece: Callable[[int], None] | None = None
) -> tuple[Audio, Timeline]:
    """``text`` spoken whole by ``engine``: its pieces' audio end to end, and its timeline.

    ``on_piece(n)`` hears each piece as it comes (``n`` from 1), for a progress display.
    """
    import numpy as np

    pieces: list[Piece] = []
    for piece in engine_pieces(engine, text):
        if pieces and piece.audio.sample_rate != pieces[0].audio.sample_rate:
            audio = piece.audio.resampled(pieces[0].audio.sample_rate)
            piece = Piece(audio, on_samples(piece.timeline, audio))
        pieces.append(piece)
        if on_piece is not None:
            on_piece(len(pieces))
    if not pieces:
        raise ValueRefused(f"nothing to say in {text[:40]!r}: {engine.name} found no speech")
    samples = np.concatenate([piece.audio.samples for piece in pieces])
    timeline = join_timelines([piece.timeline for piece in pieces])
    return Audio(samples, pieces[0].audio.sample_rate), timeline


def engine_timing(engine: Engine, text: str) -> Timeline:
    """``engine_speech``'s timeline, without the audio where the engine can time text alone."""
    timelines = [t for piece in text_pieces(text) if (t := engine.timing(piece.strip())) is not None]
    if not timelines:
        raise ValueRefused(f"nothing to say in {text[:40]!r}: {engine.name} found no speech")
    return join_timelines(timelines)


def join_timelines(timelines: list[Timeline]) -> Timeline:
    """Timelines end to end; the silences where two meet become one ``pau``."""
    spans: list[tuple[str, Fraction]] = []
    for timeline in timelines:
        pairs = list(zip(timeline.names, timeline.durations, strict=True))
        if spans and pairs and spans[-1][0] in PAUSES and pairs[0][0] in PAUSES:
            spans[-1] = ("pau", spans[-1][1] + pairs.pop(0)[1])
        spans.extend(pairs)
    return Timeline(spans, allow_empty=True)
