"""The scheduler's timing rules, with numbers: no threads, no audio device, no clock but the test's.

``Schedule`` decides what is due at which stream sample; ``Answers`` and ``Lips`` hold what the
agent said and what it is drawing. Every time here is a number the test chooses.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from lipsync.live.agent import NO_EVENT_AFTER, Answers, Lips
from lipsync.live.schedule import SampleTime, Schedule, late_by, release_wait, shorten_pause, skip_start
from lipsync.sound import Audio
from lipsync.timeline import Timeline

RATE = 48000
KONNICHIWA = "sil,187,k,75,o,75,N,75,n,75,i,62,ch,75,i,87,w,100,a,87,sil,212"


def at(zero: float) -> SampleTime:
    """An output whose stream sample ``i`` plays at ``zero + i / RATE``."""
    return lambda index: zero + index / RATE


def drain(schedule: Schedule, until: float, sample_time: SampleTime) -> list[tuple[str, int]]:
    """Every action due by ``until``, in the order the scheduler gives them."""
    done = []
    while (action := schedule.pop_due(until, sample_time)) is not None:
        done.append((action.kind, action.index))
        if action.kind == "frame":
            schedule.frame(action)
            schedule.frame_done(action)
    return done


def test_a_start_is_due_on_its_first_sample_plus_the_latency_less_the_lead() -> None:
    timeline = Timeline.from_sequence(KONNICHIWA)
    schedule = Schedule(RATE, 30, latency=0.05)
    schedule.place(1000, 1000 + round(float(timeline.duration) * RATE))
    (start,) = schedule.starts(1000, timeline.chunks(alias="gene"))
    schedule.add(start)
    clock = at(10.0)
    assert schedule.due(start, clock) == pytest.approx(10.0 + 1000 / RATE + 0.05)
    assert schedule.due(start, clock, lead=0.2) == pytest.approx(10.0 + 1000 / RATE + 0.05 - 0.2)
    # Not due a microsecond early; due exactly then.
    due = schedule.due(start, clock, lead=0.2)
    assert due is not None
    assert schedule.pop_due(due - 1e-6, clock, lead=0.2) is None
    assert schedule.pop_due(due, clock, lead=0.2) is start


def test_nothing_is_due_while_the_output_cannot_say_when_a_sample_plays() -> None:
    schedule = Schedule(RATE, 30)
    schedule.place(0, RATE)
    schedule.finish()
    assert schedule.next_due(lambda index: None) is not None
    assert schedule.pop_due(1e9, lambda index: None) is None


def test_each_chunk_starts_on_its_own_first_sample() -> None:
    long = Timeline.from_sequence(",".join(["a,100"] * 60))  # 6 s: several STARTs of a short limit
    schedule = Schedule(RATE, 30)
    schedule.place(0, round(float(long.duration) * RATE))
    chunks = long.chunks(200, alias="gene")
    starts = schedule.starts(0, chunks)
    assert len(starts) == len(chunks) > 1
    assert [s.index for s in starts] == [round(c.start * RATE) for c in chunks]
    assert [schedule.chunk_end(s) for s in starts[:-1]] == [s.index for s in starts[1:]]


def test_frames_follow_the_fps_grid_from_the_first_sample_while_a_curve_lasts() -> None:
    from lipsync.maps import load_map
    from lipsync.motion import mouth_curves

    timeline = Timeline.from_sequence(KONNICHIWA)
    curves = mouth_curves(timeline, load_map("vrm"))
    schedule = Schedule(RATE, 60, latency=0.0)
    origin = 4800
    end = origin + round(float(timeline.duration) * RATE)
    schedule.place(origin, end)
    schedule.add_curves(origin, curves)
    schedule.finish()
    done = drain(schedule, math.inf, at(0.0))
    frames = [index for kind, index in done if kind == "frame"]
    assert frames[0] == origin
    assert all(b - a == RATE // 60 for a, b in itertools.pairwise(frames))  # 800 samples apart
    last_curve_sample = origin + math.ceil(curves.duration * RATE)
    assert frames[-1] <= last_curve_sample < frames[-1] + RATE // 60 + 1
    # The end comes after the last sample's frames; the mouth's closing keys go on past it.
    assert ("end", end) in done
    assert all(index >= end for kind, index in done[done.index(("end", end)):] if kind == "frame")


def test_a_frame_gives_the_weights_of_its_time_from_the_first_sample() -> None:
    from lipsync.maps import load_map
    from lipsync.motion import mouth_curves

    timeline = Timeline.from_sequence(KONNICHIWA)
    lipmap = load_map("vrm")
    curves = mouth_curves(timeline, lipmap)
    schedule = Schedule(RATE, 30)
    schedule.place(RATE, 2 * RATE)
    schedule.add_curves(RATE, curves)
    seen = []
    while (action := schedule.pop_due(math.inf, at(0.0))) is not None:
        t, weights = schedule.frame(action)
        schedule.frame_done(action)
        seen.append((t, weights))
    for t, weights in seen:
        expected = curves.at([t])[0]
        assert weights is not None and list(weights.values()) == pytest.approx(list(expected), abs=1e-6)
    assert [t for t, _ in seen][:3] == pytest.approx([0.0, 1 / 30, 2 / 30])


def test_a_piece_placed_late_counts_the_silence_already_played() -> None:
    schedule = Schedule(RATE, 30)
    assert schedule.place(0, RATE) == 0
    assert schedule.place(RATE + 480, 2 * RATE) == 480  # the output played 10 ms of silence between
    pause = Timeline.from_sequence("pau,200,a,100")
    audio = Audio.from_float([0.0] * round(0.3 * RATE), RATE)
    shorter, timeline = shorten_pause(audio, pause, 4800, RATE)  # 100 ms already waited
    assert timeline.durations[0] == Fraction(1, 10) and len(shorter) == len(audio) - 4800
    assert shorten_pause(audio, pause, 0, RATE) == (audio, pause)


def test_the_agents_delay_is_the_median_of_its_last_answers() -> None:
    answers = Answers(kept=3)
    assert answers.delay is None and answers.lead("event") == 0.0
    for sent, heard in ((0.0, 0.1), (1.0, 1.3), (2.0, 2.2), (3.0, 3.9)):
        answers.sent(sent)
        answers.heard(heard)
    assert answers.delay == pytest.approx(0.3)  # median of 0.3, 0.2, 0.9: the first fell out
    assert answers.lead("event") == pytest.approx(0.3) and answers.lead("clock") == 0.0


def test_a_start_unanswered_too_long_means_keep_to_the_clock_until_the_agent_answers() -> None:
    answers = Answers()
    answers.sent(5.0)
    assert not answers.give_up(5.0, 5.0 + NO_EVENT_AFTER - 0.01)
    assert answers.give_up(5.0, 5.0 + NO_EVENT_AFTER)
    assert answers.missing and answers.oldest is None and answers.lead("event") == 0.0
    answers.sent(9.0)
    answers.heard(9.1)
    assert not answers.missing and answers.answered == 1 and answers.delay == pytest.approx(0.1)


def test_an_answer_to_a_start_given_up_on_is_not_taken_for_a_later_one() -> None:
    answers = Answers()
    answers.sent(0.0)
    answers.sent(3.0)
    answers.heard(3.2)  # the START of 0.0 is over NO_EVENT_AFTER old: this answers the one of 3.0
    assert answers.delay == pytest.approx(0.2)


def test_lips_move_until_their_chunk_ends_and_a_reconnection_gets_the_rest() -> None:
    lips = Lips()
    assert not lips.moving(0.0) and lips.clear() is None
    timeline = Timeline.from_sequence(KONNICHIWA)
    lips.started(0, timeline, began=10.0, finish=10.0 + float(timeline.duration), latency=0.1)
    assert lips.moving(11.0) and not lips.moving(10.0 + float(timeline.duration) + 0.1)
    rest = lips.rest(began=10.0, now=10.5, lead=0.0, latency=0.1)
    assert rest is not None and rest.duration == timeline.duration - Fraction(4, 10)
    assert lips.rest(began=10.0, now=10.0 + float(timeline.duration) + 0.2, lead=0.0, latency=0.1) is None
    lips.awaiting()
    assert lips.moving(1e9)
    assert lips.clear() == math.inf and not lips.moving(0.0)


def test_a_streamed_piece_waits_for_its_release_unless_queued_sound_outlasts_it() -> None:
    # Heard at 10.0 s with a 0.4 s look-ahead: it may sound from 10.4 s on.
    assert release_wait(10.4, now=10.1, queued_until=None) == pytest.approx(0.3)  # idle output: wait
    assert release_wait(10.4, now=10.1, queued_until=10.2) == pytest.approx(0.3)  # ends too soon: wait
    assert release_wait(10.4, now=10.1, queued_until=10.4) == 0.0  # follows the queued sound
    assert release_wait(10.4, now=10.5, queued_until=None) == 0.0  # late already: at once
    assert release_wait(None, now=10.1, queued_until=None) == 0.0  # not a stream


def test_a_live_voices_late_piece_skips_what_its_mouth_missed() -> None:
    assert late_by(10.4, now=10.45, queued_until=None) == pytest.approx(0.05)  # made 50 ms late
    assert late_by(10.4, now=10.3, queued_until=10.5) == pytest.approx(0.1)  # behind queued sound
    assert late_by(10.4, now=10.4, queued_until=10.4) == 0.0
    assert late_by(None, now=11, queued_until=None) == 0.0
    timeline = Timeline.from_sequence("k,50,a,100")
    audio = Audio.from_float(np.zeros(7200), RATE)  # 150 ms
    cut_audio, cut = skip_start(audio, timeline, 0.06)
    assert len(cut_audio) == 7200 - 2880 and cut.to_sequence() == "a,90"
    assert skip_start(audio, timeline, 1.0)[1].end == Fraction(1, RATE)  # never all of it

