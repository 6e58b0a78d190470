"""Label writers: every format read back by ``read_labels`` gives the timeline it was made from."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
from conftest import FIXTURES
from hypothesis import given, settings
from hypothesis import strategies as st

from lipsync import Timeline, ValueRefused, read_labels
from lipsync.labels import detect_format
from lipsync.labels.write import (
    LABEL_FORMATS,
    format_audacity,
    format_json,
    format_lab,
    format_textgrid,
    label_format_for,
)

#: How far each format may move a boundary: the unit it rounds to, halved.
TOLERANCE = {
    "lab": Fraction(1, 2 * 10**7),
    "textgrid": Fraction(1, 2 * 10**9),
    "audacity": Fraction(1, 2 * 10**6),
    "json": Fraction(1, 10**9),
}
EXTENSION = {"lab": ".lab", "textgrid": ".TextGrid", "audacity": ".txt", "json": ".json"}


def samples(names_and_counts, rate=48000, start=Fraction(0)):
    return Timeline(
        [(name, Fraction(count, rate)) for name, count in names_and_counts], start=start, allow_empty=True
    )


SPEECH = samples([("sil", 9000), ("k", 3401), ("o", 4799), ("N", 0), ("pau", 12001), ("i", 5000), ("sil", 7)])


def assert_same(read: Timeline, written: Timeline, tolerance: Fraction) -> None:
    assert read.names == written.names
    assert len(read) == len(written)
    for got, want in zip(read, written, strict=True):
        assert abs(got.start - want.start) <= tolerance, (got, want)
        assert abs(got.end - want.end) <= tolerance, (got, want)


@pytest.mark.parametrize("kind", sorted(LABEL_FORMATS))
@pytest.mark.parametrize("offset", [Fraction(0), Fraction(1, 2)], ids=["at-0", "at-0.5s"])
def test_every_format_round_trips_through_read_labels(tmp_path, kind, offset):
    timeline = SPEECH.shifted(offset)
    path = tmp_path / f"speech{EXTENSION[kind]}"
    path.write_text(LABEL_FORMATS[kind](timeline), encoding="utf-8")
    assert label_format_for(path) == kind
    read = read_labels(path)
    assert read.start == offset or abs(read.start - offset) <= TOLERANCE[kind]
    assert_same(read, timeline, TOLERANCE[kind])


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(0, 200_000), min_size=1, max_size=30),
    offset=st.integers(0, 10**6),
    rate=st.sampled_from([16000, 22050, 24000, 44100, 48000]),
)
def test_round_trips_hold_for_any_sample_times(tmp_path_factory, counts, offset, rate):
    names = ["a", "i", "u", "e", "o", "N", "k", "pau", "cl", "sil"]
    spans = [(names[i % len(names)], count) for i, count in enumerate(counts)]
    timeline = samples(spans, rate, Fraction(offset, rate))
    folder = tmp_path_factory.mktemp("labels")
    for kind, write in LABEL_FORMATS.items():
        path = folder / f"x{EXTENSION[kind]}"
        path.write_text(write(timeline), encoding="utf-8")
        assert_same(read_labels(path), timeline, TOLERANCE[kind])


def test_lab_is_the_mono_label_of_the_fixture():
    timeline = read_labels(FIXTURES / "konnichiwa.mono.lab")
    assert format_lab(timeline) == (FIXTURES / "konnichiwa.mono.lab").read_text()


def test_textgrid_is_praat_long_form_with_a_phones_tier():
    text = format_textgrid(SPEECH.shifted(Fraction(1, 2)))
    lines = text.splitlines()
    assert lines[:2] == ['File type = "ooTextFile"', 'Object class = "TextGrid"']
    assert "xmin = 0.5 " in lines and '        name = "phones" ' in lines
    assert "        intervals: size = 7 " in lines
    assert detect_format(text) == "textgrid"
    # Neighbours share one written time: the end of one is the start of the next.
    times = [line.split("= ")[1].strip() for line in lines if line.startswith("            xm")]
    assert all(times[i] == times[i + 1] for i in range(1, len(times) - 1, 2))


def test_textgrid_is_utf8_and_quotes_nothing_unsafe():
    text = format_textgrid(Timeline([("あ", Fraction(1, 10))]))
    assert '"あ"' in text
    assert text.encode("utf-8").decode("utf-8") == text


def test_audacity_lines_are_tab_separated_seconds():
    text = format_audacity(samples([("sil", 12000), ("a", 2400)], start=Fraction(1, 2)))
    assert text == "0.500000\t0.750000\tsil\n0.750000\t0.800000\ta\n"


def test_json_has_the_shape_timeline_prints():
    text = format_json(SPEECH, sample_rate=48000, samples=38208)
    assert text.endswith("\n") and text.count("\n") == 1
    data = json.loads(text)
    assert list(data) == ["sample_rate", "samples", "phonemes"]
    assert data["phonemes"][1] == {"name": "k", "start_ms": 187.5, "duration_ms": 3401 / 48}
    assert list(json.loads(format_json(SPEECH))) == ["phonemes"]


def test_label_format_for_by_extension():
    assert label_format_for("a.lab") == "lab"
    assert label_format_for("a.TextGrid") == "textgrid"
    assert label_format_for("a.textgrid") == "textgrid"
    assert label_format_for("A.TXT") == "audacity"
    assert label_format_for("x/y.json") == "json"
    assert label_format_for("a.wav") is None
    assert label_format_for("lab") is None


def test_timeline_json_errors_name_the_entry(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"phonemes": [{"name": "a", "start_ms": 0, "duration_ms": 10},'
                    ' {"name": "i", "start_ms": 5, "duration_ms": 10}]}')
    with pytest.raises(ValueRefused, match=r"bad.json: at phonemes\[1\].start_ms: expected 10.0 or later"):
        read_labels(path)
    path.write_text('{"phonemes": [{"name": "a", "start_ms": -1, "duration_ms": 10}]}')
    with pytest.raises(ValueRefused, match=r"at phonemes\[0\].start_ms: expected milliseconds"):
        read_labels(path)


def test_timeline_json_gap_becomes_a_pause(tmp_path):
    path = tmp_path / "gap.json"
    path.write_text('{"phonemes": [{"name": "a", "start_ms": 100, "duration_ms": 10},'
                    ' {"name": "i", "start_ms": 130, "duration_ms": 10}]}')
    timeline = read_labels(path)
    assert timeline.names == ("a", "pau", "i")
    assert timeline.start == Fraction(1, 10)
    assert timeline.durations == (Fraction(1, 100), Fraction(2, 100), Fraction(1, 100))
