"""More fake TTS engines (see ``engines.py``): Style-Bert-VITS2 and COEIROINK v2; all the fakes
by scheme (``FAKES``); a real engine's pace on a CPU (``real_pace``); and a way to serve one
fake in a process of its own (``python tests/engines_other.py voicevox --real-pace``).
"""

from __future__ import annotations

import base64
import json
import sys
from typing import Any, ClassVar

import numpy as np
from engines import (
    MORA_ENDS,
    AivisFake,
    Answer,
    FakeEngine,
    VoicevoxFake,
    json_answer,
    missing,
    stretch,
    wav_bytes,
)

from lipsync import Audio, Timeline


def invalid(name: str, message: str) -> Answer:
    """Style-Bert-VITS2's own refusal of a parameter (its raise_validation_error)."""
    return json_answer(422, {"detail": [{"type": "invalid_params", "msg": message, "loc": ["query", name]}]})


class Sbv2Fake(FakeEngine):
    """Style-Bert-VITS2's server_fastapi.py: /voice with query parameters, /models/info."""

    scheme = "sbv2"
    limit = 100
    models: ClassVar[dict[str, tuple[str, list[str]]]] = {
        "0": ("jvnv-F1-jp", ["Neutral", "Happy"]), "1": ("amitaro", ["Neutral"])}

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.truths: list[Timeline] = []

    def handle(self, method: str, path: str, params: dict[str, str], body: bytes) -> Answer:
        if path == "/models/info":
            return json_answer(200, {ident: {"config_path": f"model_assets/{name}/config.json",
                                             "model_path": f"model_assets/{name}/{name}.safetensors",
                                             "device": "cpu", "spk2id": {name: 0}, "id2spk": {"0": name},
                                             "style2id": {s: i for i, s in enumerate(styles)}}
                                     for ident, (name, styles) in self.models.items()})
        if path != "/voice":
            return json_answer(404, {"detail": "Not Found"})
        text = params.get("text")
        if text is None:
            return missing("query", "text")
        if len(text) > self.limit:
            too_long = {"type": "string_too_long", "loc": ["query", "text"], "input": text,
                        "msg": f"String should have at most {self.limit} characters",
                        "ctx": {"max_length": self.limit}}
            return json_answer(422, {"detail": [too_long]})
        model = params.get("model_id", "0")
        if model not in self.models:
            return invalid("model_id", f"model_id={model} not found")
        style = params.get("style", "Neutral")
        if style not in self.models[model][1]:
            return invalid("style", f"style={style} not found")
        speech = self.speech(text)
        length = float(params.get("length", "1.0"))
        samples = stretch(speech.audio.samples.astype(float), round(len(speech.audio) * length))
        samples = samples / max(1.0, float(np.abs(samples).max())) * 32767  # peak-normalised, as SBV2's
        audio = Audio.from_float(samples, 24000).resampled(44100)
        timeline = speech.timeline
        self.truths.append(Timeline([(n, d * length) for n, d in zip(timeline.names, timeline.durations,
                                                                       strict=True)]))
        self.last_audio_seconds = float(audio.duration)
        return 200, "audio/wav", wav_bytes(audio.samples, 44100)


class CoeiroinkFake(FakeEngine):
    """COEIROINK v2: /v1/speakers, /v1/predict_with_duration (raw WAV and sample ranges)."""

    scheme = "coeiroink"
    speakers: ClassVar[dict[str, tuple[str, list[tuple[int, str]]]]] = {
        "uuid-tsukuyomi": ("つくよみちゃん", [(0, "れいせい"), (5, "おちつき")])}

    def __init__(self, *, shift: int = 0, **options: Any) -> None:
        super().__init__(**options)
        self.shift = shift  # added to every range: ranges that do not fit the audio
        self.bodies: list[dict[str, Any]] = []

    def handle(self, method: str, path: str, params: dict[str, str], body: bytes) -> Answer:
        if path == "/":
            return json_answer(200, {"status": "ok"})
        if path == "/v1/speakers":
            return json_answer(200, [
                {"speakerName": name, "speakerUuid": uuid, "version": "1.0.0", "base64Portrait": "",
                 "styles": [{"styleName": s, "styleId": i, "base64Icon": "", "base64Portrait": None}
                            for i, s in styles]}
                for uuid, (name, styles) in self.speakers.items()])
        if path != "/v1/predict_with_duration" or method != "POST":
            return json_answer(404, {"detail": "Not Found"})
        request = json.loads(body)
        self.bodies.append(request)
        for field in ("speakerUuid", "styleId", "text", "speedScale"):
            if field not in request:
                return missing("body", field)
        styles = self.speakers.get(request["speakerUuid"], ("", []))[1]
        if request["styleId"] not in [i for i, _ in styles]:
            return json_answer(404, {"detail": f"style {request['styleId']} not found"})
        speech = self.speech(request["text"])
        speed = request["speedScale"]
        samples = stretch(speech.audio.samples.astype(float), round(len(speech.audio) / speed))
        audio = Audio.from_float(samples, 24000).resampled(44100)
        edges = [round(p.start / speed * 44100) for p in speech.timeline] + [len(audio)]
        moras: list[dict[str, Any]] = []
        phones: list[dict[str, Any]] = []
        for index, name in enumerate(speech.timeline.names):
            shown = "pau" if name in ("sil", "pau") else (name if name == "N" else name.lower())
            span = {"start": edges[index] + self.shift * (index > 0), "end": edges[index + 1] + self.shift}
            phones.append({"phoneme": shown, "wavRange": span})
            if shown == "pau" or name in MORA_ENDS:
                moras.append({"mora": "", "hira": "", "phonemePitches": phones,
                              "wavRange": {"start": phones[0]["wavRange"]["start"], "end": span["end"]}})
                phones = []
        self.last_audio_seconds = float(audio.duration)
        wav = base64.b64encode(wav_bytes(audio.samples, 44100)).decode()
        return json_answer(200, {"wavBase64": wav, "moraDurations": moras, "startTrimBuffer": 0.0,
                                 "endTrimBuffer": 0.0})


FAKES: dict[str, type[FakeEngine]] = {
    "voicevox": VoicevoxFake, "aivisspeech": AivisFake, "sbv2": Sbv2Fake, "coeiroink": CoeiroinkFake}

#: A real engine's pace on a CPU (the bench's assumption, from the one figure found, VOICEVOX
#: issue voicevox_core#465: audio_query + synthesis of its 63-character sentence in about
#: 1.5 s on the CPU engine): the query QUERY_SECONDS, the synthesis SYNTHESIS_RTF x the seconds
#: of audio it makes. The fake makes 11.0 s of audio of that sentence: 0.1 + 0.127 x 11.0 = 1.5 s.
QUERY_SECONDS = 0.1
SYNTHESIS_RTF = 0.127
#: That sentence (bench/test_bench_engines.py checks the pace against it).
ISSUE_465 = ("あのイーハトーヴォのすきとおった風、夏でも底に冷たさをもつ青いそら、うつくしい森で飾られた"
             "モリーオ市、郊外のぎらぎらひかる草の波。")


def real_pace(path: str, audio_seconds: float) -> float:
    """How long a real engine on a CPU would take to answer ``path`` (see ``SYNTHESIS_RTF``)."""
    if path == "/audio_query":
        return QUERY_SECONDS
    return SYNTHESIS_RTF * audio_seconds


if __name__ == "__main__":
    # python tests/engines_other.py voicevox [--real-pace]: serve one fake until stdin closes (the
    # bench runs it in its own process, so its Open JTalk never holds the client's GIL).
    pace = "--real-pace" in sys.argv
    fake = FAKES[sys.argv[1]](delay=real_pace if pace else 0.0, serial=pace)
    print(fake.url, flush=True)
    sys.stdin.read()
    fake.close()
