"""COEIROINK v2 (``coeiroink://``, port 50032): per-phoneme sample ranges with the raw audio.

``POST /v1/predict_with_duration`` (JSON: ``speakerUuid``, ``styleId``, ``text``,
``prosodyDetail`` empty to let the engine read the text, ``speedScale``) answers
``wavBase64`` (a WAV of the model's raw output, 44.1 kHz for v2 voices: the rate is read from
its header) and ``moraDurations``, each mora with ``phonemePitches[].wavRange {start, end}``.
Those are integer **sample indices into that same WAV**, contiguous from 0, the last ending
at its last sample (found in the engine's clients and in an LGPL reimplementation of its API:
the v2 engine itself is closed; the first and last moras are ``pau``, its silences). So that
raw audio is played as it is, timed exactly by its ranges. ``/v1/process`` (pitch,
intonation, volume, pre/post silence) trims the audio without saying where, so it is not
used; only ``speed`` (``speedScale``) is offered. Ranges that do not cover the audio to
within a hop are warned about once and the audio is aligned to their phonemes instead.
"""

from __future__ import annotations

import base64
import binascii
import threading
from fractions import Fraction
from typing import Any, ClassVar

from lipsync._numbers import short
from lipsync.engines.base import Engine, engine_json, on_samples
from lipsync.errors import EngineError
from lipsync.sound import Audio
from lipsync.speech.pieces import Piece
from lipsync.timeline import Timeline

__all__ = ["CoeiroinkEngine"]

#: The most the ranges' end may differ from the audio's length (samples): about a hop.
_SLACK = 1024


class CoeiroinkEngine(Engine):
    """COEIROINK v2's engine: its raw audio, timed by its own sample ranges."""

    name: ClassVar[str] = "COEIROINK"
    scheme: ClassVar[str] = "coeiroink"
    default_port: ClassVar[int] = 50032
    how_to_start: ClassVar[str] = "start the COEIROINK app (v2: its engine listens on 127.0.0.1:50032)"
    settings: ClassVar[frozenset[str]] = frozenset({"speed"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._uuids: dict[str, str] = {}

    def offers(self, cancelled: threading.Event | None = None) -> tuple[tuple[str, str], ...]:
        found = self.http.call("GET", "/v1/speakers", cancelled=cancelled)
        offers: list[tuple[str, str]] = []
        for speaker in found if isinstance(found, list) else []:
            if not isinstance(speaker, dict) or not isinstance(speaker.get("styles"), list):
                continue
            for style in speaker["styles"]:
                if isinstance(style, dict) and isinstance(style.get("styleId"), int):
                    ident = str(style["styleId"])
                    self._uuids.setdefault(ident, str(speaker.get("speakerUuid", "")))
                    shown = f"{speaker.get('speakerName', '?')} ({style.get('styleName', '?')})"
                    offers.append((ident, shown))
        return tuple(offers)

    def speak(self, text: str, *, cancelled: threading.Event | None = None) -> Piece | None:
        style = self.speaker_id(cancelled)
        body = {"speakerUuid": self._uuids.get(style, ""), "styleId": int(style), "text": text,
                "prosodyDetail": [], "speedScale": self.voice.speed if self.voice.speed is not None else 1.0}
        try:
            answer = self.http.call("POST", "/v1/predict_with_duration", body=body, cancelled=cancelled)
        except EngineError as exc:
            raise self.checked(exc, cancelled) from None
        answer = engine_json(answer, "a WavWithDuration", self)
        where = f"{self.name} at {self.http.base} (/v1/predict_with_duration)"
        try:
            wav = base64.b64decode(str(answer.get("wavBase64", "")), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise EngineError(f"{where}: wavBase64 is not base64: {exc}") from None
        audio = Audio.decode(wav, where)
        spans = _spans(answer.get("moraDurations"), where)
        if not spans:
            return None
        end = spans[-1][2]
        if abs(end - len(audio)) <= _SLACK:
            timeline = Timeline([(name, Fraction(b - a, audio.sample_rate)) for name, a, b in spans],
                                allow_empty=True)
            return Piece(audio, on_samples(timeline, audio))
        self.warn_once("length", f"{where}: its ranges end at sample {end} but its audio has "
                       f"{len(audio)}: aligning the audio to their phonemes instead")
        return Piece(audio, _aligned(audio, [name for name, _, _ in spans]))


def _spans(moras: Any, where: str) -> list[tuple[str, int, int]]:
    """``(name, start, end)`` per phoneme, in samples; the outer pauses as ``sil``."""
    if not isinstance(moras, list):
        raise EngineError(f"{where}: expected moraDurations, a list, found {short(moras)}")
    spans: list[tuple[str, int, int]] = []
    for m, mora in enumerate(moras):
        phonemes = mora.get("phonemePitches") if isinstance(mora, dict) else None
        if not isinstance(phonemes, list):
            raise EngineError(f"{where}: moraDurations[{m}] has no phonemePitches list")
        for p, phoneme in enumerate(phonemes):
            span = phoneme.get("wavRange") if isinstance(phoneme, dict) else None
            name = phoneme.get("phoneme") if isinstance(phoneme, dict) else None
            start = span.get("start") if isinstance(span, dict) else None
            stop = span.get("end") if isinstance(span, dict) else None
            at = spans[-1][2] if spans else 0
            if not (isinstance(name, str) and isinstance(start, int) and isinstance(stop, int)
                    and not isinstance(start, bool) and start == at and stop >= start):
                raise EngineError(f"{where}: moraDurations[{m}].phonemePitches[{p}]: expected a phoneme "
                                  f"with a wavRange from sample {at}, found {short(phoneme)}")
            spans.append((name, start, stop))
    if spans and spans[0][0] == "pau":
        spans[0] = ("sil", *spans[0][1:])
    if len(spans) > 1 and spans[-1][0] == "pau":
        spans[-1] = ("sil", *spans[-1][1:])
    return spans


def _aligned(audio: Audio, names: list[str]) -> Timeline:
    """The phonemes the engine named, aligned to its audio (a pause may follow any mora)."""
    from lipsync.alignment.aligner import align_plan
    from lipsync.alignment.plan import plan_phonemes

    return align_plan(audio, plan_phonemes(phonemes=" ".join(names)), check=False).timeline
