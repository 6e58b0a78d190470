"""VOICEVOX (``voicevox://``, port 50021) and AivisSpeech (``aivisspeech://``, port 10101).

Both speak VOICEVOX ENGINE's API: ``POST /audio_query?text=&speaker=`` gives an AudioQuery,
``POST /synthesis?speaker=`` with that query as its body gives the WAV (at the query's
``outputSamplingRate``: 24 kHz for VOICEVOX, 44.1 kHz for AivisSpeech), ``GET /speakers``
lists the speakers and their styles. The voice's settings are written into the query.

VOICEVOX's query times its audio exactly (``lipsync.labels.voicevox``: frames of 256
samples at 24 kHz). The audio's length is checked against it: more than a frame apart (an
engine that rounds otherwise, a mock engine) and lipsync warns once and aligns the audio to
the query's phonemes instead. AivisSpeech's queries carry no timing (every length 0.0), so
its audio is always aligned to its query's phonemes: the engine's reading, never Open
JTalk's reading of the text again.
"""

from __future__ import annotations

import json
import threading
from typing import Any, ClassVar

from lipsync._numbers import short
from lipsync.engines.base import Engine, engine_json, on_samples
from lipsync.errors import EngineError, UntimedLabels
from lipsync.labels.voicevox import FRAME, query_phonemes, read_audio_query
from lipsync.sound import Audio
from lipsync.speech.pieces import Piece
from lipsync.timeline import Timeline

__all__ = ["AivisSpeechEngine", "VoicevoxEngine"]

#: EngineVoice settings and the AudioQuery fields they set.
_FIELDS = {"speed": "speedScale", "pitch": "pitchScale", "intonation": "intonationScale",
           "volume": "volumeScale", "pre_phoneme": "prePhonemeLength", "post_phoneme": "postPhonemeLength"}


class VoicevoxEngine(Engine):
    """VOICEVOX ENGINE: timing from its query, exact to the frame, checked against its audio."""

    name: ClassVar[str] = "VOICEVOX"
    scheme: ClassVar[str] = "voicevox"
    default_port: ClassVar[int] = 50021
    how_to_start: ClassVar[str] = (
        "start the VOICEVOX app, or its engine (run --host 127.0.0.1 --port 50021, or docker run "
        "-p 127.0.0.1:50021:50021 voicevox/voicevox_engine:cpu-latest)")
    settings: ClassVar[frozenset[str]] = frozenset(_FIELDS)
    #: Whether the query's lengths time the audio (AivisSpeech's do not).
    timed: ClassVar[bool] = True

    def offers(self, cancelled: threading.Event | None = None) -> tuple[tuple[str, str], ...]:
        found = self.http.call("GET", "/speakers", cancelled=cancelled)
        offers: list[tuple[str, str]] = []
        for speaker in found if isinstance(found, list) else []:
            if not isinstance(speaker, dict) or not isinstance(speaker.get("styles"), list):
                continue
            for style in speaker["styles"]:
                talk = isinstance(style, dict) and style.get("type", "talk") == "talk"
                if talk and isinstance(style.get("id"), int):
                    shown = f"{speaker.get('name', '?')} ({style.get('name', '?')})"
                    offers.append((str(style["id"]), shown))
        return tuple(offers)

    def prepare(self, cancelled: threading.Event | None = None) -> None:
        speaker = self.speaker_id(cancelled)
        try:  # load the style's model now rather than in the first synthesis
            self.http.call("POST", "/initialize_speaker", {"speaker": speaker, "skip_reinit": True},
                           cancelled=cancelled)
        except EngineError as exc:
            if exc.status in (404, 405, 501):  # an engine without it: the first synthesis loads it
                return
            raise self.checked(exc, cancelled) from None

    def query(self, text: str, *, cancelled: threading.Event | None = None) -> dict[str, Any]:
        """The engine's AudioQuery for ``text``, with the voice's settings written in."""
        speaker = self.speaker_id(cancelled)
        try:
            query = self.http.call("POST", "/audio_query", {"text": text, "speaker": speaker},
                                   cancelled=cancelled)
        except EngineError as exc:
            raise self.checked(exc, cancelled) from None
        query = engine_json(query, "an AudioQuery", self)
        for setting, field in _FIELDS.items():
            value = getattr(self.voice, setting)
            if value is not None:
                query[field] = value
        return query

    def synthesis(self, query: dict[str, Any], *, cancelled: threading.Event | None = None) -> Audio:
        """The audio the engine makes of ``query`` (up-speak on questions, as by default)."""
        speaker = self.speaker_id(cancelled)
        try:
            params = {"speaker": speaker, "enable_interrogative_upspeak": True}
            wav = self.http.call("POST", "/synthesis", params, query, cancelled=cancelled, audio=True)
        except EngineError as exc:
            raise self.checked(exc, cancelled) from None
        return Audio.decode(wav, f"{self.name} at {self.http.base} (/synthesis)")

    def speak(self, text: str, *, cancelled: threading.Event | None = None) -> Piece | None:
        query = self.query(text, cancelled=cancelled)
        if not query.get("accent_phrases"):
            return None  # nothing the engine can read aloud (symbols alone)
        audio = self.synthesis(query, cancelled=cancelled)
        return Piece(audio, self._timed(query, audio, text))

    def timing(self, text: str, *, cancelled: threading.Event | None = None) -> Timeline | None:
        if not self.timed:
            return super().timing(text, cancelled=cancelled)
        query = self.query(text, cancelled=cancelled)
        if not query.get("accent_phrases"):
            return None
        try:
            return read_audio_query(json.dumps(query), self._source(text))
        except UntimedLabels:  # no timing in the query after all: only its audio can tell
            return self._timed(query, self.synthesis(query, cancelled=cancelled), text)

    def _source(self, text: str) -> str:
        return f"{self.name} at {self.http.base}: the query for {short(text, 40)}"

    def _timed(self, query: dict[str, Any], audio: Audio, text: str) -> Timeline:
        """The timeline of ``audio``: the query's, on its samples, or its phonemes aligned to it."""
        source = self._source(text)
        document = json.dumps(query)
        if self.timed:
            try:
                timeline = read_audio_query(document, source)
            except UntimedLabels:
                self.warn_once("untimed", f"{self.name} at {self.http.base} gave a query with phonemes "
                               "of no length: aligning its audio to the query's phonemes instead")
            else:
                apart = abs(timeline.end - audio.duration)
                if apart <= FRAME:
                    return on_samples(timeline, audio)
                self.warn_once("length", f"{self.name} at {self.http.base}: its audio lasts "
                               f"{float(audio.duration):.3f} s but its query {float(timeline.end):.3f} s "
                               "(more than a frame apart): aligning the audio to the query's phonemes "
                               "instead")
        from lipsync.alignment.query import align_query

        # The engine made this audio from this query: no check that it says it (a short
        # sentence can look squeezed to the check, and refusing it would only cut speech short).
        return align_query(audio, query_phonemes(document, source), check=False)


class AivisSpeechEngine(VoicevoxEngine):
    """AivisSpeech Engine: VOICEVOX's API, Style-Bert-VITS2 voices; its queries carry no timing,
    so its audio is aligned to its query's phonemes. Style ids are large (up to 2**31 - 1)."""

    name: ClassVar[str] = "AivisSpeech"
    scheme: ClassVar[str] = "aivisspeech"
    default_port: ClassVar[int] = 10101
    how_to_start: ClassVar[str] = (
        "start the AivisSpeech app, or AivisSpeech-Engine (run.py --host 127.0.0.1 --port 10101)")
    timed: ClassVar[bool] = False
