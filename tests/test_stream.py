"""Streamed speech: pieces as soon as they are complete, joined gaplessly with Open JTalk's pauses."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from fractions import Fraction

import pytest
from agent import TcpAgent

from lipsync import Timeline, ValueRefused
from lipsync.live.audio.null import NullOutput
from lipsync.live.clock import VirtualClock
from lipsync.live.speaker import MAX_AHEAD, Speaker
from lipsync.live.transport import MemoryTransport
from lipsync.speech.pieces import LONG_SENTENCE, speech_pieces, split_text, text_pieces
from lipsync.speech.synthesis import durations, synthesize

TWO = "今日は晴れです。明日は雨でしょう。"


def test_split_text_keeps_punctuation_and_cuts_long_sentences_at_clauses() -> None:
    assert split_text("こんにちは。元気？はい!\nそう. 3.14です") == [
        "こんにちは。", "元気？", "はい!\n", "そう.", " 3.14です"]
    long = "あ" * LONG_SENTENCE + "、いいえ。"
    assert split_text(long) == ["あ" * LONG_SENTENCE + "、", "いいえ。"]
    assert split_text("短い、文。") == ["短い、文。"]
    assert split_text(" \n ") == []


def test_text_pieces_come_as_soon_as_each_is_complete() -> None:
    asked: list[str] = []

    def fragments() -> Iterator[str]:
        for fragment in ["今日は晴れ", "です。明日", "は雨", "でしょう。"]:
            asked.append(fragment)
            yield fragment

    pieces = text_pieces(fragments())
    assert next(pieces) == "今日は晴れです。"
    assert asked == ["今日は晴れ", "です。明日"]  # not a fragment more than needed
    assert list(pieces) == ["明日は雨でしょう。"]


def test_pieces_join_gaplessly_with_the_pause_open_jtalk_makes() -> None:
    pieces = list(speech_pieces(TWO))
    assert len(pieces) == 2
    for piece in pieces:  # every piece's timeline spans exactly its audio
        assert piece.timeline.duration * piece.audio.sample_rate == len(piece.audio)
    together = durations(TWO)
    pause = together.durations[together.names.index("pau")]
    assert pieces[1].timeline.names[0] == "pau"
    assert pieces[1].timeline.durations[0] == pause
    first, _ = synthesize("今日は晴れです。")
    assert (pieces[0].audio.samples == first.samples[: len(pieces[0].audio)]).all()
    assert pieces[0].timeline.names[0] == "sil" and pieces[-1].timeline.names[-1] == "sil"


def test_text_still_arriving_holds_back_the_trailing_silence_until_the_end() -> None:
    pieces = list(speech_pieces(iter(["今日は晴れです。", "明日は雨でしょう。"])))
    assert [p.timeline.names[-1] for p in pieces] == ["U", "o", "sil"]
    assert pieces[-1].timeline.names == ("sil",)


def test_streamed_speech_sends_each_pieces_start_on_its_first_sample() -> None:
    # A virtual clock: the schedule is checked against sample times, whatever the machine is doing.
    clock = VirtualClock()
    agent = MemoryTransport(clock=clock)
    output = NullOutput(clock=clock)
    with Speaker(agent, "gene", audio=output, sync="clock", clock=clock) as speaker:
        utterance = speaker.say(TWO)
        utterance.wait(60)
    assert utterance.started_at is not None
    timeline = utterance.timeline
    assert timeline.names.count("pau") == 1 and "sil" not in timeline.names[1:-1]  # no gap
    first = round((utterance.started_at - output.sample_time(0)) * 48000)
    assert output.end() - first == timeline.duration * 48000
    starts = [(t, line) for t, line in agent.sent if line.startswith("LIPSYNC_START")]
    assert len(starts) == 2
    second_at = timeline[timeline.names.index("pau")].start
    assert starts[0][0] == output.sample_time(first)
    assert starts[1][0] == output.sample_time(first + round(second_at * 48000))
    assert Timeline.from_sequence(starts[1][1].split("|")[2]).names[0] == "pau"


def test_say_dash_reads_standard_input_as_it_arrives() -> None:
    with TcpAgent(events=False) as agent:
        process = subprocess.Popen(
            [sys.executable, "-m", "lipsync", "say", "-", "--model", "gene", "--to", agent.url,
             "--audio", "null", "--sync", "clock"],
            stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert process.stdin is not None
        process.stdin.write("こんにちは。")
        process.stdin.flush()
        # The first sentence is spoken while the input is still open.
        assert agent.wait_for(lambda lines: len(lines) == 1, timeout=20)
        process.stdin.write("さようなら。\n")
        process.stdin.close()
        assert process.wait(timeout=30) == 0
        # One START a sentence, and one for the silence after the last (shutting the lips when
        # the sound ends: the last sentence's START ended on its sound, not knowing it was last).
        sequences = [Timeline.from_sequence(line.split("|")[2]) for line in agent.lines]
        assert [s.names[-1] for s in sequences] == ["a", "a", "sil"] and sequences[2].names == ("sil",)


def test_text_without_punctuation_is_cut_between_accent_phrases() -> None:
    clause = ("今日はとてもいい天気なので公園に散歩に行こうと思っていたのですが"
              "急に雨が降ってきたので家で本を読むことにしました")
    text = clause * 10  # 560 characters, not one punctuation mark
    pieces = split_text(text)
    assert "".join(pieces) == text
    assert len(pieces) > 10 and max(len(p) for p in pieces) <= LONG_SENTENCE
    assert pieces[0] == "今日はとてもいい天気なので公園に散歩に行こうと"  # whole phrases


def test_pieces_with_nothing_to_say_are_dropped() -> None:
    assert split_text("こんにちは。……！？\n😀。さようなら。") == ["こんにちは。", "さようなら。"]


def test_synthesis_stays_a_bounded_distance_ahead_of_the_sound() -> None:
    clock = VirtualClock()

    class Watched(NullOutput):
        ahead = 0

        def _queue(self, samples, start):  # type: ignore[no-untyped-def]
            Watched.ahead = max(Watched.ahead, start - self.position())  # (play() holds the lock)
            super()._queue(samples, start)

    output = Watched(clock=clock)
    pulled: list[int] = []

    def fast_writer() -> Iterator[str]:  # text arriving much faster than it can be spoken
        for number in range(40):
            pulled.append(number)
            yield "今日は晴れです。"

    with Speaker(None, audio=output, clock=clock) as speaker:
        utterance = speaker.say(fast_writer())
        utterance.wait(120)
    assert len(pulled) == 40
    assert Watched.ahead <= MAX_AHEAD * 48000


def test_text_longer_than_open_jtalk_takes_is_spoken_piece_by_piece(monkeypatch: pytest.MonkeyPatch) -> None:
    import lipsync.speech.jtalk
    import lipsync.speech.synthesis

    text = "今日は晴れです。" * 6 + "明日は雨でしょう。" * 6
    monkeypatch.setattr(lipsync.speech.jtalk, "MAX_TEXT_CHARS", 60)  # as if the text were thousands long
    audio, timeline = synthesize(text)
    timed = durations(text)
    assert timeline.duration * audio.sample_rate == len(audio)  # the timeline spans the audio
    assert timed.names == timeline.names and timeline.names.count("sil") == 2
    # The joins are the pauses Open JTalk itself makes; the durations-only timeline has them exactly.
    pairs = zip(timed.durations, timeline.durations, strict=True)
    assert all(abs(a - b) <= Fraction(1, 48000) for a, b in pairs)
    monkeypatch.setattr(lipsync.speech.synthesis, "MAX_LONG_TEXT_CHARS", 100)
    with pytest.raises(ValueRefused, match="at most 100"):
        durations(text)
