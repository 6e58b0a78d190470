"""``lipsync map ...``: exit codes, messages, and files left untouched on refusal."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import REFERENCE, ROOT, STOCK_MAP

from lipsync import LipMap, __version__
from lipsync.cli.main import main

STOCK = STOCK_MAP
SJIS = REFERENCE / "lip" / "mmdagent-1.x-shiftjis.lip.txt"


@pytest.fixture
def stock(tmp_path):
    path = tmp_path / "lip.txt"
    path.write_bytes(STOCK.read_bytes())
    return path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_check_summarises_each_file(capsys):
    code, out, _ = run(capsys, "map", "check", STOCK, SJIS)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"{STOCK}: ok, 4 morphs, 69 phonemes, utf-8, CRLF, 0 warnings"
    assert lines[1].startswith(f"{SJIS}: ok, 4 morphs, 44 phonemes, shift_jis, CRLF")


def test_check_reports_a_bad_file_with_its_place(capsys, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("2 a b\n1\nx 0.1\n")
    code, out, err = run(capsys, "map", "check", STOCK, bad)
    assert code == 2
    assert out.startswith(f"{STOCK}: ok")
    assert err.splitlines()[0] == f"lipsync: {bad}:3:6: expected 2 weights for phoneme 'x', found 1"
    assert "Traceback" not in err


def test_check_a_missing_file(capsys, tmp_path):
    code, _, err = run(capsys, "map", "check", tmp_path / "nope.txt")
    assert code == 2 and "nope.txt: cannot read" in err


def test_show_table_and_json(capsys):
    code, out, _ = run(capsys, "map", "show", STOCK, "a", "o")
    assert code == 0
    assert out.splitlines() == ["phoneme  あ   い   う   お", "a        0.5  0.0  0.0  0.0",
                                "o        0.0  0.0  0.0  0.8"]
    code, out, _ = run(capsys, "map", "show", STOCK, "--json")
    data = json.loads(out)
    assert data["morphs"] == ["あ", "い", "う", "お"] and data["encoding"] == "utf-8"
    assert data["phonemes"]["a"] == [0.5, 0.0, 0.0, 0.0] and len(data["phonemes"]) == 69


def test_edit_commands_write_the_file(capsys, stock):
    assert run(capsys, "map", "set", stock, "a", "0.6", "0", "0", "0")[0] == 0
    assert run(capsys, "map", "add", stock, "gw", "--like", "g")[0] == 0
    assert run(capsys, "map", "add", stock, "xx", "0", "0", "0", "0")[0] == 0
    assert run(capsys, "map", "remove", stock, "b")[0] == 0
    assert run(capsys, "map", "rename", stock, "xx", "unk")[0] == 0
    assert run(capsys, "map", "add-morph", stock, "え", "--default", "0.2")[0] == 0
    assert run(capsys, "map", "rename-morph", stock, "え", "えー")[0] == 0
    lipmap = LipMap.load(stock)
    assert lipmap.weights("a") == (0.6, 0.0, 0.0, 0.0, 0.2)
    assert lipmap.weights("gw") == lipmap.weights("g")
    assert lipmap.phonemes[-2:] == ("gw", "unk") and "b" not in lipmap
    assert lipmap.morphs[-1] == "えー"


def test_output_option_leaves_the_source_alone(capsys, stock, tmp_path):
    out = tmp_path / "new.txt"
    code, stdout, _ = run(capsys, "map", "add", stock, "kw", "--like", "k", "-o", out)
    assert code == 0 and stdout.strip() == f"{out}: added kw (like k)"
    assert stock.read_bytes() == STOCK.read_bytes()
    assert "kw" in LipMap.load(out)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["set", "a", "0.5"], "'a' needs 4 weights (one per morph), got 1"),
        (["set", "a", "-0.5", "0", "0", "0"], "must be a finite number of 0 or more"),
        (["set", "zz", "0", "0", "0", "0"], "phoneme 'zz' is not in"),
        (["add", "a|b", "0", "0", "0", "0"], "phoneme 'a|b' refused: '|' is not allowed"),
        (["add", "a,b", "--like", "a"], "',' is not allowed"),
        (["add", "a\nb", "--like", "a"], "control character U+000A"),
        (["add", "a", "--like", "k"], "phoneme 'a' is already in"),
        (["add", "q"], "needs the new phoneme's weights or --like"),
        (["add", "q", "0", "0", "0", "0", "--like", "k"], "not both"),
        (["remove", "zz"], "'zz' is not in"),
        (["rename", "a", "i"], "already in"),
        (["rename", "a", "a#"], "'#' is not allowed"),
        (["add-morph", "あ"], "morph 'あ' is already in"),
        (["add-morph", "x y"], "white space is not allowed"),
        (["rename-morph", "zz", "q"], "morph 'zz' is not in"),
    ],
)
def test_refused_edits_exit_2_and_leave_the_file(capsys, stock, argv, message):
    code, out, err = run(capsys, "map", argv[0], stock, *argv[1:])
    assert code == 2
    assert message in err and err.count("\n") == 1
    assert out == ""
    assert stock.read_bytes() == STOCK.read_bytes()


def test_edit_of_a_broken_file_refuses(capsys, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"2 a b\n1\nx 0.1\n")
    code, _, err = run(capsys, "map", "set", bad, "x", "1", "1")
    assert code == 2 and err.startswith(f"lipsync: {bad}:3:6: ")
    assert bad.read_bytes() == b"2 a b\n1\nx 0.1\n"


def _cli(*argv):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "lipsync", *argv], capture_output=True, text=True,
                          env=env, timeout=60)


def test_version_and_help_from_a_real_process():
    assert _cli("--version").stdout.strip() == f"lipsync {__version__}"
    helped = _cli("--help")
    assert helped.returncode == 0 and "map" in helped.stdout
    helped = _cli("map", "--help")
    assert helped.returncode == 0
    for command in ("check", "show", "set", "add", "remove", "rename", "add-morph"):
        assert command in helped.stdout


def test_bad_arguments_exit_2_without_a_traceback():
    result = _cli("map", "set", "x.txt", "a", "notanumber")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "argument W: expected a number, found 'notanumber'" in result.stderr
