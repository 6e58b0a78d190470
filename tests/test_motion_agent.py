"""What MMDAgent-EX is sent (lipsync.motion.agent): its own algorithm, run on the shaped
sequences (lipsync.curves.agent_curves, its createMotion frame for frame), shuts the lips on
m/b/p; everything else is sent as it was."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
from speechsets import held_out, tuning

from lipsync import Timeline, load_map, resolve
from lipsync.curves import agent_curves, motion_keys
from lipsync.live.clock import VirtualClock
from lipsync.live.speaker import Speaker
from lipsync.live.transport.memory import MemoryTransport
from lipsync.maps.named import MAP_NAMES
from lipsync.motion import Motion
from lipsync.motion.agent import agent_chunks, agent_pairs, agent_sequence
from lipsync.motion.measure import Figures, figures
from lipsync.motion.roles import BILABIALS
from lipsync.sound import Audio
from lipsync.timeline import MESSAGE_LIMIT


def judged_by_the_agent(name: str, timelines: tuple[Timeline, ...], *, shaped: bool = True) -> Figures:
    lipmap = load_map(name)
    total = Figures()
    for timeline in timelines:
        timeline, _ = resolve(timeline, lipmap)
        sent = agent_sequence(timeline, lipmap) if shaped else timeline.to_sequence()
        total += figures(agent_curves(Timeline.from_sequence(sent), lipmap), timeline, lipmap, leads=False)
    return total


@pytest.mark.parametrize("name", sorted(MAP_NAMES))
def test_the_agent_s_own_motion_of_what_it_is_sent_closes_on_every_tuning_bilabial(name: str) -> None:
    assert judged_by_the_agent(name, tuning()).closure == 1.0


# The held-out figure for every map is in bench/test_bench_motion.py; here the stock map (what a
# stock agent draws), one with a closing morph (ん) and one with a rest morph (sil).
@pytest.mark.parametrize("name", ["mmdagent", "mmd", "rpm"])
def test_the_agent_s_own_motion_of_held_out_speech_closes_on_98_percent(name: str) -> None:
    got = judged_by_the_agent(name, held_out())
    assert got.bilabials == 379 and got.closure >= 0.98 and got.bilabials - got.closed == got.unframed


def test_the_stock_map_sent_plain_leaves_most_bilabials_open() -> None:
    # Its b is あ 0.1 and its keys fall where rounding puts them: the starting point.
    assert judged_by_the_agent("mmdagent", tuning(), shaped=False).closure < 0.35


def test_a_bilabial_is_keyed_inside_its_sound_under_a_closed_row() -> None:
    lipmap = load_map()  # the stock lip.txt: b is あ 0.1, m and p are all 0
    timeline = Timeline.from_sequence("sil,187,a,80,b,45,a,90,m,50,o,120,sil,200")
    pairs = agent_pairs(timeline, lipmap)
    assert [name for name, _ in pairs] == ["sil", "a", "m", "a", "m", "o", "sil"]  # b sent as m
    keys = [k for k in motion_keys(pairs, lipmap.phonemes[0]) if k.rate == 1.0]
    for key, phone in zip(keys, timeline, strict=True):
        if phone.name in BILABIALS:
            assert phone.start <= Fraction(key.frame, 30) < phone.end
    plain = [k for k in motion_keys(list(zip(timeline.names, timeline.milliseconds(), strict=True)), "A")
             if k.rate == 1.0]
    assert Fraction(plain[2].frame, 30) < timeline[2].start  # where plain rounding put b: too early
    assert sum(ms for _, ms in pairs) == sum(timeline.milliseconds())


def test_speech_without_bilabials_is_sent_exactly_as_before() -> None:
    lipmap = load_map()
    plain = [t for t in held_out() if not set(t.names) & BILABIALS]
    assert len(plain) >= 10
    for timeline in plain:
        timeline, _ = resolve(timeline, lipmap)
        assert agent_sequence(timeline, lipmap) == timeline.to_sequence()


def test_long_speech_is_shaped_start_by_start_and_every_line_fits() -> None:
    lipmap = load_map()
    long = Timeline([(p.name, p.duration) for t in tuning() for p in resolve(t, lipmap)[0]])
    chunks = agent_chunks(long, lipmap, alias="gene")
    assert len(chunks) >= 2 and all(len(c.line("gene").encode()) < MESSAGE_LIMIT for c in chunks)
    assert sum((c.timeline for c in chunks[1:]), chunks[0].timeline) == long  # the true times are kept
    for chunk in chunks:
        sent = Timeline.from_sequence(chunk.sequence)
        assert abs(sent.duration - chunk.timeline.duration) <= Fraction(1, 1000)
        drawn = agent_curves(sent, lipmap)
        assert figures(drawn, chunk.timeline.shifted(0), lipmap, leads=False).closure == 1


def test_the_speaker_sends_shaped_starts_and_plain_ones_without_coarticulation() -> None:
    timeline = Timeline.from_sequence("sil,187,a,80,b,45,a,90,sil,200")
    audio = Audio(np.zeros(round(float(timeline.duration) * 48000), dtype=np.int16), 48000)
    lines = {}
    for motion in (Motion(), Motion(coarticulation=False)):
        clock = VirtualClock()
        transport = MemoryTransport(clock=clock)
        with Speaker(transport, "gene", audio="null", sync="clock", clock=clock, motion=motion) as s:
            s.say(audio, timeline).wait()
        lines[motion.coarticulation] = [line for line in transport.lines if line.startswith("LIPSYNC_START")]
    assert lines[True] == [f"LIPSYNC_START|gene|{agent_sequence(timeline, load_map())}\n"]
    assert lines[False] == [f"LIPSYNC_START|gene|{timeline.to_sequence()}\n"]
    assert lines[True] != lines[False]


def test_curves_agent_shows_the_sequence_sent_and_the_agent_s_keys(capsys) -> None:
    from lipsync.cli.main import main

    sequence = "sil,187,a,80,b,45,a,90,sil,200"
    assert main(["curves", "--sequence", sequence, "--agent", "--keyframes"]) == 0
    shaped = json.loads(capsys.readouterr().out)
    assert shaped["sequence"] == agent_sequence(Timeline.from_sequence(sequence), load_map())
    assert main(["curves", "--sequence", sequence, "--agent", "--keyframes", "--no-coarticulation"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert plain["sequence"] == sequence
    b = Timeline.from_sequence(sequence)[2]
    inside = [f for f in range(20) if b.start <= Fraction(f, 30) < b.end]
    shaped_a, plain_a = dict(shaped["keyframes"]["あ"]), dict(plain["keyframes"]["あ"])
    assert any(shaped_a.get(f, 1) == 0 for f in inside)  # a key inside b, at あ 0
    assert not any(plain_a.get(f, 1) == 0 for f in inside)  # plain: b is あ 0.1, keyed a frame early
