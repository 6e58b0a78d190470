"""Style-Bert-VITS2's API server (``sbv2://``, port 5000): ``/voice`` gives a WAV and no timing.

``POST /voice`` takes everything as query parameters, even on POST (no body): ``text``,
``model_id`` or ``model_name``, ``speaker_id``, ``style``, ``length`` (1 / speed),
``auto_split``, ``language``. The server refuses text over its ``limit`` (100 characters
unless its config.yml says otherwise): lipsync sends a sentence or a clause at a time.
Its WAV is 16-bit at the model's rate (44.1 kHz for the standard models), peak-normalised.
With no timing given, the audio is aligned to the text it was asked to read
(``lipsync.align``). ``GET /models/info`` lists the models and their styles.

The speaker is ``MODEL`` or ``MODEL/STYLE``: a model id (a number) or its folder name in the
server's model_assets, and a style it has (default: the server's, ``Neutral``).
"""

from __future__ import annotations

import threading
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any, ClassVar

from lipsync.engines.base import Engine
from lipsync.errors import EngineError, ValueRefused
from lipsync.sound import Audio
from lipsync.speech.pieces import Piece

__all__ = ["StyleBertVits2Engine"]


class StyleBertVits2Engine(Engine):
    """Style-Bert-VITS2's FastAPI server (server_fastapi.py); its audio aligned to its text."""

    name: ClassVar[str] = "Style-Bert-VITS2"
    scheme: ClassVar[str] = "sbv2"
    default_port: ClassVar[int] = 5000
    how_to_start: ClassVar[str] = (
        "start its API server (python server_fastapi.py in Style-Bert-VITS2's folder)")
    settings: ClassVar[frozenset[str]] = frozenset({"speed"})

    def offers(self, cancelled: threading.Event | None = None) -> tuple[tuple[str, str], ...]:
        found = self.http.call("GET", "/models/info", cancelled=cancelled)
        offers: list[tuple[str, str]] = []
        for ident, model in (found.items() if isinstance(found, dict) else []):
            if not isinstance(model, dict):
                continue
            styles = model.get("style2id")
            shown = ", ".join(str(s) for s in styles) if isinstance(styles, dict) else "?"
            offers.append((str(ident), f"{_model_name(model)} (styles: {shown})"))
        return tuple(offers)

    def speaker_id(self, cancelled: threading.Event | None = None) -> str:
        offers = self.speakers(cancelled)
        speaker = self.voice.speaker
        if speaker is None:
            if not offers:
                raise EngineError(f"{self.name} at {self.http.base} has no model loaded")
            return offers[0][0]
        model = str(speaker).partition("/")[0]
        for ident, shown in offers:
            if model in (ident, shown.partition(" (")[0]):
                return ident
        raise self.unknown_speaker(offers)

    def _params(self, text: str, cancelled: threading.Event | None) -> dict[str, Any]:
        params: dict[str, Any] = {"text": text, "model_id": self.speaker_id(cancelled), "speaker_id": 0,
                                  "auto_split": False, "language": "JP"}
        style = str(self.voice.speaker).partition("/")[2] if self.voice.speaker is not None else ""
        if style:
            params["style"] = style
        if self.voice.speed is not None:
            params["length"] = 1 / self.voice.speed
        return params

    def speak(self, text: str, *, cancelled: threading.Event | None = None) -> Piece | None:
        from lipsync.alignment.aligner import align_plan
        from lipsync.alignment.plan import plan_phonemes

        try:
            params = self._params(text, cancelled)
            wav = self.http.call("POST", "/voice", params, cancelled=cancelled, audio=True)
        except EngineError as exc:
            raise self.checked(exc, cancelled) from None
        audio = Audio.decode(wav, f"{self.name} at {self.http.base} (/voice)")
        # The engine read this very text: no check that the audio says it (a short sentence
        # can look squeezed to the check; refusing it would only cut the speech short).
        try:
            plan = plan_phonemes(text)
        except ValueRefused:
            return None  # nothing Open JTalk can read: no phonemes to align (the audio is kept out)
        return Piece(audio, align_plan(audio, plan, check=False).timeline)


def _model_name(model: dict[str, Any]) -> str:
    """A model's folder name, from its config path (the server's model_name)."""
    path = model.get("config_path")
    if not isinstance(path, str) or not path:
        return "?"
    parts = (PureWindowsPath(path) if "\\" in path else PurePosixPath(path)).parts
    return parts[-2] if len(parts) >= 2 else "?"
