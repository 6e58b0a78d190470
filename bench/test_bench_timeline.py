"""Timelines: Open JTalk durations vs full synthesis; mouth-curve sampling throughput.

Target: one hour of speech sampled at 60 fps in <= 0.5 s (keys + sampling).
"""

from __future__ import annotations

import pytest
from texts import text_of

from lipsync import Timeline, load_map, mouth_curves, synthesize
from lipsync.speech.synthesis import durations

EXAMPLE = "sil,187,k,75,o,75,N,75,n,75,i,62,ch,75,i,87,w,100,a,87,sil,212"


@pytest.mark.parametrize("length", [20, 500])
def test_durations_only(benchmark, figures, length):
    text = text_of(length)
    durations(text)
    benchmark.group = f"open jtalk, {length} characters"
    benchmark(durations, text)
    figures.add(f"durations only, {length} characters", benchmark.stats.stats.median,
                baseline=f"full synthesis, {length} characters", target="≤ 0.1 × synthesis",
                check=lambda v, b: b is not None and v <= 0.1 * b)


@pytest.mark.parametrize("length", [20, 500])
def test_full_synthesis(benchmark, figures, length):
    text = text_of(length)
    synthesize(text)
    benchmark.group = f"open jtalk, {length} characters"
    benchmark.pedantic(synthesize, args=(text,), rounds=5 if length > 100 else 20)
    figures.add(f"full synthesis, {length} characters", benchmark.stats.stats.median)


def _hour() -> Timeline:
    one = Timeline.from_sequence(EXAMPLE)
    repeats = int(3600 / float(one.duration)) + 1
    return Timeline(list(zip(one.names, one.durations, strict=True)) * repeats)


def test_curves_one_hour_at_60fps(benchmark, figures):
    hour = _hour()
    lipmap = load_map()

    def run():
        return mouth_curves(hour, lipmap).sample(60)

    benchmark.group = "curves"
    times, _ = benchmark.pedantic(run, rounds=5)
    assert times[-1] >= 3600
    benchmark.extra_info["samples_per_second"] = len(times) / benchmark.stats.stats.median
    figures.add("mouth curves, 1 h of speech at 60 fps (keys + sampling)", benchmark.stats.stats.median,
                target="≤ 0.5 s", check=lambda v, b: v <= 0.5)
