"""Speech without its text: the phonemes heard in any audio, as a ``Timeline`` (``recognize``).

``recognize(audio)`` runs pydomino's phoneme-transition model (``lipsync.alignment.model``)
and a free search over its transitions (``viterbi``), with a loudness gate (``gate``) and
pause edges placed as Open JTalk places them (``pauses``). High voices are heard slowed down
(``pitch``, ``warp``): the model hears low voices better. Up to ``WHOLE`` seconds the model
hears everything at once; longer audio is heard as it would be streamed, in 8 s windows every
4 s (each frame with at least 2 s of audio on both sides), so memory stays that of one window
and the audio itself, whatever the length.

The timeline covers the audio exactly (spans are whole samples at its rate). Its names are
Open JTalk's: silence before and after is ``sil``, inside ``pau``; devoiced ``I`` ``U``,
``N`` and ``cl`` as Open JTalk writes them (the model has no devoiced ``A E O`` and no
``kw gw ty``); a long vowel may come as one span. When the text is known, ``lipsync.align``
is the better choice: it knows which phonemes to look for. Measured figures: the README and
bench/test_bench_recognize.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

from lipsync.alignment.heard import heard_pieces
from lipsync.alignment.hearing import LONG, WHOLE, Settings, decode_whole, spans_timeline
from lipsync.alignment.model import RATE, load_model
from lipsync.alignment.pitch import median_pitch, warp_for
from lipsync.alignment.warp import fill_top, frame_rate, warped
from lipsync.sound import Audio
from lipsync.speech.pieces import Piece
from lipsync.timeline import Timeline

__all__ = ["Settings", "recognize", "recording_pieces"]


def recognize(audio: Audio, *, settings: Settings | None = None) -> Timeline:
    """The phonemes heard in ``audio``, timed, covering it exactly (a ``Timeline`` from 0)."""
    if len(audio) == 0:
        return Timeline([])
    if audio.duration <= WHOLE:
        return _whole(audio, settings or Settings())
    spans: list[tuple[str, Fraction]] = []
    for piece in recording_pieces(audio, rate=audio.sample_rate, settings=settings):
        for name, length in zip(piece.timeline.names, piece.timeline.durations, strict=True):
            if spans and spans[-1][0] == name:  # one phoneme, cut where a piece ended
                spans[-1] = (name, spans[-1][1] + length)
            else:
                spans.append((name, length))
    return Timeline(spans)


def recording_pieces(audio: Audio, *, rate: int, settings: Settings | None = None) -> Iterator[Piece]:
    """A whole recording in pieces to play at ``rate``: one up to ``WHOLE`` seconds, else a
    piece every 4 s of audio (heard as ``recognize`` hears it), the first after 4 s of it."""
    s = settings or Settings()
    if audio.duration <= WHOLE:
        yield Piece(audio, _whole(audio, s))
        return
    warp = s.warp if s.warp is not None else warp_for(median_pitch(_opening(audio).to_float32()))
    step = round(LONG.hop * audio.sample_rate)
    chunks = (Audio(audio.samples[at : at + step], audio.sample_rate) for at in range(0, len(audio), step))
    yield from heard_pieces(chunks, rate=rate, stream=LONG, settings=s, warp=warp)


def _whole(audio: Audio, s: Settings) -> Timeline:
    samples = audio.resampled(RATE).to_float32()
    warp = s.warp if s.warp is not None else warp_for(median_pitch(samples))
    heard = warped(samples, warp)
    model = load_model()
    trans, blank = model.run(fill_top(heard, warp))
    spans = decode_whole(model.transitions, trans, blank, heard, s)
    return spans_timeline(spans, len(audio), audio.sample_rate, frame_rate=frame_rate(warp))


def _opening(audio: Audio) -> Audio:
    """The first seconds of a long recording, to tell its voice's pitch by."""
    count = round(2 * WHOLE * audio.sample_rate)
    return Audio(audio.samples[:count], audio.sample_rate).resampled(RATE)
