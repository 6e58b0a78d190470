"""Any voice through the Speaker: audio with its text, and a stream of (audio, text) pieces.

Virtual clock, null output and an in-memory agent, as in test_speaker.py: every time below
is a sample time, exact.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from conftest import REFERENCE

from lipsync import Audio, ValueRefused, align, synthesize
from lipsync.alignment.pieces import aligned_pieces
from lipsync.live.audio.null import NullOutput
from lipsync.live.clock import VirtualClock
from lipsync.live.speaker import Speaker
from lipsync.live.transport import MemoryTransport

HAPPY = REFERENCE / "voices" / "mei_happy.htsvoice"
SAD = REFERENCE / "voices" / "mei_sad.htsvoice"
FIRST, SECOND = "こんにちは、いい天気ですね。", "明日は晴れるでしょう。"


@pytest.fixture(scope="module")
def pieces() -> list[tuple[Audio, str]]:
    # Another engine's output: 24 kHz, each sentence with its own silences.
    one = synthesize(FIRST, voice=HAPPY)[0].resampled(24000)
    two = synthesize(SECOND, voice=SAD, speed=1.2)[0].resampled(24000)
    return [(one, FIRST), (two, SECOND)]


def rig() -> tuple[VirtualClock, NullOutput, MemoryTransport, Speaker]:
    clock = VirtualClock()
    output = NullOutput(clock=clock)
    agent = MemoryTransport(clock=clock)
    return clock, output, agent, Speaker(agent, "gene", audio=output, clock=clock, sync="clock")


def test_audio_with_its_text_starts_on_its_first_sample(pieces):
    audio, text = pieces[0]
    _, output, agent, speaker = rig()
    with speaker:
        utterance = speaker.say(audio, text=text)
        assert utterance.wait(60)
    expected = align(audio, text).to_sequence()
    assert agent.sent == [(utterance.started_at, f"LIPSYNC_START|gene|{expected}\n")]
    assert output.end() == round(len(audio) * 48000 / 24000)


def test_a_stream_of_pieces_plays_gaplessly_each_start_on_its_first_sample(pieces):
    _, output, agent, speaker = rig()
    with speaker:
        utterance = speaker.say(pair for pair in pieces)  # a generator: read once, as it comes
        assert utterance.wait(60)
    one, two = (align(audio, text) for audio, text in pieces)
    (t0, first_line), (t1, second_line) = agent.sent
    assert first_line == f"LIPSYNC_START|gene|{one.to_sequence()}\n"
    assert second_line == f"LIPSYNC_START|gene|{two.to_sequence()}\n"
    assert t0 == utterance.started_at == output.sample_time(0)
    # The second piece's first sample follows the first piece's last: no gap, no overlap.
    first_samples = round(len(pieces[0][0]) * 48000 / 24000)
    assert t1 == output.sample_time(first_samples)
    assert output.end() == first_samples + round(len(pieces[1][0]) * 2)
    assert utterance.timeline.names == one.names + two.names
    assert utterance.timeline.duration == Fraction(output.end(), 48000)


def test_aligned_pieces_cover_each_audio_exactly(pieces):
    made = list(aligned_pieces(iter(pieces)))
    assert [p.audio for p in made] == [a for a, _ in pieces]
    for piece in made:
        assert piece.timeline.duration == piece.audio.duration
    with pytest.raises(ValueRefused, match=r"piece 1: expected \(Audio, text\), got str"):
        list(aligned_pieces(["こんにちは"]))  # type: ignore[list-item]


def test_say_refuses_audio_with_both_its_timeline_and_its_text(pieces):
    audio, text = pieces[0]
    _, _, _, speaker = rig()
    with speaker:
        with pytest.raises(ValueRefused, match="its timeline or its text, not both"):
            speaker.say(audio, align(audio, text), text=text)
        with pytest.raises(ValueRefused, match="text= goes with audio"):
            speaker.say("こんにちは", text="こんにちは")


def test_a_piece_that_does_not_say_its_text_fails_the_utterance(pieces):
    audio, _ = pieces[0]
    _, _, agent, speaker = rig()
    with speaker:
        utterance = speaker.say(iter([(audio, "東京駅から新幹線に乗って、大阪まで行きました。")]))
        with pytest.raises(ValueRefused, match="does not seem to say this text"):
            utterance.wait(60)
    assert agent.sent == []
