"""VOICEVOX AudioQuery JSON -> the timeline of the audio VOICEVOX's engine makes from it.

The engine's steps, in order: each accent phrase's moras, the interrogative up-speak mora
(same vowel, 0.15 s, when the phrase is a question ending on a voiced mora), its pause
mora; a ``sil`` of prePhonemeLength before and postPhonemeLength after; pause vowels set to
pauseLength (when given) times pauseLengthScale; every length divided by speedScale; then
each consonant and vowel rounded on its own to frames of 256 samples at 24 kHz (half to
even). So every phoneme starts on a frame boundary, exactly as in the engine's WAV.

A query whose phonemes have no length (AivisSpeech's always: every length 0.0) carries no
timing: ``read_audio_query`` refuses it (``UntimedLabels``, naming the key), and
``query_phonemes`` gives its phonemes, to align its audio to them instead.
"""

from __future__ import annotations

import json
import re
from array import array
from dataclasses import dataclass
from fractions import Fraction
from itertools import accumulate
from typing import Any

from lipsync._numbers import MAX_JSON_DEPTH, MAX_NUMBER_CHARS, MAX_SPAN_SECONDS, finite, short
from lipsync.errors import SourceError, UntimedLabels, ValueRefused
from lipsync.names import name_fault
from lipsync.timeline import Timeline

__all__ = ["FRAME", "QueryPhonemes", "load_json", "query_phonemes", "read_audio_query"]

#: One VOICEVOX frame: 256 samples at 24 kHz.
FRAME = Fraction(256, 24000)
_FRAME_RATE = 93.75
_UPSPEAK_LENGTH = 0.15


class _Query:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, expected: str, found: object) -> ValueRefused:
        return ValueRefused(f"{self.source}: at {where}: expected {expected}, found {short(found)}")

    def number(self, obj: dict[str, Any], key: str, where: str, *, optional: bool = False) -> float | None:
        value = obj.get(key)
        if value is None and optional:
            return None
        if not finite(value) or not 0 <= value <= MAX_SPAN_SECONDS:  # type: ignore[operator]
            raise self.fail(f"{where}.{key}", f"a number of seconds, 0 to {MAX_SPAN_SECONDS}", value)
        assert isinstance(value, int | float)
        return float(value)

    def phoneme(self, obj: dict[str, Any], key: str, where: str) -> str:
        value = obj.get(key)
        fault = name_fault(value)
        if fault:
            raise self.fail(f"{where}.{key}", f"a phoneme name ({fault})", value)
        assert isinstance(value, str)
        return value


@dataclass(frozen=True)
class _Mora:
    """A mora as the engine speaks it; ``where`` is its place in the query ("" for up-speak)."""

    consonant: str | None
    consonant_length: float | None
    vowel: str
    vowel_length: float
    where: str
    text: str = ""


def read_audio_query(text: str, source: str, *, upspeak: bool = True) -> Timeline:
    """Read an AudioQuery; ``upspeak`` is the engine's enable_interrogative_upspeak (default on).

    A phoneme of zero length is refused (``UntimedLabels``, naming its key): such a query
    carries no timing (AivisSpeech's never do); align its audio to ``query_phonemes`` instead.
    """
    q = _Query(source)
    query = _load(q, text, timing=True)
    speed = query.get("speedScale", 1.0)
    if not finite(speed) or not 0.01 <= speed <= 100:
        raise q.fail("speedScale", "a number from 0.01 to 100", speed)
    pause = q.number(query, "pauseLength", "the top", optional=True)
    moras = [mora for phrase in _phrases(q, query, upspeak=upspeak) for mora in phrase]
    _check_timed(q, moras, pause_given=pause is not None)
    pre = q.number(query, "prePhonemeLength", "the top", optional=True) or 0.0
    post = q.number(query, "postPhonemeLength", "the top", optional=True) or 0.0
    pause_scale = q.number(query, "pauseLengthScale", "the top", optional=True)
    pause_scale = 1.0 if pause_scale is None else pause_scale
    moras = [_Mora(None, None, "sil", pre, ""), *moras, _Mora(None, None, "sil", post, "")]
    spans: list[tuple[str, Fraction]] = []
    for mora in moras:
        vowel_length = mora.vowel_length
        if mora.vowel == "pau":
            vowel_length = (pause if pause is not None else vowel_length) * pause_scale
        if mora.consonant is not None:
            spans.append((mora.consonant, _frames(mora.consonant_length or 0.0, speed) * FRAME))
        spans.append((mora.vowel, _frames(vowel_length, speed) * FRAME))
    return Timeline(spans, allow_empty=True)


@dataclass(frozen=True)
class QueryPhonemes:
    """A query's phonemes as its engine reads them, to align its audio to (no timing needed).

    ``names``: Open JTalk names without pauses (AivisSpeech's ``q`` is read as ``cl``);
    ``breaks[i]``: a pause may come before ``names[i]`` (a phrase boundary or a pause mora);
    ``kana``: the moras' katakana, with ``、`` for each pause: a reading Open JTalk can time.
    """

    names: tuple[str, ...]
    breaks: tuple[bool, ...]
    kana: str


def query_phonemes(text: str, source: str, *, upspeak: bool = True) -> QueryPhonemes:
    """The phonemes of an AudioQuery, timed or not, to align its audio to them.

    Keys that change only the timing (AivisSpeech's ``tempoDynamicsScale``) are allowed here.
    """
    q = _Query(source)
    query = _load(q, text, timing=False)
    names: list[str] = []
    breaks: list[bool] = []
    kana: list[str] = []
    for phrase in _phrases(q, query, upspeak=upspeak):
        pause = bool(names)
        for mora in phrase:
            if mora.vowel in _PAUSES:
                pause = bool(names)
                kana.append("、")
                continue
            for name in (mora.consonant, "cl" if mora.vowel == "q" else mora.vowel):
                if name is not None:
                    names.append(name)
                    breaks.append(pause)
                    pause = False
            kana.append(mora.text if _KATAKANA.fullmatch(mora.text) else "")
    if not names:
        raise q.fail("accent_phrases", "a mora that is not a pause", "only pauses")
    return QueryPhonemes(tuple(names), tuple(breaks), "".join(kana))


_PAUSES = frozenset({"pau", "sil"})
_KATAKANA = re.compile(r"[\u30a1-\u30fa\u30fc]+")


def _load(q: _Query, text: str, *, timing: bool) -> dict[str, Any]:
    query = load_json(text, q.source)
    if isinstance(query, dict):
        query = _check_keys(q, query, timing=timing)
    if not isinstance(query, dict) or not isinstance(query.get("accent_phrases"), list):
        raise q.fail("the top", "an AudioQuery object with accent_phrases", type(query).__name__)
    if not query["accent_phrases"]:
        raise q.fail("accent_phrases", "at least one accent phrase (nothing would be spoken)", [])
    return query


def _phrases(q: _Query, query: dict[str, Any], *, upspeak: bool) -> list[list[_Mora]]:
    """Each accent phrase's moras as the engine speaks them: with its up-speak mora (a question
    ending on a voiced mora, when ``upspeak``) and its pause mora."""
    phrases: list[list[_Mora]] = []
    for p, phrase in enumerate(query["accent_phrases"]):
        where = f"accent_phrases[{p}]"
        if not isinstance(phrase, dict) or not isinstance(phrase.get("moras"), list):
            raise q.fail(where, "an accent phrase with moras", phrase)
        _unknown(q, phrase, _PHRASE_KEYS, where)
        moras = [_mora(q, m, f"{where}.moras[{i}]") for i, m in enumerate(phrase["moras"])]
        last = phrase["moras"][-1] if phrase["moras"] else None
        pitch = last.get("pitch") if last else None
        if upspeak and phrase.get("is_interrogative") and finite(pitch) and pitch > 0:  # type: ignore[operator]
            moras.append(_Mora(None, None, moras[-1].vowel, _UPSPEAK_LENGTH, ""))
        if phrase.get("pause_mora") is not None:
            moras.append(_mora(q, phrase["pause_mora"], f"{where}.pause_mora"))
        phrases.append(moras)
    return phrases


def _check_timed(q: _Query, moras: list[_Mora], *, pause_given: bool) -> None:
    """``UntimedLabels`` naming the first phoneme of zero length (or saying that all are).

    A pause mora's length does not count when ``pauseLength`` replaces it.
    """
    lengths: list[tuple[str, float]] = []
    for mora in moras:
        if mora.consonant is not None:
            lengths.append((f"{mora.where}.consonant_length", mora.consonant_length or 0.0))
        if not (mora.vowel == "pau" and pause_given):
            lengths.append((f"{mora.where}.vowel_length", mora.vowel_length))
    zero = [key for key, length in lengths if length == 0]
    if not zero:
        return
    remedy = "align its audio to its phonemes instead (--wav AUDIO)"
    if len(zero) == len(lengths):
        raise UntimedLabels(f"{q.source}: every consonant_length and vowel_length is 0: the query "
                            f"carries no timing (AivisSpeech's never do): {remedy}")
    raise UntimedLabels(f"{q.source}: at {zero[0]}: a phoneme of 0 s (the query gives it no time): "
                        f"{remedy}")


def load_json(text: str, source: str, what: str = "an AudioQuery") -> Any:
    """``json.loads`` that refuses NaN, Infinity, 1e309, huge numbers and deep nesting."""

    def constant(name: str) -> float:
        raise ValueError(f"{name} is not a JSON number")

    def number(token: str) -> float:
        value = float(token)
        if len(token) > MAX_NUMBER_CHARS or not finite(value):
            raise ValueError(f"the number {short(token, 30)} is out of range")
        return value

    def integer(token: str) -> int:
        if len(token) > MAX_NUMBER_CHARS:
            raise ValueError(f"the number {short(token, 30)} is out of range")
        return int(token)

    depth = _depth(text)
    if depth > MAX_JSON_DEPTH:
        raise SourceError(source, 1, 1, f"expected {what}, found JSON nested {depth} deep")
    try:
        return json.loads(text, parse_constant=constant, parse_float=number, parse_int=integer)
    except json.JSONDecodeError as exc:
        raise SourceError(
            source, exc.lineno, exc.colno, f"expected JSON: {short(exc.msg, 80)}", text=text
        ) from None
    except (ValueError, RecursionError) as exc:
        raise SourceError(source, 1, 1, f"expected {what}: {str(exc)[:80]}") from None


def _depth(text: str) -> int:
    """How deep brackets nest, counting those in strings too (it only ever refuses more).

    AudioQuery strings (phoneme names, kana) hold no brackets. The count runs in C
    (``re``, ``bytes.translate``, ``accumulate`` over signed bytes): linear and fast on 10 MB.
    """
    brackets = _NOT_BRACKET.sub("", text)
    if len(brackets) <= MAX_JSON_DEPTH:
        return len(brackets)
    steps = array("b", brackets.encode("ascii").translate(_STEP))
    return max(accumulate(steps), default=0)


_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


def _mora(q: _Query, mora: object, where: str) -> _Mora:
    if not isinstance(mora, dict):
        raise q.fail(where, "a mora object", mora)
    _unknown(q, mora, _MORA_KEYS, where)
    consonant = mora.get("consonant")
    consonant_length = None
    if consonant is not None:
        consonant = q.phoneme(mora, "consonant", where)
        consonant_length = q.number(mora, "consonant_length", where)
    vowel = q.phoneme(mora, "vowel", where)
    vowel_length = q.number(mora, "vowel_length", where)
    assert vowel_length is not None
    text = mora.get("text")
    text = text if isinstance(text, str) else ""
    return _Mora(consonant, consonant_length, vowel, vowel_length, where, text)


#: The engine's AudioQuery keys (VOICEVOX and its kin). Top-level keys are camelCase; some
#: clients (voicevox_core's own JSON) write them in snake_case, which means the same.
_TOP_KEYS = frozenset({
    "accent_phrases", "speedScale", "pitchScale", "intonationScale", "volumeScale",
    "prePhonemeLength", "postPhonemeLength", "pauseLength", "pauseLengthScale",
    "outputSamplingRate", "outputStereo", "kana",
})
_PHRASE_KEYS = frozenset({"moras", "accent", "pause_mora", "is_interrogative"})
_MORA_KEYS = frozenset({"text", "consonant", "consonant_length", "vowel", "vowel_length", "pitch"})
#: Keys of engines that time speech in ways this reader cannot follow, unless at their neutral value.
_NEUTRAL = {"tempoDynamicsScale": 1.0}


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def _check_keys(q: _Query, query: dict[str, Any], *, timing: bool = True) -> dict[str, Any]:
    """The top level with snake_case keys read as the engine's camelCase; unknown keys refused.

    A key lipsync does not know may change the timing (AivisSpeech's tempoDynamicsScale):
    reading on without it would give a timeline that drifts from the audio without a word.
    Without ``timing`` (only the phonemes are wanted), such keys may have any value.
    """
    checked: dict[str, Any] = {}
    for key, value in query.items():
        name = key if key in _TOP_KEYS or key in _NEUTRAL else _camel(key)
        if name in _NEUTRAL:
            if timing and value != _NEUTRAL[name]:
                raise ValueRefused(
                    f"{q.source}: {key} {value!r} changes the timing in a way lipsync cannot follow: "
                    "align the audio instead (lipsync align AUDIO TEXT, or --wav AUDIO --fit)"
                )
            continue
        if name not in _TOP_KEYS:
            raise ValueRefused(
                f"{q.source}: unknown AudioQuery key {key!r}: expected only {', '.join(sorted(_TOP_KEYS))}"
            )
        if name in checked:
            raise ValueRefused(f"{q.source}: {key!r} and {name!r} both given: expected one")
        checked[name] = value
    return checked


def _unknown(q: _Query, obj: dict[str, Any], known: frozenset[str], where: str) -> None:
    extra = sorted(set(obj) - known)
    if extra:
        raise ValueRefused(
            f"{q.source}: at {where}: unknown key {extra[0]!r}: expected only {', '.join(sorted(known))}"
        )


def _frames(seconds: float, speed: float) -> int:
    # Python's round() on a float is half-to-even, as numpy.round is in the engine.
    return round(seconds / speed * _FRAME_RATE)
