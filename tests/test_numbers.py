"""Numbers read as C reads them, bounds that stop days of speech, and short messages."""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

import pytest

from lipsync import LipsyncError, SourceError, Timeline, ValueRefused
from lipsync._numbers import MAX_LENGTH_SECONDS, decimal, whole
from lipsync.cli.io import _clip, finite_float
from lipsync.errors import caret_context
from lipsync.labels import read_labels
from lipsync.labels.textgrid import read_textgrid


@pytest.mark.parametrize(("text", "value"), [
    ("12", Fraction(12)), ("0.5", Fraction(1, 2)), ("-2.5e-3", Fraction(-1, 400)), (".5", Fraction(1, 2)),
    ("1e30", Fraction(10**30)),
])
def test_plain_decimals_are_exact(text: str, value: Fraction) -> None:
    assert decimal(text) == value


@pytest.mark.parametrize(
    "text", ["４", "０.５", "1e31", "1e999999999", "nan", "inf", "1" * 41, "0x1", "1_0", ""]
)
def test_anything_else_is_no_number(text: str) -> None:
    assert decimal(text) is None


def test_counts_are_ascii_digits_and_short() -> None:
    assert whole("+12") == 12 and whole("123456789") == 123456789
    assert whole("1234567890") is None and whole("４") is None and whole("-1") is None


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e309", "４", "1001", "0.5", ""])
def test_the_cli_number_type_refuses_in_one_line(value: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as caught:
        finite_float(1, 1000)(value)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 80


def test_the_cli_number_type_takes_the_bounds() -> None:
    convert = finite_float(-1, 1000)
    assert (convert("1000"), convert("-1"), convert("-0"), convert(" 5 ")) == (1000.0, -1.0, 0.0, 5.0)


def test_a_span_longer_than_an_hour_is_refused() -> None:
    with pytest.raises(ValueRefused, match="longer than the 3600 s"):
        Timeline([("a", 3601)])
    assert Timeline([("a", 3600)]).duration == 3600


def test_a_timeline_past_six_hours_is_refused() -> None:
    with pytest.raises(ValueRefused, match="past the 21600 s"):
        Timeline([("a", 3600)] * 7)
    with pytest.raises(ValueRefused, match="starts between"):
        Timeline([("a", 1)], start=MAX_LENGTH_SECONDS + 1)


def test_a_label_forced_to_seconds_names_the_line_and_the_format(tmp_path: Path) -> None:
    path = tmp_path / "x.lab"
    path.write_text("0 1000000 sil\n1000000 30000000000 a\n")
    with pytest.raises(SourceError) as caught:
        read_labels(path, "julius")
    assert (caught.value.line, caught.value.column) == (1, 3)
    assert "is this the right --format?" in str(caught.value)


def test_a_textgrid_exponent_of_a_billion_is_refused_at_once() -> None:
    with pytest.raises(SourceError) as caught:
        read_textgrid('"ooTextFile"\n"TextGrid"\n0 1e999999999 <exists> 1\n', "t")
    assert (caught.value.line, caught.value.column) == (3, 3)


def test_a_textgrid_names_a_few_tiers_not_all() -> None:
    tiers = "".join(f'"IntervalTier" "t{i}" 0 1 0\n' for i in range(1000))
    with pytest.raises(SourceError) as caught:
        read_textgrid(f'"ooTextFile"\n"TextGrid"\n0 1 <exists> 1000\n{tiers}', "t")
    assert str(caught.value).endswith("found 't0', 't1', 't2', 't3', 't4' and 995 more")


def test_the_caret_context_of_a_huge_line_is_a_window() -> None:
    text = "x" * 1_000_000 + "!" + "y" * 1_000_000
    shown, caret = caret_context(text, 1, 1_000_001).split("\n")
    assert len(shown) <= 86 and shown[len(caret) - 1] == "!" and caret.endswith("^")


def test_a_reported_line_is_cut_by_bytes() -> None:
    assert len(_clip("あ" * 1000).encode()) <= 300
    assert _clip("short") == "short"


def test_a_ten_megabyte_line_gives_a_short_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.lab"
    path.write_bytes(b"1 2 3 " + b"x" * 10_000_000)
    with pytest.raises(LipsyncError) as caught:
        read_labels(path, "mono")
    assert len(str(caught.value)) + len(getattr(caught.value, "context", "")) < 400
