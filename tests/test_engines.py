"""TTS engines as a source of speech, against fake engines over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import socket
from fractions import Fraction

import pytest
from engines import VoicevoxFake, json_answer
from engines_other import CoeiroinkFake, Sbv2Fake

from lipsync import EngineError, EngineUnreachable, UnknownSpeaker, ValueRefused
from lipsync.engines import open_engine
from lipsync.engines.stream import engine_speech, engine_timing
from lipsync.labels.voicevox import FRAME, read_audio_query

TEXT = "こんにちは、いい天気ですね？"


@pytest.fixture(scope="module")
def voicevox():
    with VoicevoxFake() as fake:
        yield fake


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_voicevox_speech_is_timed_by_its_query_to_the_sample(voicevox):
    piece = open_engine(voicevox.url, speaker=3).speak(TEXT)
    assert piece is not None
    spans = voicevox.spans(voicevox.queries[-1], upspeak=True)  # as the engine renders the query
    assert piece.timeline.names == tuple(name for name, _ in spans)
    assert piece.timeline.durations == tuple(frames * FRAME for _, frames in spans)
    assert piece.audio.sample_rate == 24000 and len(piece.audio) == sum(f for _, f in spans) * 256
    assert piece.timeline.names[-3:] == ("e", "e", "sil")  # the question's up-speak mora


def test_voice_settings_are_the_querys_fields(voicevox):
    engine = open_engine(voicevox.url, speaker=1, speed=1.25, pitch=0.05, intonation=1.2, volume=0.8,
                         pre_phoneme=0.3, post_phoneme=0.05)
    piece = engine.speak("こんにちは")
    query = voicevox.queries[-1]
    assert {k: query[k] for k in ("speedScale", "pitchScale", "intonationScale", "volumeScale",
                                  "prePhonemeLength", "postPhonemeLength")} == {
        "speedScale": 1.25, "pitchScale": 0.05, "intonationScale": 1.2, "volumeScale": 0.8,
        "prePhonemeLength": 0.3, "postPhonemeLength": 0.05}
    assert piece is not None and piece.timeline.durations[0] == round(0.3 / 1.25 * 93.75) * FRAME
    assert piece.timeline == read_audio_query(json.dumps(query), "q")


def test_other_sample_rates_keep_the_timing_within_a_sample(voicevox):
    class At48k(VoicevoxFake):
        rate = 48000

    with At48k() as fake:
        piece = open_engine(fake.url).speak(TEXT)
        assert piece is not None and piece.audio.sample_rate == 48000
        exact = read_audio_query(json.dumps(fake.queries[-1]), "q")
        assert len(piece.audio) == exact.end * 48000
        assert all(abs(a - b) <= Fraction(1, 48000) for a, b in zip(
            [p.start for p in piece.timeline], [p.start for p in exact], strict=True))


def test_timing_alone_asks_only_for_the_query(voicevox):
    before = len(voicevox.paths("/synthesis"))
    timeline = engine_timing(open_engine(voicevox.url, speaker=3), "今日は晴れです。明日は雨でしょう。")
    assert len(voicevox.paths("/synthesis")) == before
    audio, joined = engine_speech(open_engine(voicevox.url, speaker=3), "今日は晴れです。明日は雨でしょう。")
    assert joined == timeline and len(audio) == joined.end * 24000
    assert joined.names.count("pau") == 1  # the two pieces' silences, joined as one pause


def test_an_engine_that_is_not_running_is_unreachable_with_how_to_start_it():
    url = f"voicevox://127.0.0.1:{free_port()}"
    with pytest.raises(EngineUnreachable) as caught:
        open_engine(url).speak("あ")
    assert caught.value.exit_code == 3
    assert f"no VOICEVOX engine at http://127.0.0.1:{url.rsplit(':', 1)[1]}" in str(caught.value)
    assert "start the VOICEVOX app" in str(caught.value)


@pytest.mark.parametrize("version", ["0.25.2", "0.26.0"])
def test_an_unknown_speaker_is_named_with_the_list_the_engine_offers(version):
    with VoicevoxFake(version=version) as fake:
        with pytest.raises(UnknownSpeaker) as caught:
            open_engine(fake.url, speaker=99).speak("あ")
        message = str(caught.value)
        assert "VOICEVOX at http://127.0.0.1:" in message and "has no speaker 99" in message
        assert ("3", "ずんだもん (ノーマル)") in caught.value.offers
        # A speaker the engine drops later: 500 (up to 0.25) or 422 (0.26) is told as unknown too.
        engine = open_engine(fake.url, speaker=3)
        engine.prepare()
        fake.styles = {"四国めたん": [(2, "ノーマル")]}
        with pytest.raises(UnknownSpeaker, match="has no speaker 3"):
            engine.speak("あ")


def test_the_engines_own_error_shapes_are_told():
    class Failing(VoicevoxFake):
        def handle(self, method, path, params, body):
            if path == "/synthesis":
                return json_answer(500, {"detail": "Internal Server Error"})
            if path == "/audio_query" and params["text"] == "?":
                return json_answer(422, {"message": "テキストが不正です。"})
            return super().handle(method, path, params, body)

    with Failing() as fake:
        engine = open_engine(fake.url + "/nowhere", speaker=3)  # a wrong prefix: 404 {"detail": "Not Found"}
        with pytest.raises(EngineError, match=r"/nowhere \(/speakers\) answered 404: Not Found"):
            engine.speak("あ")
        with pytest.raises(EngineError, match=r"/synthesis\) answered 500: Internal Server Error") as caught:
            open_engine(fake.url, speaker=3).speak("あ")
        assert caught.value.status == 500 and not isinstance(caught.value, UnknownSpeaker)
        with pytest.raises(EngineError, match=r"\(/audio_query\) answered 422: テキストが不正です。"):
            open_engine(fake.url, speaker=3).speak("?")


def test_a_dropped_connection_is_tried_again_once():
    with VoicevoxFake(drop={2}) as fake:  # the /audio_query after /speakers
        assert open_engine(fake.url).speak("あ") is not None
    with VoicevoxFake(drop={2, 3}) as fake, pytest.raises(EngineError, match="dropped before its answer, tw"):
        open_engine(fake.url).speak("あ")


def test_a_slow_answer_is_waited_for_up_to_the_timeout():
    with VoicevoxFake(delay=lambda path, _: 0.3 if path == "/synthesis" else 0.0) as fake:
        assert open_engine(fake.url, timeout=2).speak("あ") is not None
        with pytest.raises(EngineError, match=r"\(/synthesis\) did not answer within 0.1 s"):
            open_engine(fake.url, timeout=0.1).speak("あ")


def test_a_query_and_audio_more_than_a_frame_apart_warn_once_then_align(caplog):
    class Longer(VoicevoxFake):  # audio a tenth of a second longer than its query says
        def render(self, query, upspeak):
            query = dict(query, postPhonemeLength=query["postPhonemeLength"] + 0.1)
            return super().render(query, upspeak)

    with Longer() as fake, caplog.at_level(logging.WARNING, logger="lipsync"):
        engine = open_engine(fake.url)
        pieces = [engine.speak(text) for text in ("こんにちは。", "いい天気ですね。")]
    warnings = [r.getMessage() for r in caplog.records if "more than a frame apart" in r.getMessage()]
    assert len(warnings) == 1
    for piece in pieces:
        assert piece is not None and piece.timeline.end * 24000 == len(piece.audio)  # aligned: covers it


def test_settings_an_engine_lacks_are_refused_by_name():
    with pytest.raises(ValueRefused, match="COEIROINK has no pitch setting"):
        open_engine("coeiroink://127.0.0.1", pitch=0.1)
    with pytest.raises(ValueRefused, match="cannot use 'espeak://x' as a TTS engine"):
        open_engine("espeak://x")
    with pytest.raises(ValueRefused, match="speed 0 is out of range"):
        open_engine("voicevox://", speed=0)
    assert open_engine("aivisspeech://").url == "aivisspeech://127.0.0.1:10101"


def test_style_bert_vits2_gets_query_parameters_and_its_audio_is_aligned():
    with Sbv2Fake() as fake:
        piece = open_engine(fake.url, speaker="jvnv-F1-jp/Happy", speed=2.0).speak("こんにちは")
        method, path, params = fake.requests[-1]
        assert (method, path) == ("POST", "/voice")
        assert params | {"length": float(params["length"])} == {
            "text": "こんにちは", "model_id": "0", "speaker_id": "0", "style": "Happy", "length": 0.5,
            "auto_split": "false", "language": "JP"}
        assert piece is not None and piece.audio.sample_rate == 44100
        assert piece.timeline.end * 44100 == len(piece.audio)
        said = [n for n in piece.timeline.names if n not in ("sil", "pau")]
        assert said == ["k", "o", "N", "n", "i", "ch", "i", "w", "a"]
        with pytest.raises(EngineError, match=r"answered 422: text: String should have at most 100"):
            open_engine(fake.url).speak("あ" * 101)
        with pytest.raises(UnknownSpeaker) as caught:
            open_engine(fake.url, speaker="nobody").speak("あ")
        assert caught.value.offers[0] == ("0", "jvnv-F1-jp (styles: Neutral, Happy)")


def test_coeiroink_is_timed_by_its_sample_ranges():
    with CoeiroinkFake() as fake:
        piece = open_engine(fake.url, speaker=5, speed=1.5).speak("こんにちは")
        assert fake.bodies[-1] == {"speakerUuid": "uuid-tsukuyomi", "styleId": 5, "text": "こんにちは",
                                   "prosodyDetail": [], "speedScale": 1.5}
        assert piece is not None and piece.audio.sample_rate == 44100
        assert piece.timeline.names[0] == "sil" and piece.timeline.names[-1] == "sil"
        assert piece.timeline.end * 44100 == len(piece.audio)
        with pytest.raises(UnknownSpeaker, match="has no speaker 7"):
            open_engine(fake.url, speaker=7).speak("あ")


def test_coeiroink_ranges_that_miss_the_audio_warn_and_align(caplog):
    with CoeiroinkFake(shift=5000) as fake, caplog.at_level(logging.WARNING, logger="lipsync"):
        piece = open_engine(fake.url, speaker=0).speak("こんにちは、いい天気ですね。")
    assert any("aligning the audio to their phonemes" in r.getMessage() for r in caplog.records)
    assert piece is not None and piece.timeline.end * 44100 == len(piece.audio)


def test_a_hostile_answer_is_refused_naming_the_engine():
    class Hostile(VoicevoxFake):
        def query(self, text):
            query = super().query(text)
            query["accent_phrases"][0]["moras"][0]["vowel"] = "a|LIPSYNC_STOP"  # a message in a name
            return query

    with Hostile() as fake, pytest.raises(ValueRefused) as caught:
        open_engine(fake.url).speak("こんにちは")
    message = str(caught.value)
    assert message.startswith(f"VOICEVOX at http://127.0.0.1:{fake.port}: the query for 'こんにちは'")
    assert "'|' is not allowed" in message
