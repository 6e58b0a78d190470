"""``Speaker(tts=...)``: a TTS engine's speech played sentence by sentence, lips on every one.

Null output and an in-memory agent on a virtual clock, as in test_speaker.py; the engine is a
fake over real HTTP (tests/engines.py), so its answers take real time while the schedule's
does not.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from engines import AivisFake, VoicevoxFake

from lipsync import ValueRefused
from lipsync.engines import open_engine
from lipsync.labels.voicevox import read_audio_query
from lipsync.live.audio.null import NullOutput
from lipsync.live.clock import VirtualClock
from lipsync.live.speaker import Speaker
from lipsync.live.transport import MemoryTransport
from lipsync.motion import Motion
from lipsync.timeline import Timeline

LONG = "今日は晴れです。明日は雨が降るでしょう。傘を持って行きましょう！それでは、また明日。"


def rig(tts: object = None, motion: Motion | None = None) -> tuple[NullOutput, MemoryTransport, Speaker]:
    clock = VirtualClock()
    output = NullOutput(clock=clock)
    agent = MemoryTransport(clock=clock)
    return output, agent, Speaker(agent, "gene", audio=output, clock=clock, sync="clock", tts=tts,  # type: ignore[arg-type]
                                  motion=motion)


def sequences(agent: MemoryTransport) -> list[Timeline]:
    return [Timeline.from_sequence(line.split("|")[2].strip()) for line in agent.lines]


@pytest.mark.parametrize("coarticulation", [False, True])
def test_a_long_text_starts_lips_on_every_sentence_with_its_querys_timing(coarticulation: bool):
    with VoicevoxFake() as fake:
        _, agent, speaker = rig(open_engine(fake.url, speaker=3), Motion(coarticulation=coarticulation))
        with speaker:
            utterance = speaker.say(LONG)
            assert utterance.wait(60)
        queries = [read_audio_query(json.dumps(q), "q") for q in fake.queries]
    assert len(queries) == 4 == len(agent.lines)  # a START per sentence
    for sent, query in zip(sequences(agent), queries, strict=True):
        assert sent.names == query.names
        assert sent.durations[0] <= query.durations[0]
        if not coarticulation:
            # Exact to the millisecond rounding of the line; a piece's leading silence may be
            # shortened by what the player already waited for it (the engine answers in real time).
            assert sent.to_sequence().split(",", 2)[2] == query.to_sequence().split(",", 2)[2]
        else:
            # Shaped so the agent's own motion shuts the lips on m/b/p: each boundary stays within
            # a frame of the query's (30 fps), and the sentence ends where the query's does.
            drift = sent.durations[0] - query.durations[0]
            for a, b in zip(sent, query, strict=True):
                assert abs(float(a.start - drift - b.start)) <= 1 / 30 + 0.001
            assert abs(float(sent.duration - drift - query.duration)) <= 0.001


def test_the_first_sound_waits_for_the_first_piece_only():
    def pace(path: str, seconds: float) -> float:
        return 0.4 if path == "/synthesis" else 0.0

    with VoicevoxFake(delay=pace) as fake:
        engine = open_engine(fake.url, speaker=3)
        engine.prepare()
        first: list[tuple[float, int]] = []
        came = threading.Event()

        def on_piece(t: float | None, piece: object) -> None:
            first.append((time.monotonic() - said, len(fake.paths("/synthesis"))))
            came.set()

        _, _, speaker = rig(engine)
        with speaker:
            said = time.monotonic()
            utterance = speaker.say(LONG, on_piece=on_piece)
            assert came.wait(30)
            utterance.stop()
    waited, asked = first[0]
    assert asked == 1  # only the first sentence's synthesis was asked for
    assert waited < 0.8  # one synthesis (0.4 s) and the first query, not the whole text's


def test_stop_gives_up_the_request_in_flight():
    def pace(path: str, seconds: float) -> float:
        return 5.0 if path == "/synthesis" and len(fake.paths("/synthesis")) > 1 else 0.0

    with VoicevoxFake(delay=pace) as fake:
        playing = threading.Event()
        _, agent, speaker = rig(open_engine(fake.url, speaker=3))
        with speaker:
            utterance = speaker.say(LONG, on_piece=lambda t, piece: playing.set())
            assert playing.wait(30)
            while len(fake.paths("/synthesis")) < 2:  # the second is asked for while the first plays
                time.sleep(0.01)
            stopped = time.monotonic()
            utterance.stop()
            assert speaker.join(5)
            assert time.monotonic() - stopped < 1.0  # not the engine's 5 s
        deadline = time.monotonic() + 2
        while "/synthesis" not in fake.aborted and time.monotonic() < deadline:
            time.sleep(0.01)
        assert fake.aborted == ["/synthesis"]  # the engine saw us hang up
    assert utterance.stopped and agent.lines[-1] == "LIPSYNC_STOP|gene\n"


def test_aivisspeech_speech_is_aligned_to_its_querys_phonemes():
    with AivisFake() as fake:
        _, agent, speaker = rig(open_engine(fake.url))
        with speaker:
            assert speaker.say("こんにちは、いい天気ですね。").wait(60)
        query = fake.queries[-1]
    said = [name for name in sequences(agent)[0].names if name not in ("sil", "pau")]
    moras = [m for phrase in query["accent_phrases"] for m in phrase["moras"]]
    engine_read = [n for m in moras for n in (m["consonant"], m["vowel"]) if n is not None and n != "pau"]
    assert said == engine_read  # the engine's reading (voiced su), not Open JTalk's (devoiced sU)


def test_tts_speaks_text_only():
    _, _, speaker = rig()
    with speaker, pytest.raises(ValueRefused, match="tts= speaks text"):
        from lipsync import Audio, synthesize

        audio: Audio = synthesize("あ")[0]
        speaker.say(audio, text="あ", tts="voicevox://127.0.0.1:1")


def test_an_engine_gone_mid_text_ends_the_utterance_with_its_error_after_the_stop():
    from lipsync import EngineUnreachable

    fake = VoicevoxFake()
    try:
        _, agent, speaker = rig(open_engine(fake.url, speaker=3))
        with speaker:
            closed = threading.Event()

            def gone(t: float | None, piece: object) -> None:
                if not closed.is_set():
                    closed.set()
                    fake.kill()  # the engine quits after the first sentence

            utterance = speaker.say(LONG, on_piece=gone)
            with pytest.raises(EngineUnreachable, match="no VOICEVOX engine at"):
                utterance.wait(30)
    finally:
        fake.close()
    assert agent.lines[0].startswith("LIPSYNC_START|gene|") and agent.lines[-1] == "LIPSYNC_STOP|gene\n"
