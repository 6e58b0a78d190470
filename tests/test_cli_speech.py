"""``lipsync timeline`` and ``lipsync curves`` from the command line."""

from __future__ import annotations

import json
import wave

from conftest import FIXTURES, REFERENCE

from lipsync import read_labels
from lipsync.cli.main import main

EXAMPLE = "sil,187,k,75,o,75,N,75,n,75,i,62,ch,75,i,87,w,100,a,87,sil,212"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_timeline_of_text(capsys, tmp_path):
    wav, lab = tmp_path / "k.wav", tmp_path / "k.lab"
    code, out, _ = run(capsys, "timeline", "こんにちは", "-o", wav, "-o", lab)
    assert code == 0
    assert out.strip() == "sil,305,k,95,o,105,N,40,n,45,i,75,ch,95,i,80,w,30,a,170,sil,305"
    with wave.open(str(wav)) as audio:
        assert (audio.getnframes(), audio.getframerate(), audio.getnchannels()) == (64560, 48000, 1)
    assert read_labels(lab).to_sequence() == out.strip()


def test_timeline_json(capsys):
    code, out, _ = run(capsys, "timeline", "こんにちは", "--json")
    data = json.loads(out)
    assert code == 0 and data["sample_rate"] == 48000 and data["samples"] == 64560
    assert data["phonemes"][1] == {"name": "k", "start_ms": 305.0, "duration_ms": 95.0}
    code, out, _ = run(capsys, "timeline", "--sequence", EXAMPLE, "--json")
    assert "sample_rate" not in json.loads(out)


def test_timeline_of_labels_resolves_aliases(capsys):
    code, out, _ = run(capsys, "timeline", "--labels", FIXTURES / "konnichiwa.julius.lab")
    assert code == 0 and out.startswith("sil,265,k,70,") and out.strip().endswith("sil,215")
    code, out, _ = run(capsys, "timeline", "--labels", REFERENCE / "labels" / "jsut-basic5000" /
                       "BASIC5000_0001.lab", "--label-format", "hts")
    assert code == 0 and out.startswith("sil,300,m,40,")


def test_bad_input_exits_2_with_one_line(capsys, tmp_path):
    code, out, err = run(capsys, "timeline", "--sequence", "sil,100,zz,10")
    assert code == 2 and out == "" and "'zz'" in err and err.count("\n") == 1
    code, _, err = run(capsys, "timeline", "--sequence", "sil,100,a")
    assert code == 2 and err.startswith("lipsync: <sequence>:1:10: expected a duration")
    code, _, err = run(capsys, "timeline")
    assert code == 2 and "exactly one of" in err
    code, _, err = run(capsys, "timeline", "--sequence", EXAMPLE, "-o", tmp_path / "x.wav")
    assert code == 2 and "no audio to write" in err and not (tmp_path / "x.wav").exists()
    bad = tmp_path / "bad.lab"
    bad.write_text("0 10 a\n5 4 i\n")
    code, _, err = run(capsys, "timeline", "--labels", bad)
    assert code == 2 and err.startswith(f"lipsync: {bad}:2:")


def test_unknown_phoneme_stand_in_warns(capsys):
    code, out, err = run(capsys, "timeline", "--sequence", "sil,100,zz,10", "--unknown", "sil")
    assert code == 0 and out.strip() == "sil,100,sil,10" and "warning" in err


def test_curves_json_csv_and_keyframes(capsys):
    # MMDAgent-EX's own rule, frame for frame (its numbers are in test_curves.py).
    old = ("--no-coarticulation",)
    code, out, _ = run(capsys, "curves", "--sequence", EXAMPLE, "--fps", "30", *old)
    data = json.loads(out)
    assert code == 0 and data["morphs"] == ["あ", "い", "う", "お"] and len(data["times"]) == 40
    assert data["weights"]["あ"][24] == 0.5
    code, out, _ = run(capsys, "curves", "--sequence", EXAMPLE, "--output-format", "csv", "--fps", "30", *old)
    lines = out.splitlines()
    assert lines[0] == "time,あ,い,う,お" and lines[25].startswith("0.800000,0.500000,")
    code, out, _ = run(capsys, "curves", "--sequence", EXAMPLE, "--keyframes", *old)
    assert json.loads(out)["keyframes"]["あ"][-1] == [39, 0.0]
    # lipsync's motion (the default): the same length of speech, its own keys.
    code, out, _ = run(capsys, "curves", "--sequence", EXAMPLE, "--fps", "30")
    motion = json.loads(out)
    assert code == 0 and motion["morphs"] == data["morphs"] and motion["times"][-1] < data["times"][-1]
    assert motion["weights"] != data["weights"] and max(motion["weights"]["あ"]) == 0.5


def test_curves_of_labels_with_a_label_format(capsys):
    code, out, _ = run(capsys, "curves", "--labels", FIXTURES / "konnichiwa.mono.lab",
                       "--label-format", "mono", "--keyframes")
    assert code == 0 and "keyframes" in json.loads(out)

