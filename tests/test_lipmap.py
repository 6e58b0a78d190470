"""LipMap: parsing what MMDAgent-EX reads, every error with its place, edits that keep the file."""

from __future__ import annotations

import pytest
from conftest import LIP_FILES, REFERENCE, STOCK_MAP

from lipsync import LipMap, NameRefused, ParseError, SourceError, ValueRefused, load_map

STOCK = STOCK_MAP
SJIS = REFERENCE / "lip" / "mmdagent-1.x-shiftjis.lip.txt"


@pytest.mark.parametrize("path", LIP_FILES, ids=lambda p: p.name)
def test_reference_files_round_trip_byte_for_byte(path):
    lipmap = LipMap.load(path)
    assert lipmap.to_bytes() == path.read_bytes()
    assert lipmap.morphs == ("あ", "い", "う", "お")


def test_stock_file_values():
    lipmap = LipMap.load(STOCK)
    assert len(lipmap.phonemes) == 69
    assert lipmap.phonemes[0] == "A"
    assert lipmap.weights("a") == (0.5, 0.0, 0.0, 0.0)
    assert lipmap.weights("o") == (0.0, 0.0, 0.0, 0.8)
    assert lipmap.encoding == "utf-8"
    assert lipmap.newline == "\r\n"
    assert lipmap.warnings == ()  # gw and kw are covered by their aliases g and k


def test_missing_phonemes_without_an_alias_are_warned():
    lipmap = LipMap.parse("1 m\n2\na 0.5\ngw 0.1\n", "few.txt")
    (warning,) = lipmap.warnings
    assert "i, u, e, o" in warning.message and "gw" not in warning.message.split(": ", 1)[1].split(", ")


def test_shift_jis_is_detected():
    lipmap = LipMap.load(SJIS)
    assert lipmap.encoding == "shift_jis"
    assert lipmap == LipMap.load(REFERENCE / "lip" / "mmdagent-1.x-utf8.lip.txt").__class__.parse(
        SJIS.read_bytes()
    )
    assert lipmap.morphs == LipMap.load(REFERENCE / "lip" / "mmdagent-1.x-utf8.lip.txt").morphs


def test_bom_is_accepted_kept_and_warned():
    data = b"\xef\xbb\xbf" + STOCK.read_bytes()
    lipmap = LipMap.parse(data, "bom.txt")
    assert lipmap.encoding == "utf-8-sig"
    assert lipmap.to_bytes() == data
    assert lipmap.set_weights("a", [0.4, 0, 0, 0]).to_bytes().startswith(b"\xef\xbb\xbf")
    assert any("byte order mark" in w.message for w in lipmap.warnings)


def test_any_layout_is_accepted():
    one_line = "2 あ い 2 a 0.5 0.0 i 0.0 0.4"
    scattered = "# c\n2\t# n\nあ\r\nい 2\n\na\n0.5\n0.0 # w\ni 0.0\t0.4"
    assert LipMap.parse(one_line) == LipMap.parse(scattered)
    assert LipMap.parse(scattered).weights("i") == (0.0, 0.4)


def test_comment_inside_a_token_run_ends_the_line():
    lipmap = LipMap.parse("1 m#comment here 9 9\n1 a 0.5#c\n")
    assert lipmap.morphs == ("m",) and lipmap.weights("a") == (0.5,)


def _error(text: str) -> ParseError | SourceError:
    with pytest.raises(SourceError) as caught:
        LipMap.parse(text, "m.txt")
    return caught.value


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        ("", 1, 1, "expected the morph count (a positive integer), found end of file"),
        ("# nothing\n", 2, 1, "expected the morph count"),
        ("x", 1, 1, "expected the morph count (a positive integer), found 'x'"),
        ("0 1 a", 1, 1, "expected the morph count"),
        ("2.0 a b 1 x 0 0", 1, 1, "found '2.0'"),
        ("2 a b", 1, 6, "expected a morph name or the phoneme count, found end of file"),
        ("2 a b 0 x 0 0", 1, 7, "expected the phoneme count"),
        ("3 a b\n1 x 0 0 0", 2, 1, "expected 3 morph names (declared at line 1), then the phoneme count"),
        ("1 a b\n1 x 0", 1, 5, "expected the phoneme count after 1 morph names"),
        ("1 a 1 0.5", 1, 7, "expected a phoneme name, found '0.5'"),
        ("2 a b\n2\nx 0.1\ny 0.1 0.2\n", 3, 6, "expected 2 weights for phoneme 'x', found 1"),
        ("2 a b\n1\nx 0.1 zz\n", 3, 7, "expected a weight (a number), found 'zz'"),
        ("2 a b\n1\nx 0.1 nan\n", 3, 7, "expected a weight (a number), found 'nan'"),
        ("2 a b\n1\nx 0.1 0.2 0.3\n", 3, 11, "expected the end of row 'x' after 2 weights"),
        ("2 a b\n1\nx 0.1 0.2\n0.3 0.4\n", 4, 1, "expected a phoneme name, found '0.3'"),
        ("2 a b\n1\nx -0.1 0.2\n", 3, 3, "expected a weight of 0 or more, found '-0.1'"),
        ("2 a a\n1\nx 0 0\n", 1, 5, "found duplicate 'a'"),
        ("1 a\n2\nx 0\nx 0\n", 4, 1, "expected a phoneme not listed before, found duplicate 'x'"),
        ("1 a\n1\nx 0\ny 0\n", 4, 1, "expected end of file after 1 phoneme rows (declared at line 2)"),
        ("1 a\n3\nx 0\ny 0\n", 5, 1, "expected 3 phoneme rows (declared at line 2), found end of file"),
        ("1 a\n1\nx|y 0\n", 3, 1, "'|' is not allowed"),
        ("1 a,b\n1\nx 0\n", 1, 3, "',' is not allowed"),
        ("1 a\x07\n1\nx 0\n", 1, 3, "control character U+0007"),
    ],
)
def test_errors_name_line_column_expected_and_found(text, line, column, words):
    error = _error(text)
    assert (error.line, error.column) == (line, column), str(error)
    assert words in str(error)
    assert str(error).startswith(f"m.txt:{line}:{column}: ")
    assert "\n" not in str(error)


def test_error_context_draws_a_caret_under_the_fault():
    error = _error("2 a b\n1\nx 0.1 zz\n")
    assert error.context == "x 0.1 zz\n      ^"


def test_undecodable_bytes_are_reported_with_their_place():
    with pytest.raises(ParseError) as caught:
        LipMap.parse(b"1 a\n1\nx \x81 \n", "bin.txt")
    assert str(caught.value).startswith("bin.txt:3:3: expected UTF-8 or Shift_JIS text, found byte 0x81")


def test_warnings_for_heavy_weights_and_long_morph_names():
    long_name = "あいうえおかきく"  # 16 bytes in Shift_JIS
    lipmap = LipMap.parse(f"2 {long_name} 😀\n1\nx 1.5 0\n", "w.txt")
    messages = [str(w) for w in lipmap.warnings]
    assert any("w.txt:1:3: warning:" in m and "16 bytes in Shift_JIS" in m for m in messages)
    assert any("no Shift_JIS form" in m for m in messages)
    assert any("w.txt:3:3: warning: weight 1.5" in m for m in messages)


def test_default_map_is_the_stock_file_and_takes_gw_like_g():
    default = load_map()
    assert default.to_bytes() == STOCK.read_bytes()
    assert default.warnings == ()  # gw and kw go through their aliases
    edited = default.add_phoneme("gw", like="g")  # the README's example
    assert edited.weights("gw") == default.weights("g")


# -- editing --------------------------------------------------------------------------------


def _changed_lines(before: bytes, after: bytes) -> list[tuple[bytes, bytes]]:
    old, new = before.split(b"\n"), after.split(b"\n")
    assert len(old) == len(new)
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


def test_set_weights_changes_only_those_tokens():
    stock = LipMap.load(STOCK)
    edited = stock.set_weights("a", [0.6, 0, 0, 0])
    assert edited.weights("a") == (0.6, 0.0, 0.0, 0.0)
    assert _changed_lines(stock.to_bytes(), edited.to_bytes()) == [
        (b"a   0.5 0.0 0.0 0.0\r", b"a   0.6 0.0 0.0 0.0\r")
    ]
    assert stock.weights("a") == (0.5, 0.0, 0.0, 0.0)  # values are immutable


def test_wider_numbers_take_padding_to_keep_columns():
    lipmap = LipMap.parse("2 a b\n1\nx   0.5    0.0\n")
    assert lipmap.set_weights("x", [0.25, 0]).to_bytes() == b"2 a b\n1\nx   0.25   0.0\n"
    renamed = lipmap.rename_phoneme("x", "xy")
    assert renamed.to_bytes() == b"2 a b\n1\nxy  0.5    0.0\n"


def test_add_phoneme_like_copies_row_layout_and_updates_count():
    stock = LipMap.load(STOCK)
    edited = stock.add_phoneme("gw", like="g").add_phoneme("xyz", [0.1, 0.2, 0.3, 0.4])
    text = edited.to_bytes().decode()
    assert text.endswith("zh  0.0 0.0 0.2 0.0\r\ngw  0.1 0.0 0.0 0.0\r\nxyz 0.1 0.2 0.3 0.4\r\n")
    assert "\r\n71\r\n" in text
    assert edited.phonemes[-2:] == ("gw", "xyz")


def test_remove_phoneme_drops_its_line():
    stock = LipMap.load(STOCK)
    edited = stock.remove_phoneme("b")
    assert "b" not in edited.phonemes and len(edited.phonemes) == 68
    assert edited.to_bytes() == stock.to_bytes().replace(b"b   0.1 0.0 0.0 0.0\r\n", b"").replace(
        b"\r\n69\r\n", b"\r\n68\r\n"
    )


def test_remove_phoneme_sharing_a_line_keeps_the_rest():
    lipmap = LipMap.parse("1 m 3 a 0.1 b 0.2 c 0.3 # end\n")
    assert lipmap.remove_phoneme("b").to_bytes() == b"1 m 2 a 0.1 c 0.3 # end\n"


def test_remove_keeps_at_least_one_row():
    with pytest.raises(ValueRefused, match="only phoneme"):
        LipMap.parse("1 m 1 a 0.1").remove_phoneme("a")


def test_add_and_rename_morph():
    stock = LipMap.load(STOCK)
    edited = stock.add_morph("え", 0.1).rename_morph("い", "いー")
    assert edited.morphs == ("あ", "いー", "う", "お", "え")
    assert edited.weights("a") == (0.5, 0.0, 0.0, 0.0, 0.1)
    text = edited.to_bytes().decode()
    assert "お\r\nえ\r\n# number of phonemes" in text
    assert "\r\na   0.5 0.0 0.0 0.0 0.1\r\n" in text and text.startswith("# number of expressions\r\n5\r\n")


def test_add_morph_on_one_line_layout():
    lipmap = LipMap.parse("2 a b 1 x 0.1 0.2 # c\n")
    assert lipmap.add_morph("c").to_bytes() == b"3 a b c 1 x 0.1 0.2 0.0 # c\n"


def test_shift_jis_crlf_edits_stay_shift_jis_crlf():
    original = LipMap.load(SJIS)
    edited = (
        original.set_weights("a", [0.7, 0, 0, 0]).add_phoneme("gw", like="g")
        .add_morph("え").rename_morph("あ", "ああ")
    )
    data = edited.to_bytes()
    assert edited.encoding == "shift_jis"
    assert "ああ".encode("cp932") in data and "え".encode("cp932") in data
    assert data.count(b"\r\n") == data.count(b"\n")
    assert LipMap.parse(data) == edited
    with pytest.raises(ValueRefused, match="cannot be written in shift_jis"):
        original.rename_morph("あ", "😀")


@pytest.mark.parametrize("bad", ["a b", "a#", "a,b", "a|b", "a\nb", "a\x00", "", "\u2028"])
def test_edits_refuse_names_that_break_files_or_messages(bad):
    lipmap = LipMap.parse("1 m 1 a 0.1")
    for edit in (
        lambda: lipmap.add_phoneme(bad, [0.1]),
        lambda: lipmap.rename_phoneme("a", bad),
        lambda: lipmap.add_morph(bad),
        lambda: lipmap.rename_morph("m", bad),
    ):
        with pytest.raises(NameRefused):
            edit()


@pytest.mark.parametrize("weights", [[-0.1], [float("nan")], [float("inf")], ["x"], [0.1, 0.2], []])
def test_set_weights_refuses_bad_values(weights):
    with pytest.raises(ValueRefused):
        LipMap.parse("1 m 1 a 0.1").set_weights("a", weights)


def test_unknown_names_are_refused():
    lipmap = LipMap.parse("1 m 1 a 0.1")
    with pytest.raises(ValueRefused, match="'zz' is not in"):
        lipmap.weights("zz")
    with pytest.raises(ValueRefused):
        lipmap.add_phoneme("b", like="zz")
    with pytest.raises(ValueRefused, match="already in"):
        lipmap.add_phoneme("a", [0.3])


def test_save_writes_back_to_where_it_came_from(tmp_path):
    path = tmp_path / "lip.txt"
    path.write_bytes(STOCK.read_bytes())
    LipMap.load(path).set_weights("a", [1, 0, 0, 0]).save()
    assert LipMap.load(path).weights("a") == (1.0, 0.0, 0.0, 0.0)
    assert [p.name for p in tmp_path.iterdir()] == ["lip.txt"]
    with pytest.raises(ValueRefused, match="give save"):
        LipMap.parse("1 m 1 a 0.1").save()


def test_build_lays_out_like_the_stock_file():
    built = LipMap.build(["あ", "い"], {"a": [0.5, 0], "sil": [0, 0]}, newline="\r\n")
    assert built.to_bytes().decode() == (
        "# number of expressions\r\n2\r\n# expression names\r\nあ\r\nい\r\n"
        "# number of phonemes\r\n2\r\n# phone names and interpolation weight\r\n"
        "a    0.5 0.0\r\nsil  0.0 0.0\r\n"
    )
