"""The named maps: each standard's names, a row for every Open JTalk phoneme, clean checks."""

from __future__ import annotations

import hashlib
import json
from importlib import resources

import pytest
from conftest import ROOT, STOCK_MAP

from lipsync import OPEN_JTALK_PHONEMES, LipMap, ValueRefused, load_map
from lipsync.cli.main import main
from lipsync.maps.named import DEFAULT_MAP, MAP_NAMES, map_bytes
from lipsync.maps.phonemes import ALIASES

STOCK = STOCK_MAP

# The names each standard defines, as its own documents spell them.
EXPECTED_MORPHS = {
    "mmdagent": ("あ", "い", "う", "お"),
    "mmd": ("あ", "い", "う", "え", "お", "ん"),
    "vrm": ("aa", "ih", "ou", "ee", "oh"),
    "vrm0": ("A", "I", "U", "E", "O"),
    "live2d": ("ParamMouthOpenY", "ParamMouthForm", "-ParamMouthForm"),
    "oculus": tuple("sil PP FF TH DD kk CH SS nn RR aa E ih oh ou".split()),
    "rpm": tuple(f"viseme_{v}" for v in "sil PP FF TH DD kk CH SS nn RR aa E I O U".split()),
    "rhubarb": tuple("ABCDEFGHX"),
}
# ARKit's 52 blend shape locations that move the mouth or jaw (ARFaceAnchor.BlendShapeLocation).
ARKIT_MOUTH = {
    "jawForward", "jawLeft", "jawRight", "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker",
    "mouthLeft", "mouthRight", "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft",
    "mouthFrownRight", "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft",
    "mouthStretchRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthUpperUpLeft", "mouthUpperUpRight",
}


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_every_named_map_is_shipped():
    shipped = sorted(p.stem for p in (ROOT / "lipsync" / "maps").glob("*.txt"))
    assert shipped == sorted(set(MAP_NAMES) - {DEFAULT_MAP})  # mmdagent is data/lip.txt
    assert set(EXPECTED_MORPHS) | {"arkit"} == set(MAP_NAMES)


@pytest.mark.parametrize("name", sorted(MAP_NAMES))
def test_named_map_names_rows_and_weights(name):
    lipmap = load_map(name)
    if name == "arkit":
        assert set(lipmap.morphs) <= ARKIT_MOUTH and "jawOpen" in lipmap.morphs
    else:
        assert lipmap.morphs == EXPECTED_MORPHS[name]
    for phoneme in OPEN_JTALK_PHONEMES:
        row = phoneme if phoneme in lipmap else ALIASES[phoneme]
        assert row in lipmap, (name, phoneme)
        assert all(0.0 <= w <= 1.0 for w in lipmap.weights(row))
    # ARKit's own names for six shapes are longer than MMDAgent-EX's (and VMD's) 15 bytes:
    # a true warning for those two uses, and the only one any named map gives.
    long_names = {m for m in lipmap.morphs if len(m.encode("cp932")) > 15}
    assert [w.message for w in lipmap.warnings if "bytes in Shift_JIS" not in w.message] == []
    assert len(lipmap.warnings) == len(long_names) and (name == "arkit" or not long_names)
    assert lipmap.path is None and lipmap.source == f"map {name}"
    assert lipmap.encoding == "utf-8"


@pytest.mark.parametrize("name", sorted(set(MAP_NAMES) - {"mmdagent"}))
def test_named_maps_say_where_names_and_weights_come_from(name):
    header = (ROOT / "lipsync" / "maps" / f"{name}.txt").read_text(encoding="utf-8").split("\n# number")[0]
    assert "Morph names:" in header and "Weights:" in header
    lipmap = load_map(name)
    assert lipmap.phonemes[0] == "sil"  # the fallback row and the closing key: a mouth at rest
    vowels = [lipmap.weights(v) for v in "aiueo"]
    assert len(set(vowels)) == 5  # five different mouths for the five vowels
    for vowel in "aiueo":  # devoiced vowels move the mouth less than voiced ones
        assert sum(lipmap.weights(vowel.upper())) <= sum(lipmap.weights(vowel))


def test_rhubarb_is_one_hot():
    lipmap = load_map("rhubarb")
    for phoneme in lipmap.phonemes:
        assert sorted(lipmap.weights(phoneme)) == [0.0] * 8 + [1.0], phoneme


#: SHA-256 of MMDAgent-EX's Release/AppData/lip.txt (commit 9981469 of its repository).
STOCK_SHA256 = "92656db58760e521c7ef3f7c5c43ff00cb4c19fbefb4676442c1f662b726c34b"


def test_data_lip_txt_is_the_stock_file_byte_for_byte():
    assert hashlib.sha256(STOCK.read_bytes()).hexdigest() == STOCK_SHA256


def test_the_installed_default_map_is_data_lip_txt():
    # Read as the installed package holds it (tests run against the installed wheel in CI).
    installed = resources.files("lipsync.data").joinpath("lip.txt").read_bytes()
    assert installed == map_bytes(DEFAULT_MAP) == STOCK.read_bytes()
    assert load_map() == load_map(DEFAULT_MAP) == LipMap.load(STOCK)
    assert load_map().to_bytes() == STOCK.read_bytes()
    assert "gw" not in load_map() and "kw" not in load_map()


def test_a_name_wins_over_a_file_of_that_name(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "vrm").write_bytes(STOCK.read_bytes())
    assert load_map("vrm").morphs == EXPECTED_MORPHS["vrm"]
    assert "./vrm" in caplog.text
    assert load_map("./vrm").morphs == EXPECTED_MORPHS["mmdagent"]
    from pathlib import Path

    assert load_map(Path("vrm")).morphs == EXPECTED_MORPHS["mmdagent"]


def test_an_unknown_name_lists_the_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueRefused, match=r"not a named map .*mmdagent, mmd, vrm"):
        load_map("vrn")


def test_cli_list_show_check_and_copy(capsys, tmp_path):
    code, out, _ = run(capsys, "map", "list")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == list(MAP_NAMES)
    code, out, _ = run(capsys, "map", "show", "vrm", "a", "--json")
    assert code == 0 and json.loads(out)["phonemes"] == {"a": list(load_map("vrm").weights("a"))}
    code, out, _ = run(capsys, "map", "check", *MAP_NAMES)
    summaries = [line for line in out.splitlines() if not line.startswith("  ")]
    assert code == 0 and [line.split(":")[0] for line in summaries] == list(MAP_NAMES)
    assert all(line.endswith(" 0 warnings") for line in summaries if not line.startswith("arkit"))
    target = tmp_path / "my.lip.txt"
    assert run(capsys, "map", "copy", "vrm", target)[0] == 0
    assert LipMap.load(target) == load_map("vrm")
    target.write_text("mine")
    code, _, err = run(capsys, "map", "copy", "vrm", target)
    assert code == 2 and "--force" in err and target.read_text() == "mine"
    assert run(capsys, "map", "copy", "arkit", target, "--force")[0] == 0
    assert LipMap.load(target) == load_map("arkit")
    code, _, err = run(capsys, "map", "copy", "vrmm", target)
    assert code == 2 and "not a named map" in err


def test_curves_take_a_map_by_name(capsys):
    code, out, _ = run(capsys, "curves", "--sequence", "sil,100,a,200,sil,100", "--map", "vrm", "--keyframes")
    assert code == 0 and json.loads(out)["morphs"] == list(EXPECTED_MORPHS["vrm"])


def test_gw_and_kw_are_sent_as_g_and_k_only_where_the_map_lacks_them():
    from lipsync import Timeline, resolve

    timeline = Timeline.from_sequence("sil,100,gw,50,a,100,kw,50,a,100,sil,100")
    resolved, warnings = resolve(timeline, load_map())
    assert resolved.names == ("sil", "g", "a", "k", "a", "sil") and warnings == []
    own = load_map().add_phoneme("gw", [0.3, 0, 0, 0]).add_phoneme("kw", like="k")
    assert resolve(timeline, own)[0].names == timeline.names  # a map with the rows keeps them


def test_editing_a_named_map_says_to_copy_it_first(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "map", "set", "vrm", "a", "1", "0", "0", "0", "0")
    assert code == 2 and "lipsync map copy vrm my.lip.txt" in err
    assert list(tmp_path.iterdir()) == []
