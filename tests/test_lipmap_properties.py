"""Property tests: built maps round-trip; mutated files give a map or a LipsyncError, nothing else."""

from __future__ import annotations

from conftest import LIP_FILES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lipsync import LipMap, LipsyncError, SourceError
from lipsync.names import name_fault

_name_chars = st.characters(
    codec="utf-8", exclude_categories=("Cc", "Cf", "Cs", "Zs", "Zl", "Zp"),
    exclude_characters="#,|\u0085\u1680\u180e",
)
names = st.text(_name_chars, min_size=1, max_size=8).filter(lambda s: name_fault(s) is None)
weights = st.floats(min_value=0, max_value=3, allow_nan=False, allow_infinity=False)


@st.composite
def maps(draw: st.DrawFn) -> LipMap:
    morphs = draw(st.lists(names, min_size=1, max_size=5, unique=True))
    phonemes = draw(st.lists(names, min_size=1, max_size=12, unique=True))
    rows = {p: draw(st.lists(weights, min_size=len(morphs), max_size=len(morphs))) for p in phonemes}
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return LipMap.build(morphs, rows, newline=newline)


@given(maps())
def test_built_maps_format_and_parse_back_equal(lipmap):
    again = LipMap.parse(lipmap.to_bytes())
    assert again == lipmap
    assert again.to_bytes() == lipmap.to_bytes()


@given(maps(), st.data())
def test_edits_round_trip(lipmap, data):
    phoneme = data.draw(st.sampled_from(lipmap.phonemes))
    new_weights = data.draw(st.lists(weights, min_size=len(lipmap.morphs), max_size=len(lipmap.morphs)))
    edited = lipmap.set_weights(phoneme, new_weights)
    assert edited.weights(phoneme) == tuple(new_weights)
    assert LipMap.parse(edited.to_bytes()) == edited


_sources = [path.read_bytes() for path in LIP_FILES]
_pieces = st.sampled_from([b" ", b"\n", b"\r\n", b"\t", b"#", b"0", b"-1", b"1e3", b".", b"x",
                           b"\xef\xbb\xbf", b"\x82\xa0", b"\xff", b"\x00", b",", b"|", b"9999"])


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(_sources)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["insert", "delete", "replace"]))
        at = draw(st.integers(0, len(data)))
        if kind == "insert":
            data[at:at] = draw(_pieces)
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 12))]
        else:
            data[at : at + 1] = draw(_pieces)
    return bytes(data)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_files_give_a_map_or_a_located_error(data):
    try:
        lipmap = LipMap.parse(data, "fuzz.txt")
    except SourceError as exc:
        assert exc.line >= 1 and exc.column >= 1
        assert str(exc).startswith(f"fuzz.txt:{exc.line}:{exc.column}: ")
    except LipsyncError as exc:  # pragma: no cover - every parse fault has a place
        raise AssertionError(f"error without a place: {exc}") from exc
    else:
        assert LipMap.parse(lipmap.to_bytes()) == lipmap


@given(st.text(st.characters(codec="utf-8"), min_size=1, max_size=30))
def test_the_fault_named_is_the_first_bad_character(name):
    import unicodedata

    first = next((ch for ch in name if ch in "|,#" or ch.isspace()
                  or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zs", "Zl", "Zp")), None)
    fault = name_fault(name)
    if first is None:
        assert fault is None or "number" in fault
    else:
        assert fault is not None and (repr(first) in fault or f"U+{ord(first):04X}" in fault
                                      or "white space" in fault)
        if "white space" in fault:
            assert first.isspace() or unicodedata.category(first) == "Zs"


def test_a_name_of_megabytes_is_checked_character_by_distinct_character():
    name = "あ" * 3_000_000 + "|"
    assert name_fault(name) == "'|' is not allowed in a name"
    assert name_fault("あ" * 3_000_000) is None
