"""Timeline: the LIPSYNC sequence form, carried rounding, chunks under the byte limit."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lipsync import SourceError, Timeline, ValueRefused

EXAMPLE = "sil,187,k,75,o,75,N,75,n,75,i,62,ch,75,i,87,w,100,a,87,sil,212"


def test_sequence_parses_and_formats_back():
    timeline = Timeline.from_sequence(EXAMPLE)
    assert timeline.names == ("sil", "k", "o", "N", "n", "i", "ch", "i", "w", "a", "sil")
    assert timeline.duration == Fraction(1110, 1000)
    assert timeline.to_sequence() == EXAMPLE
    assert [p.start_ms for p in timeline][:3] == [0.0, 187.0, 262.0]


@pytest.mark.parametrize(
    ("text", "column", "words"),
    [
        ("", 1, "found an empty sequence"),
        ("sil,100,a", 10, "expected a duration in milliseconds after 'a', found end of sequence"),
        ("sil,x,a,10", 5, "expected a duration in milliseconds after 'sil', found 'x'"),
        ("sil,-5", 5, "found '-5'"),
        ("sil,10,,10", 8, "expected a phoneme name, found ''"),
        ("sil,10,a|b,10", 8, "'|' is not allowed"),
        ("sil,10,a\nb,10", 8, "control character U+000A"),
    ],
)
def test_bad_sequences_name_their_column(text, column, words):
    with pytest.raises(SourceError) as caught:
        Timeline.from_sequence(text, "seq")
    assert caught.value.column == column and words in str(caught.value)


def test_spans_are_validated():
    with pytest.raises(ValueRefused, match="longer than zero"):
        Timeline([("a", 0)])
    with pytest.raises(ValueRefused, match="longer than zero"):
        Timeline([("a", -1)], allow_empty=True)
    with pytest.raises(ValueRefused, match="not a number"):
        Timeline([("a", "x")])
    with pytest.raises(ValueRefused, match="not allowed"):
        Timeline([("a,b", 1)])
    assert Timeline([("a", 0)], allow_empty=True).to_sequence() == "a,0"


def test_carried_rounding_on_a_long_run_of_thirds():
    timeline = Timeline([("a", Fraction(1, 300))] * 3000)  # 3.333... ms each, 10 s in all
    ms = timeline.milliseconds()
    assert sum(ms) == 10000
    assert set(ms) == {3, 4}


durations = st.fractions(min_value=Fraction(1, 48000), max_value=Fraction(2), max_denominator=48000)
names = st.sampled_from(["sil", "a", "k", "ch", "pau", "N", "cl"])


@given(st.lists(st.tuples(names, durations), min_size=1, max_size=200))
def test_running_sum_never_drifts_more_than_half_a_millisecond(spans):
    timeline = Timeline(spans)
    total_ms = 0
    for phone, ms in zip(timeline, timeline.milliseconds(), strict=True):
        total_ms += ms
        assert abs(total_ms - phone.end * 1000) <= Fraction(1, 2)


@given(st.lists(st.tuples(names, st.integers(0, 5000)), min_size=1, max_size=100))
def test_whole_millisecond_timelines_round_trip(spans):
    sequence = ",".join(f"{n},{ms}" for n, ms in spans)
    timeline = Timeline.from_sequence(sequence)
    assert timeline.to_sequence() == sequence
    assert Timeline.from_sequence(timeline.to_sequence()) == timeline


@given(
    st.lists(st.tuples(names, durations), min_size=1, max_size=600),
    st.integers(min_value=80, max_value=2000),
    st.sampled_from(["gene", "メイ", "a_b"]),
)
def test_chunks_stay_under_the_limit_and_lose_nothing(spans, limit, alias):
    timeline = Timeline(spans)
    chunks = timeline.chunks(limit, alias=alias)
    for chunk in chunks:
        assert len(chunk.line(alias).encode()) < limit
    assert ",".join(c.sequence for c in chunks) == timeline.to_sequence()
    joined = chunks[0].timeline
    for chunk in chunks[1:]:
        assert chunk.start == joined.end
        joined = joined + chunk.timeline
    assert joined == timeline


def test_chunks_prefer_to_cut_after_a_pause():
    spans = [("a", Fraction(1, 10)), ("k", Fraction(1, 10))] * 30
    spans[40] = ("pau", Fraction(1, 10))
    chunks = Timeline(spans).chunks(len("LIPSYNC_START|gene|\n") + 8 * 45, alias="gene")
    assert chunks[0].timeline.names[-1] == "pau"


def test_default_limit_fits_mmdagent():
    timeline = Timeline([("a", Fraction(1, 10))] * 2000)
    chunks = timeline.chunks(alias="gene")
    assert len(chunks) > 1
    assert all(len(c.line("gene").encode()) < 2000 for c in chunks)
