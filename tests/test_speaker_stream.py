"""Speech without text through the Speaker: a stream of chunks, a recording, a capture stand-in.

Virtual clock, null output and an in-memory agent (as in test_speaker_align.py): every time
below is a sample time, exact. The sound of a stream is held back by its look-ahead, so the
mouth the recogniser gives that much later is on time: each START leaves on its piece's
first sample, and the weights follow the sound.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

import pytest
from conftest import REFERENCE

from lipsync import Audio, synthesize
from lipsync.live.audio.capture import FileCapture
from lipsync.live.audio.null import NullOutput
from lipsync.live.clock import VirtualClock
from lipsync.live.speaker import Speaker
from lipsync.live.transport import MemoryTransport
from lipsync.speech.pieces import Piece
from lipsync.timeline import PAUSES, Timeline

RATE = 48000


@pytest.fixture(scope="module")
def speech() -> tuple[Audio, Timeline]:
    happy = REFERENCE / "voices" / "mei_happy.htsvoice"
    audio, truth = synthesize("今日は本当にいい天気ですね。", voice=happy, speed=1.1)
    return audio.resampled(24000), truth  # as a TTS sends it: 24 kHz


def rig() -> tuple[VirtualClock, NullOutput, MemoryTransport, Speaker]:
    clock = VirtualClock()
    output = NullOutput(clock=clock)
    agent = MemoryTransport(clock=clock)
    return clock, output, agent, Speaker(agent, "gene", audio=output, clock=clock, sync="clock", fps=50)


def chunks(audio: Audio, seconds: float = 0.02) -> list[Audio]:
    size = round(audio.sample_rate * seconds)
    return [Audio(audio.samples[at : at + size], audio.sample_rate) for at in range(0, len(audio), size)]



def start_times(pieces: list[tuple[float, Piece]]) -> list[float]:
    """When the agent should get a START: each piece with a sound, and a piece of silence
    right after one that ended on a sound."""
    times, open_end = [], False
    for at, piece in pieces:
        names = piece.timeline.names
        if set(names) - PAUSES or open_end:
            times.append(at)
            open_end = names[-1] not in PAUSES
    return times

def test_a_stream_sounds_a_lookahead_after_it_came_gaplessly_each_start_on_its_piece(speech):
    audio, _ = speech
    clock, output, agent, speaker = rig()
    pieces: list[tuple[float, Piece]] = []
    with speaker:
        asked = clock.now()
        utterance = speaker.say(chunks(audio), lookahead=0.4,
                                on_piece=lambda at, piece: pieces.append((at, piece)))
        assert utterance.wait(60)
    # The first sound waits exactly the look-ahead (a list's chunks all came when it was read).
    assert utterance.started_at == pytest.approx(asked + 0.4, abs=1 / RATE)
    # Then piece after piece, back to back: the stream's sound, whole, and its timeline.
    at = Fraction(0)
    for played, piece in pieces:
        assert played == pytest.approx(utterance.started_at + float(at), abs=1 / RATE)
        assert piece.timeline.end == piece.audio.duration
        at += piece.audio.duration
    assert sum(len(piece.audio) for _, piece in pieces) == 2 * len(audio) == output.end() - round(0.4 * RATE)
    assert utterance.timeline.end == audio.duration
    # A START on each piece's first sample (a piece of silence alone sends none, unless the
    # last START ended on a sound: its own shuts the lips): 10 a second.
    spoken = start_times(pieces)
    assert [when for when, _ in agent.sent] == spoken and len(spoken) > 10


def test_the_mouth_follows_the_sound_of_a_stream_frame_by_frame(speech):
    audio, _ = speech
    _, _, _, speaker = rig()
    frames: list[tuple[float, dict[str, float]]] = []
    pieces: list[tuple[float, Piece]] = []
    with speaker:
        utterance = speaker.say(chunks(audio), on_weights=lambda t, w: frames.append((t, w)),
                                on_piece=lambda at, piece: pieces.append((at, piece)))
        assert utterance.wait(60)
    # Each frame, at its sample, shows the phoneme of the piece sounding there: the mouth is
    # open on its vowels and shut on its silences (the virtual clock may run ahead of the
    # recogniser and leave gaps between pieces: a frame in a gap is not looked at).
    checked = right = 0
    for t, weights in frames:
        for played, piece in pieces:
            offset = utterance.started_at + t - played
            if 0.03 <= offset < float(piece.audio.duration):  # past the piece's first key
                name = next(p.name for p in piece.timeline if p.start <= offset < p.end)
                if name in PAUSES or name in "aiueo":
                    checked += 1
                    right += (max(weights.values()) > 0.1) == (name not in PAUSES)
    assert checked > 20 and right / checked >= 0.9


def test_a_recording_without_its_text_is_heard_and_played_whole(speech):
    audio, _ = speech
    _, output, agent, speaker = rig()
    with speaker:
        utterance = speaker.say(audio)
        assert utterance.wait(60)
    assert utterance.timeline.end == audio.duration and output.end() >= 2 * len(audio)
    ((when, line),) = agent.sent
    assert when == utterance.started_at and line.startswith("LIPSYNC_START|gene|sil,")
    assert any(name not in PAUSES for name in utterance.timeline.names)


def test_the_capture_stand_in_gives_a_file_in_real_time_by_its_clock(speech, tmp_path):
    audio, _ = speech
    path = tmp_path / "voice.wav"
    audio.save_wav(path)
    clock = VirtualClock(50.0)
    capture = FileCapture(path, clock=clock, period=0.01)
    assert capture.rate == 24000
    got = []
    for chunk in capture:
        got.append((clock.now(), len(chunk)))
    assert got[0] == (pytest.approx(50.01), 240)  # each chunk once its last sample is recorded
    assert got[-1][0] == pytest.approx(50.0 + float(audio.duration))
    assert sum(n for _, n in got) == len(audio)
    capture.close()
    assert list(capture) == []  # closed: nothing more


def test_a_live_voice_moves_the_lips_a_lookahead_behind(speech, tmp_path):
    audio, _ = speech
    path = tmp_path / "voice.wav"
    audio.save_wav(path)
    clock, _, agent, speaker = rig()
    capture = FileCapture(path, clock=clock)
    arrived: list[tuple[Fraction, float]] = []  # (stream second a chunk ends at, when it came)

    def recorded() -> Iterator[Audio]:
        heard = Fraction(0)
        for chunk in capture:
            heard += chunk.duration
            arrived.append((heard, clock.now()))
            yield chunk

    pieces: list[tuple[float, Piece]] = []
    with speaker:
        utterance = speaker.say(recorded(), live=True, lookahead=0.2,
                                on_piece=lambda at, piece: pieces.append((at, piece)))
        assert utterance.wait(60)
    # No piece sounds (silently: the voice is in the room already) before its samples came
    # and the look-ahead passed (one that came late skipped what it missed: its samples are
    # later ones still; the stand-in, on the virtual clock, races ahead of the recogniser);
    # each START leaves on its piece's first sample.
    at = Fraction(0)
    for played, piece in pieces:
        came = next(when for end, when in arrived if end > at)
        assert played >= came + 0.2 - 1 / RATE
        at += piece.audio.duration
    assert at <= audio.duration
    spoken = start_times(pieces)
    assert [when for when, _ in agent.sent] == spoken and spoken
