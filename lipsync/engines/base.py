"""The engine interface (``Engine``), a voice's settings (``EngineVoice``), and what every
engine shares: the speakers it offers, a timeline placed on its audio's samples.

An engine speaks one piece of text at a time (``speak``: a ``Piece``, its audio and the
timeline of exactly that audio) and can time one without its audio where it knows how
(``timing``). Errors name the engine and what it answered; a speaker the engine does not
have is reported with the list it offers (``UnknownSpeaker``).
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, fields
from fractions import Fraction
from typing import TYPE_CHECKING, Any, ClassVar

from lipsync.engines.http import HttpClient
from lipsync.errors import EngineError, UnknownSpeaker, ValueRefused

if TYPE_CHECKING:
    from lipsync.sound import Audio
    from lipsync.speech.pieces import Piece
    from lipsync.timeline import Timeline

__all__ = ["Engine", "EngineVoice", "on_samples"]

_log = logging.getLogger("lipsync.engines")

#: The range each voice setting may take (the engines' editors offer less).
_RANGES = {"speed": (0.1, 10.0), "pitch": (-1.0, 1.0), "intonation": (0.0, 5.0), "volume": (0.0, 5.0),
           "pre_phoneme": (0.0, 10.0), "post_phoneme": (0.0, 10.0)}


@dataclass(frozen=True)
class EngineVoice:
    """Who speaks and how: the speaker (a style id; Style-Bert-VITS2: ``MODEL`` or
    ``MODEL/STYLE``), and settings mapped to the engine's own (``None``: the engine's default).

    For VOICEVOX and AivisSpeech they are the AudioQuery's fields: ``speed`` speedScale,
    ``pitch`` pitchScale, ``intonation`` intonationScale, ``volume`` volumeScale,
    ``pre_phoneme``/``post_phoneme`` prePhonemeLength/postPhonemeLength (seconds). An engine
    refuses a setting it has no field for.
    """

    speaker: int | str | None = None
    speed: float | None = None
    pitch: float | None = None
    intonation: float | None = None
    volume: float | None = None
    pre_phoneme: float | None = None
    post_phoneme: float | None = None

    def __post_init__(self) -> None:
        speaker = self.speaker
        if isinstance(speaker, bool) or not (
            speaker is None or (isinstance(speaker, int) and 0 <= speaker < 2**31)
            or (isinstance(speaker, str) and 0 < len(speaker) <= 200 and speaker.isprintable())
        ):
            raise ValueRefused(f"speaker {speaker!r}: expected a style id (0 to 2**31 - 1) or a name")
        for name, (low, high) in _RANGES.items():
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                      or not math.isfinite(value) or not low <= value <= high):
                raise ValueRefused(f"{name} {value!r} is out of range ({low:g} to {high:g})")

    def given(self) -> list[str]:
        """The settings given (not left to the engine), speaker aside."""
        return [f.name for f in fields(self) if f.name != "speaker" and getattr(self, f.name) is not None]


class Engine:
    """A TTS engine at a URL, speaking with one voice. Subclasses say how to talk to theirs.

    ``speak(text)`` makes one piece of speech (``None`` when the engine finds nothing to
    say); ``cancelled`` (an event) gives a request up when set (``RequestCancelled``).
    """

    #: What the engine is called in messages, its URL scheme and its default port.
    name: ClassVar[str] = "engine"
    scheme: ClassVar[str] = ""
    default_port: ClassVar[int] = 0
    #: How to start it, said when nothing answers at its URL.
    how_to_start: ClassVar[str] = ""
    #: The ``EngineVoice`` settings it maps to its own.
    settings: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self, host: str, port: int, prefix: str = "", voice: EngineVoice | None = None, *,
        timeout: float = 60.0,
    ) -> None:
        self.voice = voice if voice is not None else EngineVoice()
        unknown = [name for name in self.voice.given() if name not in self.settings]
        if unknown:
            offered = ", ".join(sorted(self.settings)) or "none"
            raise ValueRefused(f"{self.name} has no {unknown[0]} setting (it takes: {offered})")
        self.http = HttpClient(self.name, host, port, prefix, start=self.how_to_start, timeout=timeout)
        self.url = f"{self.scheme}://{self.http.base.removeprefix('http://')}"
        self._offers: tuple[tuple[str, str], ...] | None = None
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url} speaker={self.voice.speaker!r}>"

    # -- what each engine provides ----------------------------------------------------------------

    def speak(self, text: str, *, cancelled: threading.Event | None = None) -> Piece | None:
        """One piece of text as speech: its audio and the timeline of exactly that audio."""
        raise NotImplementedError

    def timing(self, text: str, *, cancelled: threading.Event | None = None) -> Timeline | None:
        """The timeline ``speak`` would give (without the audio where the engine can)."""
        piece = self.speak(text, cancelled=cancelled)
        return None if piece is None else piece.timeline

    def offers(self, cancelled: threading.Event | None = None) -> tuple[tuple[str, str], ...]:
        """``(id, name)`` of each speaker (style) the engine has, as its list gives them."""
        raise NotImplementedError

    def prepare(self, cancelled: threading.Event | None = None) -> None:
        """Check that the engine answers and has the speaker (``UnknownSpeaker`` if not), and
        have it load the voice if it can, so the first piece costs only its synthesis."""
        self.speaker_id(cancelled)

    # -- shared --------------------------------------------------------------------------------------

    def speakers(self, cancelled: threading.Event | None = None) -> tuple[tuple[str, str], ...]:
        """``offers()``, asked once."""
        with self._lock:
            known = self._offers
        if known is None:
            known = self.offers(cancelled)
            with self._lock:
                self._offers = known
        return known

    def speaker_id(self, cancelled: threading.Event | None = None) -> str:
        """The speaker to ask for: the one given (checked against the list), or the first offered."""
        offers = self.speakers(cancelled)
        speaker = self.voice.speaker
        if speaker is None:
            if not offers:
                raise EngineError(f"{self.name} at {self.http.base} offers no speaker")
            return offers[0][0]
        if str(speaker) not in {ident for ident, _ in offers}:
            raise self.unknown_speaker(offers)
        return str(speaker)

    def unknown_speaker(self, offers: tuple[tuple[str, str], ...]) -> UnknownSpeaker:
        shown = ", ".join(f"{ident} {name}" for ident, name in offers)
        return UnknownSpeaker(f"{self.name} at {self.http.base} has no speaker {self.voice.speaker}: "
                              f"it offers {len(offers)}: {shown}", offers)

    def checked(self, error: EngineError, cancelled: threading.Event | None) -> EngineError:
        """An engine's error answer, or ``UnknownSpeaker`` when its cause is a speaker it lacks
        (old VOICEVOX answers that with a bare 500)."""
        if error.status is None or self.voice.speaker is None:
            return error
        with self._lock:
            self._offers = None  # the engine may have changed its list: ask again
        try:
            self.speaker_id(cancelled)
        except UnknownSpeaker as unknown:
            return unknown
        except EngineError:
            return error
        return error

    def warn_once(self, key: str, message: str) -> None:
        """A warning, the first time only (per engine and ``key``)."""
        with self._lock:
            if key in self._warned:
                return
            self._warned.add(key)
        _log.warning("%s", message)

    def close(self) -> None:
        self.http.close()


def on_samples(timeline: Timeline, audio: Audio) -> Timeline:
    """``timeline`` with every boundary on a sample of ``audio``, ending at its last sample.

    For a timeline that already agrees with the audio to within a frame or so: the
    difference goes to (or comes from) the last spans.
    """
    from lipsync.timeline import Timeline

    rate, count = audio.sample_rate, len(audio)
    edges = [0]
    for phone in timeline:
        edges.append(min(max(round(phone.end * rate), edges[-1]), count))
    edges[-1] = count
    pairs = zip(timeline.names, edges[:-1], edges[1:], strict=True)
    spans = [(name, Fraction(b - a, rate)) for name, a, b in pairs]
    return Timeline(spans, allow_empty=True)


def engine_json(answer: Any, what: str, engine: Engine) -> dict[str, Any]:
    """``answer`` if it is a JSON object, else an ``EngineError`` saying what came instead."""
    if not isinstance(answer, dict):
        raise EngineError(f"{engine.name} at {engine.http.base} answered {type(answer).__name__} "
                          f"where {what} was expected")
    return answer
