"""Fake TTS engines for tests: real HTTP on 127.0.0.1 (a free port), built from each engine's
published API (VOICEVOX's OpenAPI document in fixtures/voicevox, the others from their
sources as /work/notes/engines.md records them), answering as the real ones do in what matters:

- VOICEVOX (``VoicevoxFake``): ``/audio_query`` gives a query whose lengths are Open JTalk's
  durations of the text; ``/synthesis`` renders it as the engine does, each phoneme
  ``round(length / speedScale * 93.75)`` frames of 256 samples at 24 kHz (numpy's rounding,
  half to even; up-speak on questions; pauses set by pauseLength x pauseLengthScale), from
  real speech: Open JTalk's own audio of that phoneme stretched to its frames. So the WAV's
  length is the query's to the sample, and each phoneme sits where the query says. Then
  resampled to ``outputSamplingRate``. Unknown speaker: 500 ``{"detail":"Internal Server
  Error"}`` as engines up to 0.25 answer, or 422 ``{"message": ...}`` as 0.26 does
  (``version``). Requests are checked against the OpenAPI document (required query
  parameters: FastAPI's 422 ``{"detail": [...]}``; unknown paths 404, methods 405).
- AivisSpeech (``AivisFake``): the same API; every length and pitch 0.0, punctuation as
  ``pau`` moras, ``q`` for a geminate, ``kana`` the text, 44.1 kHz; the audio keeps Open
  JTalk's natural timing, silence trimmed and pre/post added (``truths`` holds where each
  phoneme really is); an unknown style is 404 at ``/synthesis`` only.
- Style-Bert-VITS2 (``Sbv2Fake``): ``/voice`` with query parameters, a 100-character limit,
  422 ``invalid_params``; a peak-normalised 44.1 kHz WAV.
- COEIROINK v2 (``CoeiroinkFake``): ``/v1/predict_with_duration`` with the raw 44.1 kHz WAV
  in base64 and sample ranges per phoneme; unknown style 404.

Every fake can answer slowly (``delay``: seconds, or a function of the path and the seconds of
audio made), drop the connection without answering (``drop``: request numbers from 1), and
notes requests whose client gave up waiting (``aborted``).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import select
import socket
import threading
import time
import wave
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import numpy as np

from lipsync import Audio, Timeline, synthesize

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "voicevox"
OPENAPI = json.loads((FIXTURES / "openapi-0.25.2.json").read_text("utf-8"))
MORA_ENDS = frozenset("a i u e o A I U E O N cl".split())
Delay = float | Callable[[str, float], float]
Answer = tuple[int, str, bytes]


def wav_bytes(samples: np.ndarray, rate: int, channels: int = 1) -> bytes:
    data = np.clip(np.rint(samples), -32768, 32767).astype("<i2")
    if channels == 2:
        data = np.repeat(data, 2)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(data.tobytes())
    return buffer.getvalue()


def json_answer(status: int, value: Any) -> Answer:
    return status, "application/json", json.dumps(value, ensure_ascii=False).encode()


def stretch(samples: np.ndarray, length: int) -> np.ndarray:
    """``samples`` made ``length`` long (linear interpolation): a phoneme to its frames."""
    if length <= 0:
        return np.zeros(0)
    if len(samples) == 0:
        return np.zeros(length)
    where = np.linspace(0, len(samples) - 1, length)
    return np.interp(where, np.arange(len(samples)), samples.astype(float))


class Speech:
    """Open JTalk's speech of a text: audio (float, 24 kHz), phonemes, and its moras' kana and phrases."""

    def __init__(self, text: str) -> None:
        audio, timeline = synthesize(text)
        self.audio = audio.resampled(24000)
        self.timeline = timeline
        self.edges = [round(p.start * 24000) for p in timeline] + [len(self.audio)]
        kana, phrase_starts = _kana(text)
        moras = [i for i, n in enumerate(timeline.names) if n in MORA_ENDS]
        self.kana = kana if len(kana) == len(moras) else ["ア"] * len(moras)
        self.phrase_starts = phrase_starts if len(kana) == len(moras) else set()

    def segment(self, index: int) -> np.ndarray:
        return self.audio.samples[self.edges[index] : self.edges[index + 1]].astype(float)


def _kana(text: str) -> tuple[list[str], set[int]]:
    """Each mora's katakana, and the mora numbers where an accent phrase starts (Open JTalk's)."""
    with contextlib.redirect_stdout(io.StringIO()):
        import pyopenjtalk
    kana: list[str] = []
    starts: set[int] = set()
    for feature in pyopenjtalk.run_frontend(text):
        moras = re.findall(r"[ア-ヴーッン][ァィゥェォャュョヮ]?", feature["pron"])
        if moras and feature["chain_flag"] != 1:
            starts.add(len(kana))
        kana += moras
    return kana, starts


class FakeEngine:
    """An engine over real HTTP on 127.0.0.1; subclasses answer ``handle``."""

    def __init__(self, *, delay: Delay = 0.0, drop: set[int] | None = None, serial: bool = False) -> None:
        self.delay = delay
        self.drop = drop or set()
        #: One request at a time, each taking its whole time even if its client hangs up (a real
        #: engine's core holds a lock and cannot stop a synthesis).
        self.serial = serial
        self._engine = threading.Lock() if serial else contextlib.nullcontext()
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.aborted: list[str] = []
        self.count = 0
        self.connections: set[socket.socket] = set()
        self._speech: dict[str, Speech] = {}
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                fake.connections.add(self.connection)

            def do_GET(self) -> None:
                fake._serve(self, "GET")

            def do_POST(self) -> None:
                fake._serve(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    scheme = "fake"

    def speech(self, text: str) -> Speech:
        with self._lock:
            known = self._speech.get(text)
        if known is None:
            known = Speech(text)
            with self._lock:
                self._speech[text] = known
        return known

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        with self._lock:
            self.count += 1
            number = self.count
            self.requests.append((method, parts.path, params))
        if number in self.drop:
            handler.close_connection = True  # no answer at all: the client sees the connection drop
            return
        with self._engine:
            started = time.monotonic()
            status, kind, data = self.handle(method, parts.path, params, body)
            made = kind == "audio/wav" or parts.path == "/v1/predict_with_duration"
            seconds = self.last_audio_seconds if made else 0.0
            wait = self.delay(parts.path, seconds) if callable(self.delay) else self.delay
            if not self._wait_unless_gone(handler.connection, started + wait):
                self.aborted.append(parts.path)
                handler.close_connection = True
                if self.serial:
                    time.sleep(max(0.0, started + wait - time.monotonic()))  # it works on regardless
                return
        handler.send_response(status)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        with contextlib.suppress(OSError):
            handler.wfile.write(data)

    last_audio_seconds = 0.0

    def _wait_unless_gone(self, sock: socket.socket, until: float) -> bool:
        """Sleep until ``until``; ``False`` as soon as the client hangs up."""
        while True:
            left = until - time.monotonic()
            if left <= 0:
                return True
            readable, _, _ = select.select([sock], [], [], min(left, 0.01))
            if readable:
                with contextlib.suppress(OSError):
                    if sock.recv(1, socket.MSG_PEEK) == b"":
                        return False

    def handle(self, method: str, path: str, params: dict[str, str], body: bytes) -> Answer:
        raise NotImplementedError

    def paths(self, path: str) -> list[str]:
        return [p for _, p, _ in self.requests if p == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def kill(self) -> None:
        """What the engine's process dying does: nothing listens, every connection drops."""
        self.close()
        for sock in list(self.connections):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> FakeEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def missing(where: str, name: str) -> Answer:
    return json_answer(422, {"detail": [{"type": "missing", "loc": [where, name], "msg": "Field required",
                                         "input": None}]})


class VoicevoxFake(FakeEngine):
    """VOICEVOX ENGINE (``version`` 0.25.2: unknown speaker 500; 0.26.0: 422 with a message)."""

    scheme = "voicevox"
    styles: ClassVar[dict[str, list[tuple[int, str]]]] = {
        "四国めたん": [(2, "ノーマル"), (0, "あまあま")], "ずんだもん": [(3, "ノーマル"), (1, "あまあま")]}
    rate = 24000

    def __init__(self, *, version: str = "0.25.2", **options: Any) -> None:
        super().__init__(**options)
        self.version = version
        self.queries: list[dict[str, Any]] = []

    def ids(self) -> set[int]:
        return {ident for styles in self.styles.values() for ident, _ in styles}

    def handle(self, method: str, path: str, params: dict[str, str], body: bytes) -> Answer:
        operation = OPENAPI["paths"].get(path)
        if operation is None:
            return json_answer(404, {"detail": "Not Found"})
        if method.lower() not in operation:
            return json_answer(405, {"detail": "Method Not Allowed"})
        for parameter in operation[method.lower()].get("parameters", []):
            if parameter["in"] == "query" and parameter.get("required") and parameter["name"] not in params:
                return missing("query", parameter["name"])
        if path == "/speakers":
            return json_answer(200, [{"name": name, "speaker_uuid": f"uuid-{name}", "version": self.version,
                                      "styles": [{"name": s, "id": i, "type": "talk"} for i, s in found]}
                                     for name, found in self.styles.items()])
        if path == "/version":
            return json_answer(200, self.version)
        speaker = params.get("speaker", "")
        if not speaker.lstrip("-").isdigit():
            wrong = {"type": "int_parsing", "loc": ["query", "speaker"], "input": speaker,
                     "msg": "Input should be a valid integer"}
            return json_answer(422, {"detail": [wrong]})
        known = int(speaker) in self.ids()
        if path == "/initialize_speaker":
            return (204, "application/json", b"") if known else self.unknown_style(int(speaker))
        if path == "/audio_query":
            if not known and self.checks_style_at("/audio_query"):
                return self.unknown_style(int(speaker))
            return json_answer(200, self.query(params["text"]))
        if path == "/synthesis":
            if not known:
                return self.unknown_style(int(speaker))
            try:
                query = json.loads(body)
            except ValueError as exc:
                wrong = {"type": "json_invalid", "loc": ["body", 1], "msg": "JSON decode error",
                         "ctx": {"error": str(exc)}}
                return json_answer(422, {"detail": [wrong]})
            self.queries.append(query)
            upspeak = params.get("enable_interrogative_upspeak", "true") == "true"
            return 200, "audio/wav", self.render(query, upspeak)
        return json_answer(404, {"detail": "Not Found"})

    def checks_style_at(self, path: str) -> bool:
        return True

    def unknown_style(self, ident: int) -> Answer:
        if self.version.startswith("0.25"):
            return json_answer(500, {"detail": "Internal Server Error"})
        return json_answer(422, {"message": "指定されたスタイルが見つかりませんでした。"})

    # -- the query and its rendering ------------------------------------------------------------

    def query(self, text: str) -> dict[str, Any]:
        speech = self.speech(text)
        phrases: list[dict[str, Any]] = []
        moras: list[dict[str, Any]] = []
        consonant: tuple[str, float] | None = None
        count = 0
        inner = zip(speech.timeline.names[1:-1], speech.timeline.durations[1:-1], strict=True)
        for name, duration in inner:
            if name == "pau":
                phrases.append(self.phrase(moras, float(duration)))
                moras = []
            elif name in MORA_ENDS:
                if count in speech.phrase_starts and moras:
                    phrases.append(self.phrase(moras, None))
                    moras = []
                moras.append(self.mora(speech.kana[count], consonant, name, float(duration)))
                consonant, count = None, count + 1
            else:
                consonant = (name, float(duration))
        if moras:
            phrases.append(self.phrase(moras, None))
        if phrases and text.rstrip().endswith(("？", "?")):
            phrases[-1]["is_interrogative"] = True
        return {"accent_phrases": phrases, "speedScale": 1.0, "pitchScale": 0.0, "intonationScale": 1.0,
                "volumeScale": 1.0, "prePhonemeLength": 0.1, "postPhonemeLength": 0.1, "pauseLength": None,
                "pauseLengthScale": 1.0, "outputSamplingRate": self.rate, "outputStereo": False,
                "kana": "".join(speech.kana)}

    def mora(
        self, kana: str, consonant: tuple[str, float] | None, vowel: str, length: float
    ) -> dict[str, Any]:
        voiced = vowel in ("a", "i", "u", "e", "o", "N")
        return {"text": kana, "consonant": consonant[0] if consonant else None,
                "consonant_length": consonant[1] if consonant else None, "vowel": vowel,
                "vowel_length": length, "pitch": 5.6 if voiced else 0.0}

    def phrase(self, moras: list[dict[str, Any]], pause: float | None) -> dict[str, Any]:
        pause_mora = None if pause is None else {"text": "、", "consonant": None, "consonant_length": None,
                                                 "vowel": "pau", "vowel_length": pause, "pitch": 0.0}
        return {"moras": moras, "accent": 1, "pause_mora": pause_mora, "is_interrogative": False}

    def spans(self, query: dict[str, Any], upspeak: bool) -> list[tuple[str, int]]:
        """(phoneme, frames) as the engine renders the query (written from its algorithm)."""
        names: list[str] = ["sil"]
        seconds: list[float] = [query["prePhonemeLength"]]
        for phrase in query["accent_phrases"]:
            moras = list(phrase["moras"])
            if upspeak and phrase["is_interrogative"] and moras and moras[-1]["pitch"] > 0:
                moras.append({"consonant": None, "vowel": moras[-1]["vowel"], "vowel_length": 0.15})
            if phrase.get("pause_mora"):
                moras.append(phrase["pause_mora"])
            for mora in moras:
                if mora.get("consonant"):
                    names.append(mora["consonant"])
                    seconds.append(mora["consonant_length"])
                length = mora["vowel_length"]
                if mora["vowel"] == "pau":
                    length = (query["pauseLength"] if query.get("pauseLength") is not None else length)
                    length *= query.get("pauseLengthScale", 1.0)
                names.append(mora["vowel"])
                seconds.append(length)
        names.append("sil")
        seconds.append(query["postPhonemeLength"])
        frames = np.round(np.array(seconds) / query["speedScale"] * 93.75).astype(int)
        return list(zip(names, frames.tolist(), strict=True))

    def render(self, query: dict[str, Any], upspeak: bool) -> bytes:
        spans = self.spans(query, upspeak)
        said = _core(tuple(n for n, _ in self.spans(query, False)))  # the phonemes, up-speak aside
        speech = next((s for s in list(self._speech.values()) if _said(s.timeline) == said), None)
        pieces: list[np.ndarray] = []
        source = 1
        for name, frames in spans:
            length = frames * 256
            if name in ("sil", "pau") or speech is None:
                pieces.append(np.zeros(length))
                if name == "pau":
                    source += 1
                continue
            if source < len(speech.timeline) - 1 and speech.timeline.names[source] == name:
                pieces.append(stretch(speech.segment(source), length))
                source += 1
            else:  # the up-speak mora: the vowel before it again
                pieces.append(stretch(speech.segment(source - 1), length))
        samples = np.concatenate(pieces) * query.get("volumeScale", 1.0)
        audio = Audio.from_float(samples, 24000)
        rate = int(query["outputSamplingRate"])
        audio = audio.resampled(rate)
        self.last_audio_seconds = float(audio.duration)
        return wav_bytes(audio.samples, rate, 2 if query.get("outputStereo") else 1)


def _said(timeline: Timeline) -> tuple[str, ...]:
    return tuple(n for n in timeline.names if n not in ("sil", "pau"))


def _core(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(n for n in names if n not in ("sil", "pau"))


class AivisFake(VoicevoxFake):
    """AivisSpeech Engine: a query with no timing; audio in Open JTalk's own timing at 44.1 kHz."""

    scheme = "aivisspeech"
    styles: ClassVar[dict[str, list[tuple[int, str]]]] = {
        "Anneli": [(888753760, "ノーマル"), (888753761, "通常")]}
    rate = 44100

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        #: Where each phoneme really is in each audio made: (phonemes, edges in samples).
        self.truths: list[Timeline] = []

    def checks_style_at(self, path: str) -> bool:
        return False  # its /audio_query never looks the style up

    def unknown_style(self, ident: int) -> Answer:
        return json_answer(404, {"detail": f"スタイル {ident} は存在しません。"})

    def query(self, text: str) -> dict[str, Any]:
        query = super().query(text)
        for phrase in query["accent_phrases"]:
            if phrase["pause_mora"] is not None:  # punctuation: a mora of its own
                phrase["moras"].append({"text": ",", "consonant": None, "consonant_length": None,
                                        "vowel": "pau", "vowel_length": 0.0, "pitch": 0.0})
                phrase["pause_mora"] = None
            for mora in phrase["moras"]:
                mora["vowel_length"] = mora["pitch"] = 0.0
                if mora["consonant"] is not None:
                    mora["consonant_length"] = 0.0
                if mora["vowel"] == "cl":
                    mora["vowel"] = "q"
                mora["vowel"] = mora["vowel"] if mora["vowel"] == "N" else mora["vowel"].lower()
        return query | {"kana": text, "tempoDynamicsScale": 1.0, "outputSamplingRate": self.rate}

    def render(self, query: dict[str, Any], upspeak: bool) -> bytes:
        speech = self.speech(query["kana"])
        speed = query["speedScale"]
        rate = int(query["outputSamplingRate"])
        timeline = speech.timeline
        body = speech.audio.samples[speech.edges[1] : speech.edges[-2]].astype(float)  # no sil: trimmed
        body = stretch(body, round(len(body) / speed))
        pre = np.zeros(int(24000 * query["prePhonemeLength"] / speed))
        post = np.zeros(int(24000 * query["postPhonemeLength"] / speed))
        samples = np.concatenate([pre, body, post]) * query["volumeScale"]
        audio = Audio.from_float(samples, 24000).resampled(rate)
        inner = [(n, d / speed) for n, d in zip(timeline.names[1:-1], timeline.durations[1:-1], strict=True)]
        first = len(pre) / 24000
        truth = Timeline([("sil", first), *inner], allow_empty=True)
        self.truths.append(Timeline([*zip(truth.names, truth.durations, strict=True),
                                     ("sil", audio.duration - truth.end)], allow_empty=True))
        self.last_audio_seconds = float(audio.duration)
        return wav_bytes(audio.samples, rate)
