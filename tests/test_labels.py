"""Label files of every format read to the same kind of timeline, with located errors."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
from conftest import FIXTURES, REFERENCE

from lipsync import SourceError, Timeline, ValueRefused, load_map, read_labels
from lipsync.labels import detect_format
from lipsync.labels.segments import format_mono, read_segments
from lipsync.labels.voicevox import FRAME, read_audio_query
from lipsync.maps.resolver import resolve

JSUT = sorted((REFERENCE / "labels" / "jsut-basic5000").glob("*.lab"))
KONNICHIWA_MS = [265, 70, 80, 70, 50, 80, 90, 70, 40, 170, 215]


@pytest.mark.parametrize("path", JSUT, ids=lambda p: p.name)
def test_every_jsut_label_reads_with_its_total(path):
    lines = path.read_text().split("\n")
    last_end = int([line for line in lines if line.strip()][-1].split()[1])
    timeline = read_labels(path)
    assert detect_format(path.read_text()) == "hts"
    assert timeline.start == 0
    assert abs(timeline.end - Fraction(last_end, 10**7)) <= Fraction(1, 1000)
    assert sum(timeline.milliseconds()) == round(last_end / 10**4)
    resolved, warnings = resolve(timeline, load_map())
    assert warnings == [] and resolved == timeline


def test_first_jsut_file_in_detail():
    timeline = read_labels(JSUT[0])
    assert timeline.names[:5] == ("sil", "m", "i", "z", "u")
    assert timeline.to_sequence().startswith("sil,300,m,40,i,80,z,90,u,30,")


def test_julius_reads_seconds_and_its_names_resolve():
    timeline = read_labels(FIXTURES / "konnichiwa.julius.lab")
    assert timeline.names[0] == "silB" and timeline.names[-1] == "silE"
    assert timeline.milliseconds() == KONNICHIWA_MS
    resolved, _ = resolve(timeline, load_map())
    assert resolved.names == ("sil", "k", "o", "N", "n", "i", "ch", "i", "w", "a", "sil")


def test_mono_reads_100ns_units_and_matches_julius():
    mono = read_labels(FIXTURES / "konnichiwa.mono.lab")
    julius = read_labels(FIXTURES / "konnichiwa.julius.lab", format="julius")
    assert detect_format((FIXTURES / "konnichiwa.mono.lab").read_text()) == "mono"
    assert mono == resolve(julius, load_map())[0]


def test_mono_label_writer_round_trips():
    timeline = read_labels(FIXTURES / "konnichiwa.mono.lab")
    assert format_mono(timeline) == (FIXTURES / "konnichiwa.mono.lab").read_text()
    assert read_segments(format_mono(timeline), "x") == timeline


def test_mono_in_seconds_and_gaps():
    timeline = read_segments("0.1 0.2 a\n0.3 0.5 i\n", "m")
    assert timeline.start == Fraction(1, 10)
    assert timeline.names == ("a", "pau", "i")
    assert timeline.durations == (Fraction(1, 10), Fraction(1, 10), Fraction(1, 5))


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        ("0 10 a\n10 5 i\n", 2, 4, "expected an end time at or after the start 10, found 5"),
        ("0 10 a\n5 20 i\n", 2, 1, "expected a start at or after the previous end"),
        ("0 10 a\n10 x i\n", 2, 4, "expected a time in 100 ns units (an integer), found 'x'"),
        ("0 10 a\n10 20\n", 2, 1, "expected START END PHONEME, found 2 fields"),
        ("0 10 a|b\n", 1, 6, "'|' is not allowed"),
        ("\n\n", 1, 1, "found none"),
    ],
)
def test_segment_errors_name_line_and_column(text, line, column, words):
    with pytest.raises(SourceError) as caught:
        read_segments(text, "s.lab")
    assert (caught.value.line, caught.value.column) == (line, column), str(caught.value)
    assert words in str(caught.value)


def test_textgrid_long_form_picks_the_phones_tier():
    timeline = read_labels(FIXTURES / "sentence.long.TextGrid")
    assert timeline.names == ("sil", "k", "o", "N", "pau", "w", "a", "sil")
    assert timeline.milliseconds() == [265, 70, 80, 70, 100, 230, 170, 215]
    with pytest.raises(SourceError) as caught:  # words are not phonemes
        read_labels(FIXTURES / "sentence.long.TextGrid", tier="words")
    assert caught.value.line == 22 and "white space is not allowed" in str(caught.value)


def test_textgrid_short_form_and_utf16(tmp_path):
    short = read_labels(FIXTURES / "sentence.short.TextGrid")
    assert short.names == ("sil", "k", "o", "sil") and short.milliseconds() == [265, 70, 665, 200]
    utf16 = tmp_path / "u.TextGrid"
    utf16.write_bytes((FIXTURES / "sentence.long.TextGrid").read_text().encode("utf-16"))
    assert read_labels(utf16) == read_labels(FIXTURES / "sentence.long.TextGrid")


def test_textgrid_errors(tmp_path):
    bad = tmp_path / "bad.TextGrid"
    bad.write_text('"ooTextFile"\n"TextGrid"\n0\n1\n<exists>\n1\n"IntervalTier"\n"phones"\n0\n1\n2\n0\n0.5\n"a"\n0.6\n1\n"b"\n')
    with pytest.raises(SourceError, match=r"expected interval 2 to start at 0\.5"):
        read_labels(bad)
    bad.write_text('"ooTextFile"\n"TextGrid"\n0\n1\n<exists>\n1\n"IntervalTier"\n"phones"\n0\n1\n2\n0\n')
    with pytest.raises(SourceError, match="expected an interval's xmax, found end of file"):
        read_labels(bad)
    with pytest.raises(SourceError, match="expected an interval tier named 'nope'"):
        read_labels(FIXTURES / "sentence.long.TextGrid", tier="nope")


def test_voicevox_frames_as_the_engine_rounds_them():
    timeline = read_labels(FIXTURES / "konnichiwa.voicevox.json")
    assert timeline.names == ("sil", "k", "o", "N", "pau", "w", "a", "a", "sil")
    # sil 0.1 s = 9.375 frames -> 9; o 0.112 s = 10.5 -> 10 (half to even); N 0.08 = 7.5 -> 8;
    # the question's up-speak mora: 0.15 s = 14.0625 -> 14.
    assert [d / FRAME for d in timeline.durations] == [9, 4, 10, 8, 19, 3, 15, 14, 11]
    assert timeline.duration == Fraction(93 * 256, 24000)


def test_voicevox_speed_and_pause_settings():
    query = json.loads((FIXTURES / "konnichiwa.voicevox.json").read_text())
    query.update(speedScale=2.0, pauseLength=0.5, pauseLengthScale=0.5)
    timeline = read_audio_query(json.dumps(query), "q.json")
    frames = [d / FRAME for d in timeline.durations]
    # pau: 0.5 x 0.5 / 2 = 0.125 s = 11.72 frames -> 12; sil 0.1 / 2 = 4.69 -> 5
    assert frames[4] == 12 and frames[0] == 5
    no_upspeak = read_audio_query(json.dumps(query), "q.json", upspeak=False)
    assert len(no_upspeak) == len(timeline) - 1


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda q: q.update(speedScale=0), "speedScale: expected a number from 0.01 to 100"),
        (lambda q: q["accent_phrases"][0]["moras"][0].update(vowel_length=-1),
         "accent_phrases[0].moras[0].vowel_length: expected a number of seconds"),
        (lambda q: q["accent_phrases"][0]["moras"][0].update(vowel="a|b"), "'|' is not allowed"),
        (lambda q: q.pop("accent_phrases"), "expected an AudioQuery object"),
    ],
)
def test_voicevox_errors_name_the_place(change, words):
    query = json.loads((FIXTURES / "konnichiwa.voicevox.json").read_text())
    change(query)
    with pytest.raises(ValueRefused, match=None) as caught:
        read_audio_query(json.dumps(query), "q.json")
    assert str(caught.value).startswith("q.json: ") and words in str(caught.value)


def test_broken_json_names_line_and_column():
    with pytest.raises(SourceError) as caught:
        read_audio_query('{\n  "accent_phrases": [,]\n}', "q.json")
    assert (caught.value.line, caught.value.column) == (2, 22)


def test_unknown_phonemes_are_refused_or_replaced():
    timeline = Timeline.from_sequence("sil,100,zz,50,a,100")
    with pytest.raises(ValueRefused, match=r"'zz' at 0\.100 s is not in"):
        resolve(timeline, load_map())
    replaced, warnings = resolve(timeline, load_map(), unknown="sil")
    assert replaced.names == ("sil", "sil", "a") and len(warnings) == 1
    with pytest.raises(ValueRefused):
        resolve(timeline, load_map(), unknown="nope")
