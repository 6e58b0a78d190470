"""The scheduler with a virtual clock, a null output and an in-memory agent: exact times."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from lipsync import Audio, NameRefused, Timeline, ValueRefused, load_map, mouth_curves
from lipsync.live.audio.null import NullOutput
from lipsync.live.clock import VirtualClock
from lipsync.live.speaker import Speaker
from lipsync.live.transport import MemoryTransport

KONNICHIWA = "sil,187,k,75,o,75,N,75,n,75,i,62,ch,75,i,87,w,100,a,87,sil,212"
RATE = 48000


def silent(timeline: Timeline, rate: int = RATE, extra: float = 0.0) -> Audio:
    return Audio(np.zeros(round((float(timeline.duration) + extra) * rate), dtype=np.int16), rate)


def long_timeline(count: int = 700) -> Timeline:
    """More phonemes than one 2 KB line holds."""
    names = ["a", "i", "u", "e", "o", "k", "s", "t", "pau"]
    return Timeline([(names[i % len(names)], Fraction(40 + i % 7, 1000)) for i in range(count)])


class Rig:
    def __init__(self, **options: object) -> None:
        self.clock = VirtualClock()
        self.output = NullOutput(clock=self.clock)
        answer = options.pop("answer", None)
        self.agent = MemoryTransport(clock=self.clock, answer=answer)  # type: ignore[arg-type]
        options.setdefault("sync", "clock")
        self.speaker = Speaker(self.agent, "gene", audio=self.output, clock=self.clock, **options)  # type: ignore[arg-type]

    def starts(self) -> list[tuple[float, str]]:
        return [(t, line) for t, line in self.agent.sent if line.startswith("LIPSYNC_START|")]


def test_konnichiwa_is_one_start_on_its_first_sample() -> None:
    rig = Rig()
    timeline = Timeline.from_sequence(KONNICHIWA)
    with rig.speaker as speaker:
        utterance = speaker.say(silent(timeline), timeline)
        assert utterance.wait(10)
    assert rig.agent.sent == [(utterance.started_at, f"LIPSYNC_START|gene|{KONNICHIWA}\n")]
    assert utterance.timeline.to_sequence() == KONNICHIWA
    assert not utterance.stopped


def test_latency_moves_the_start_later_by_exactly_that() -> None:
    rig = Rig(latency=0.040)
    timeline = Timeline.from_sequence(KONNICHIWA)
    with rig.speaker as speaker:
        utterance = speaker.say(silent(timeline), timeline)
        utterance.wait(10)
    assert utterance.started_at is not None
    assert rig.agent.sent[0][0] == pytest.approx(utterance.started_at + 0.040, abs=1e-9)


def test_a_long_timeline_goes_as_several_starts_each_at_its_chunk_time() -> None:
    rig = Rig()
    timeline = long_timeline()
    chunks = timeline.chunks(alias="gene")
    assert len(chunks) >= 2
    with rig.speaker as speaker:
        utterance = speaker.say(silent(timeline), timeline)
        utterance.wait(10)
    starts = rig.starts()
    assert [line for _, line in starts] == [c.line("gene") for c in chunks]
    assert utterance.started_at is not None
    for (sent, _), chunk in zip(starts, chunks, strict=True):
        first_sample = rig.output.sample_time(round(float(chunk.start) * RATE))
        assert sent == pytest.approx(first_sample, abs=1e-9)
        assert sent == pytest.approx(utterance.started_at + float(chunk.start), abs=1 / RATE)
    assert all(len(line.encode()) < 2048 for _, line in starts)


def test_event_sync_starts_the_sound_on_the_agents_event_and_leads_later_starts() -> None:
    clock_box: list[VirtualClock] = []

    def agent(line: str) -> list[str]:
        if line.startswith("LIPSYNC_START|gene|"):
            clock_box[0].advance(0.064)  # the agent takes 64 ms to start its motion
            return [line.rstrip("\n"), "LIPSYNC_EVENT_START|gene"]
        return []

    rig = Rig(sync="event", answer=agent)
    clock_box.append(rig.clock)
    timeline = long_timeline()
    chunks = timeline.chunks(alias="gene")
    with rig.speaker as speaker:
        utterance = speaker.say(silent(timeline), timeline)
        utterance.wait(10)
    starts = rig.starts()
    assert speaker.event_delay == pytest.approx(0.064)
    assert utterance.started_at is not None
    # The first START leaves before the sound, which starts when the event came.
    assert starts[0][0] + 0.064 == pytest.approx(utterance.started_at, abs=1e-3)
    # Later ones leave 64 ms ahead of their first sample, so the motion meets the sound.
    for (sent, _), chunk in zip(starts[1:], chunks[1:], strict=True):
        assert sent + 0.064 == pytest.approx(utterance.started_at + float(chunk.start), abs=1e-3)


def test_stop_mid_speech_sends_one_stop_and_nothing_after() -> None:
    rig = Rig()
    starts: list[str] = []

    def agent(line: str) -> list[str]:
        if line.startswith("LIPSYNC_START"):
            starts.append(line)
            if len(starts) == 2:
                rig.speaker.stop()  # the user stops it just after the second chunk began
        return []

    rig.agent.answer = agent
    timeline = long_timeline()
    with rig.speaker as speaker:
        utterance = speaker.say(silent(timeline), timeline)
        utterance.wait(10)
        speaker.stop()  # a second stop changes nothing
    lines = rig.agent.lines
    assert utterance.stopped
    assert lines.count("LIPSYNC_STOP|gene\n") == 1
    assert lines[-1] == "LIPSYNC_STOP|gene\n"
    assert sum(line.startswith("LIPSYNC_START") for line in lines) == 2


def test_interrupt_sends_stop_before_the_new_start() -> None:
    rig = Rig()
    timeline = long_timeline()
    short = Timeline.from_sequence(KONNICHIWA)
    holder: list[object] = []

    def agent(line: str) -> list[str]:
        if line.startswith("LIPSYNC_START") and not holder:
            holder.append(rig.speaker.say(silent(short), short, interrupt=True))
        return []

    rig.agent.answer = agent
    with rig.speaker as speaker:
        first = speaker.say(silent(timeline), timeline)
        first.wait(10)
        speaker.join(10)
    lines = rig.agent.lines
    assert first.stopped
    assert lines[1:] == ["LIPSYNC_STOP|gene\n", f"LIPSYNC_START|gene|{KONNICHIWA}\n"]


def test_audio_shorter_than_its_labels_gets_a_stop_when_the_sound_ends() -> None:
    rig = Rig()
    timeline = Timeline.from_sequence(KONNICHIWA)
    audio = Audio(np.zeros(RATE // 2, dtype=np.int16), RATE)  # 0.5 s of 1.11 s
    with rig.speaker as speaker:
        utterance = speaker.say(audio, timeline)
        utterance.wait(10)
    (t0, _), (t1, stop) = rig.agent.sent
    assert stop == "LIPSYNC_STOP|gene\n"
    assert t1 - t0 == pytest.approx(0.5, abs=1e-6)


def test_queued_speech_follows_the_first() -> None:
    rig = Rig()
    timeline = Timeline.from_sequence(KONNICHIWA)
    with rig.speaker as speaker:
        first = speaker.say(silent(timeline), timeline)
        second = speaker.say(silent(timeline), timeline)
        second.wait(10)
    assert first.done and second.done
    (t0, _), (t1, _) = rig.agent.sent
    assert t1 - t0 == pytest.approx(float(timeline.duration), abs=1e-4)


def test_weights_without_an_agent_follow_the_mouth_curves_at_the_fps() -> None:
    clock = VirtualClock()
    output = NullOutput(clock=clock)
    frames: list[tuple[float, float, dict[str, float]]] = []
    timeline = Timeline.from_sequence(KONNICHIWA)
    lipmap = load_map(None)
    with Speaker(None, audio=output, clock=clock, fps=60,
                 on_weights=lambda t, w: frames.append((clock.now(), t, w))) as speaker:
        utterance = speaker.say(silent(timeline), timeline)
        utterance.wait(10)
    curves = mouth_curves(timeline, lipmap)
    assert utterance.started_at is not None
    times = [t for _, t, _ in frames]
    assert times == pytest.approx([i / 60 for i in range(len(times))], abs=1e-6)
    assert times[-1] >= curves.duration - 1 / 60
    for when, t, weights in frames:
        assert when == pytest.approx(utterance.started_at + t, abs=1e-6)
        expected = curves.at([t])[0]
        assert [weights[m] for m in curves.morphs] == pytest.approx(list(expected), abs=1e-6)
    assert max(max(w.values()) for _, _, w in frames) > 0.5


def test_the_agent_coming_back_mid_speech_gets_the_rest_of_the_chunk() -> None:
    rig = Rig()
    timeline = Timeline.from_sequence(KONNICHIWA)
    seen: list[str] = []

    def agent(line: str) -> list[str]:
        seen.append(line)
        if len(seen) == 1:
            rig.agent.drop()
            rig.clock.advance(0.300)  # 300 ms later the agent is back
            rig.agent.reconnect()
        return []

    rig.agent.answer = agent
    with rig.speaker as speaker:
        utterance = speaker.say(silent(timeline), timeline)
        utterance.wait(10)
    (t0, _first), (t1, rest) = rig.agent.sent
    assert t1 - t0 == pytest.approx(0.300)
    assert rest == f"LIPSYNC_START|gene|{timeline.since(Fraction(3, 10)).to_sequence()}\n"
    assert rest.startswith("LIPSYNC_START|gene|o,37,N,75,")  # 300 ms is 38 ms into "o"


@pytest.mark.parametrize("alias", ["gene|x", "gene\nMODEL_DELETE|gene", "a,b", "ge\x00ne", "\x1b[2J", ""])
def test_hostile_aliases_are_refused_before_anything_is_sent(alias: str) -> None:
    agent = MemoryTransport()
    with pytest.raises(NameRefused):
        Speaker(agent, alias, audio="null")
    assert agent.sent == []


def test_an_error_in_a_callback_stops_the_lips_and_reaches_the_caller() -> None:
    clock = VirtualClock()
    agent = MemoryTransport(clock=clock)
    timeline = Timeline.from_sequence(KONNICHIWA)

    def broken(t: float, weights: dict[str, float]) -> None:
        if t > 0.3:
            raise RuntimeError("engine crashed")

    with Speaker(agent, "gene", audio=NullOutput(clock=clock), clock=clock, sync="clock",
                 on_weights=broken) as speaker:
        utterance = speaker.say(silent(timeline), timeline)
        with pytest.raises(RuntimeError, match="engine crashed"):
            utterance.wait(10)
    assert agent.lines == [f"LIPSYNC_START|gene|{KONNICHIWA}\n", "LIPSYNC_STOP|gene\n"]


def test_say_refuses_a_closed_speaker_and_a_lookahead_for_what_is_no_stream() -> None:
    timeline = Timeline.from_sequence(KONNICHIWA)
    speaker = Speaker(None, audio="null")
    with pytest.raises(ValueRefused, match="not open"):
        speaker.say(silent(timeline), timeline)
    with speaker, pytest.raises(ValueRefused, match="lookahead= goes with a stream"):
        speaker.say(silent(timeline), lookahead=0.3)


def test_audio_at_another_rate_is_resampled_and_keeps_its_times() -> None:
    rig = Rig()
    timeline = Timeline.from_sequence(KONNICHIWA)
    with rig.speaker as speaker:
        utterance = speaker.say(silent(timeline, rate=16000, extra=0.5), timeline)
        utterance.wait(10)
    assert rig.output.end() == round((float(timeline.duration) + 0.5) * RATE)


def test_text_from_a_pipe_shuts_the_lips_when_its_last_sentence_ends() -> None:
    rig = Rig()
    with rig.speaker as speaker:
        utterance = speaker.say(iter(["こんにちは。"]))  # the last piece is not known to be last
        assert utterance.wait(30)
    starts = rig.starts()
    sequences = [Timeline.from_sequence(line.split("|")[2].rstrip("\n")) for _, line in starts]
    spoken = utterance.timeline
    assert sequences[-2].names[-1] == "a"  # the sentence's START ends on its sound,
    assert sequences[-1].names == ("sil",)
    assert sequences[-1].duration == pytest.approx(spoken[-1].duration, abs=1e-3)
    # and the silence's START leaves on its first sample: when the sentence's last sound ends.
    assert starts[-1][0] == pytest.approx(utterance.started_at + float(spoken[-1].start), abs=1e-6)
