"""Speech in pieces: long or still-arriving text spoken sentence by sentence, gaplessly.

Text is cut after sentence ends (。．！？!? and line breaks) and, inside a sentence longer
than ``LONG_SENTENCE`` characters, after clause marks (、，,). Each piece is synthesised
alone, so the first sound waits only for the first piece. Joined naively, pieces would
leave Open JTalk's end-of-utterance silence plus its start-of-utterance silence between
them; instead each join gets the pause Open JTalk itself puts there when it reads the two
pieces together (its durations alone cost a few milliseconds), made from the two silences'
samples, so the audio is continuous and its timeline exact.

A piece's trailing silence is held back until the next piece (or the end) is known, so it
never delays the next sentence; the pause of a join leads the next piece, where a player
that already waited can shorten it.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from lipsync.errors import ValueRefused
from lipsync.sound import Audio
from lipsync.speech import jtalk
from lipsync.timeline import PAUSES, Timeline

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "LONG_CLAUSE", "LONG_SENTENCE", "PAUSES", "PHRASE_PIECE", "Piece", "join_pause", "joined_durations",
    "joined_speech", "latin_warning", "speakable", "speech_pieces", "split_text", "text_pieces",
]

#: Sentences longer than this (characters) are also cut at clause marks.
LONG_SENTENCE = 40
#: Clauses longer than this (text without punctuation) are cut between accent phrases,
#: into pieces of about ``PHRASE_PIECE`` characters.
LONG_CLAUSE = 60
PHRASE_PIECE = 24
_FRONT_END_SLICE = 400
logger = logging.getLogger("lipsync.speech")
_SENTENCE_END = re.compile(r"[。．！？!?\n]+|\.+(?!\d)")
_CLAUSE_END = re.compile(r"[、，,]+")


@dataclass(frozen=True)
class Piece:
    """Audio and the timeline of exactly that audio (from 0), to play right after the last."""

    audio: Audio
    timeline: Timeline


def _cut(text: str, pattern: re.Pattern[str]) -> list[str]:
    parts: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        parts.append(text[last : match.end()])
        last = match.end()
    parts.append(text[last:])
    return [p for p in parts if p.strip()]


def speakable(text: str) -> bool:
    """Whether ``text`` has anything to read aloud (a letter or a digit of any script)."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


def _japanese(ch: str) -> bool:
    return "\u3040" <= ch <= "\u30ff" or "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or (
        "\uff66" <= ch <= "\uff9f")


def mostly_latin(text: str) -> bool:
    """Whether ``text`` reads as another language: Latin letters (3 or more) and fewer
    Japanese characters (kana, kanji) than Latin letters."""
    latin = sum(1 for ch in text if ch.isalpha() and "LATIN" in unicodedata.name(ch, ""))
    return latin >= 3 and sum(1 for ch in text if _japanese(ch)) < latin


def latin_warning(text: str) -> str | None:
    """The warning for ``text`` if it is mostly Latin letters, which Open JTalk spells out
    letter by letter in katakana (``None`` for Japanese)."""
    if not mostly_latin(text):
        return None
    shown = text if len(text) <= 40 else text[:39] + "…"
    return (f"{shown!r} is not Japanese: Open JTalk reads Latin letters as katakana (a loan word it "
            "knows as that word, \"Hello\" as h,a,r,o,o; the rest letter by letter), and the lips "
            "follow that reading; give Japanese text")


def warn_if_latin(text: str) -> bool:
    """Log ``latin_warning(text)`` (and give True) if there is one."""
    warning = latin_warning(text)
    if warning is not None:
        logger.warning("%s", warning)
    return warning is not None


def split_text(text: str) -> list[str]:
    """Cut ``text`` into pieces, each keeping its punctuation; pieces with nothing to say are dropped.

    Sentences end at 。．！？!? and line breaks. A sentence over ``LONG_SENTENCE`` characters is
    also cut at its clause marks (、，,), and a clause over ``LONG_CLAUSE`` (text without
    punctuation) between Open JTalk's accent phrases, so no piece, and no first sound, waits
    for more than a sentence's worth of synthesis.
    """
    pieces: list[str] = []
    for sentence in _cut(text, _SENTENCE_END):
        if len(sentence.strip()) <= LONG_SENTENCE:
            pieces.append(sentence)
            continue
        for clause in _cut(sentence, _CLAUSE_END):
            pieces.extend(_phrase_cut(clause) if len(clause.strip()) > LONG_CLAUSE else [clause])
    return [p for p in pieces if speakable(p)]


def _phrase_cut(clause: str) -> list[str]:
    """A long clause in pieces of whole accent phrases, about ``PHRASE_PIECE`` characters each."""
    # Open JTalk's front end slows with the square of a text's length: read it in slices.
    phrases = [p for start in range(0, len(clause), _FRONT_END_SLICE)
               for p in jtalk.accent_phrases(clause[start : start + _FRONT_END_SLICE])]
    pieces: list[str] = []
    current = ""
    for phrase in phrases:
        if current and len(current) + len(phrase) > PHRASE_PIECE:
            pieces.append(current)
            current = ""
        current += phrase
    if current:
        pieces.append(current)
    return pieces


def text_pieces(source: str | Iterable[str]) -> Iterator[str]:
    """Pieces of ``source`` as soon as each is complete (for text still being written).

    The first piece that is not Japanese (mostly Latin letters) gets a warning.
    """
    warned = False
    for piece in _text_pieces(source):
        warned = warned or warn_if_latin(piece)
        yield piece


def _text_pieces(source: str | Iterable[str]) -> Iterator[str]:
    if isinstance(source, str):
        yield from split_text(source)
        return
    pending = ""
    for fragment in source:
        if not isinstance(fragment, str):
            raise ValueRefused(f"expected pieces of text, got {type(fragment).__name__}")
        pending += fragment
        ends = list(_SENTENCE_END.finditer(pending))
        # A full stop at the very end of what we have may be a decimal point: wait for more.
        complete = [m for m in ends if m.end() < len(pending) or not m.group().startswith(".")]
        if complete:
            cut = complete[-1].end()
            yield from split_text(pending[:cut])
            pending = pending[cut:]
    if pending.strip():
        yield from split_text(pending)


def join_pause(
    first: str, second: str, *, voice: str | Path | None = None, speed: float = 1.0,
    timed: tuple[Timeline, Timeline] | None = None,
) -> Fraction | None:
    """The pause Open JTalk puts between ``first`` and ``second`` read together, if it can tell.

    ``timed``: the two texts' own timelines, when the caller has them already.
    """
    if timed is None:
        timed = (jtalk.durations_one(first, voice=voice, speed=speed),
                 jtalk.durations_one(second, voice=voice, speed=speed))
    a, b = timed
    both = jtalk.durations_one(first + second, voice=voice, speed=speed)
    expected = (*a.names[:-1], "pau", *b.names[1:])
    if both.names != expected:
        return None
    return both.durations[len(a) - 1]


def _samples(timeline: Timeline, rate: int, start: int, stop: int) -> tuple[int, int]:
    """Sample indices of spans ``start`` to ``stop`` (exclusive) of ``timeline``."""
    phones = list(timeline)
    first = phones[start].start if start < len(phones) else timeline.end
    last = phones[stop - 1].end if stop > start else first
    return round(first * rate), round(last * rate)


def speech_pieces(
    source: str | Iterable[str],
    *,
    voice: str | Path | None = None,
    speed: float = 1.0,
    half_tone: float = 0.0,
) -> Iterator[Piece]:
    """Synthesise ``source`` piece by piece: gapless audio with exact, joined timelines."""
    import numpy as np

    previous: str | None = None
    # The last piece's trailing silence, not yet played: its samples and its timeline.
    held: tuple[npt.NDArray[np.int16], Timeline] | None = None
    rate = 0
    texts = text_pieces(source)
    known = list(texts) if isinstance(source, str) else None  # a whole text: its last piece is known
    for number, text in enumerate(known if known is not None else texts):
        last = known is not None and number == len(known) - 1
        try:
            audio, timeline = jtalk.synthesize_one(text, voice=voice, speed=speed, half_tone=half_tone)
        except ValueRefused:
            continue  # punctuation alone, or nothing Open JTalk can say: no sound, no piece
        rate = audio.sample_rate
        names = timeline.names
        lead = 1 if names[0] in PAUSES and len(names) > 2 else 0
        keep_end = last or not (names[-1] in PAUSES and len(names) > lead + 1)
        trail = len(names) if keep_end else len(names) - 1
        body_from, body_to = _samples(timeline, rate, lead, trail)
        if previous is None or held is None:
            yield Piece(Audio(audio.samples[:body_to], rate), _spans(timeline, 0, trail))
        else:
            pause = join_pause(previous, text, voice=voice, speed=speed)
            if pause is None:
                pause = held[1].duration
            junction = _junction(held[0], audio.samples[:body_from], round(pause * rate))
            spans = [("pau", Fraction(len(junction), rate)), *_pairs(timeline, lead, trail)]
            body = np.concatenate([junction, audio.samples[body_from:body_to]])
            yield Piece(Audio(body, rate), Timeline(spans, allow_empty=True))
        previous = text
        held = audio.samples[body_to:], _spans(timeline, trail, len(names))
    if held is not None and len(held[1]):
        yield Piece(Audio(held[0], rate), held[1])


def joined_speech(
    text: str, *, voice: str | Path | None = None, speed: float = 1.0, half_tone: float = 0.0,
    on_piece: Callable[[int], None] | None = None,
) -> tuple[Audio, Timeline]:
    """A text of any length spoken whole: its pieces joined exactly as ``say`` joins them.

    ``on_piece(n)`` hears each piece as it is made (``n`` from 1), for a progress display.
    """
    import numpy as np

    pieces: list[Piece] = []
    for piece in speech_pieces(text, voice=voice, speed=speed, half_tone=half_tone):
        pieces.append(piece)
        if on_piece is not None:
            on_piece(len(pieces))
    if not pieces:
        raise ValueRefused(f"nothing to say in {text[:40]!r}: Open JTalk found no speech")
    timeline = pieces[0].timeline
    for piece in pieces[1:]:
        timeline = timeline + piece.timeline
    samples = np.concatenate([piece.audio.samples for piece in pieces])
    return Audio(samples, pieces[0].audio.sample_rate), timeline


def joined_durations(text: str, *, voice: str | Path | None = None, speed: float = 1.0) -> Timeline:
    """``joined_speech``'s timeline without making the audio (Open JTalk's duration step only)."""
    spans: list[tuple[str, Fraction]] = []
    previous: tuple[str, Timeline] | None = None
    held: list[tuple[str, Fraction]] = []
    for piece in split_text(text):
        try:
            timeline = jtalk.durations_one(piece, voice=voice, speed=speed)
        except ValueRefused:
            continue
        names = timeline.names
        lead = 1 if names[0] in PAUSES and len(names) > 2 else 0
        trail = len(names) - 1 if names[-1] in PAUSES and len(names) > lead + 1 else len(names)
        if previous is None:
            spans.extend(_pairs(timeline, 0, trail))
        else:
            pause = join_pause(previous[0], piece, voice=voice, speed=speed, timed=(previous[1], timeline))
            spans.append(("pau", sum((d for _, d in held), Fraction(0)) if pause is None else pause))
            spans.extend(_pairs(timeline, lead, trail))
        previous = piece, timeline
        held = _pairs(timeline, trail, len(names))
    if not spans:
        raise ValueRefused(f"nothing to say in {text[:40]!r}: Open JTalk found no speech")
    return Timeline([*spans, *held], allow_empty=True)


def _pairs(timeline: Timeline, start: int, stop: int) -> list[tuple[str, Fraction]]:
    """``(name, duration)`` of spans ``start`` to ``stop`` (exclusive)."""
    return list(zip(timeline.names[start:stop], timeline.durations[start:stop], strict=True))


def _spans(timeline: Timeline, start: int, stop: int) -> Timeline:
    return Timeline(_pairs(timeline, start, stop), allow_empty=True)


def _junction(
    before: npt.NDArray[np.int16], after: npt.NDArray[np.int16], length: int
) -> npt.NDArray[np.int16]:
    """``length`` samples of pause: the start of ``before`` and the end of ``after``."""
    import numpy as np

    if length >= len(before) + len(after):
        gap = np.zeros(length - len(before) - len(after), dtype=np.int16)
        return np.concatenate([before, gap, after])
    take = min(len(before), length - min(len(after), length // 2))
    rest = length - take
    return np.concatenate([before[:take], after[len(after) - rest :]])
