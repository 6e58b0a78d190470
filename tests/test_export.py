"""Exports: VMD read back by a parser written from the format spec, Rhubarb against its schema,
curves and labels keeping a late start, the command line's formats and refusals."""

from __future__ import annotations

import itertools
import json
import struct

import jsonschema
import pytest

from lipsync import Timeline, ValueRefused, load_map, mouth_curves
from lipsync.cli.main import main
from lipsync.export import export_bytes, format_for
from lipsync.export.vmd import MAX_KEYFRAMES, vmd_bytes

SEQUENCE = "sil,187,k,75,o,75,N,75,n,75,i,62,ch,75,i,87,w,100,a,87,e,120,sil,212"
# Starts at 0.5 s: a label file whose first phoneme is not at 0.
LATE_LAB = "5000000 6000000 sil\n6000000 7000000 k\n7000000 9000000 a\n9000000 9500000 m\n" \
           "9500000 11000000 e\n11000000 12000000 sil\n"

# Rhubarb Lip Sync's JSON output as its README documents it.
RHUBARB_SCHEMA = {
    "type": "object",
    "required": ["metadata", "mouthCues"],
    "properties": {
        "metadata": {
            "type": "object",
            "required": ["soundFile", "duration"],
            "properties": {"soundFile": {"type": "string"}, "duration": {"type": "number", "minimum": 0}},
        },
        "mouthCues": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["start", "end", "value"],
                "additionalProperties": False,
                "properties": {
                    "start": {"type": "number", "minimum": 0},
                    "end": {"type": "number", "minimum": 0},
                    "value": {"enum": list("ABCDEFGHX")},
                },
            },
        },
    },
}


def read_vmd(data: bytes) -> tuple[str, dict[str, list[tuple[int, float]]]]:
    """A VMD reader from the format description: header, bones, morphs, then empty sections."""
    assert data[:30] == b"Vocaloid Motion Data 0002" + b"\0" * 5
    model = data[30:50].split(b"\0")[0].decode("cp932")
    at = 50
    (bones,) = struct.unpack_from("<I", data, at)
    at += 4 + bones * 111
    (count,) = struct.unpack_from("<I", data, at)
    at += 4
    morphs: dict[str, list[tuple[int, float]]] = {}
    for _ in range(count):
        name = data[at : at + 15].split(b"\0")[0].decode("cp932")
        frame, weight = struct.unpack_from("<If", data, at + 15)
        morphs.setdefault(name, []).append((frame, weight))
        at += 23
    cameras, lights, shadows = struct.unpack_from("<III", data, at)
    assert (cameras, lights, shadows) == (0, 0, 0) and at + 12 == len(data)
    return model, morphs


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("map_name", ["mmd", "mmdagent"])
def test_vmd_keys_are_the_curves_keyframes_frame_for_frame(capsys, tmp_path, map_name):
    target = tmp_path / "lips.vmd"
    code, _, err = run(capsys, "export", "--sequence", SEQUENCE, "--map", map_name, "-o", target,
                       "--vmd-model", "初音ミク")
    assert code == 0, err
    code, out, _ = run(capsys, "curves", "--sequence", SEQUENCE, "--map", map_name, "--keyframes")
    expected = json.loads(out)["keyframes"]
    model, morphs = read_vmd(target.read_bytes())
    assert model == "初音ミク"
    assert list(morphs) == list(expected)
    for morph, keys in expected.items():
        assert [f for f, _ in morphs[morph]] == [f for f, _ in keys]
        assert [w for _, w in morphs[morph]] == pytest.approx([w for _, w in keys], abs=1e-7)
    assert max(w for _, w in morphs["あ"]) == pytest.approx(0.7 if map_name == "mmd" else 0.5)


def test_vmd_refuses_names_that_do_not_fit_and_too_many_keys():
    timeline = Timeline.from_sequence("sil,100,a,100,sil,100")
    with pytest.raises(ValueRefused, match=r"mouthStretchLeft.* 16 bytes in Shift_JIS; a VMD file holds 15"):
        vmd_bytes(mouth_curves(timeline, load_map("arkit")))
    with pytest.raises(ValueRefused, match="model name"):
        vmd_bytes(mouth_curves(timeline, load_map("mmd")), model="とても長いモデルの名前です")
    long = Timeline.from_sequence(",".join(["a,100,i,100"] * (MAX_KEYFRAMES // 12 + 1)))
    with pytest.raises(ValueRefused, match="at most 20000"):
        vmd_bytes(mouth_curves(long, load_map("mmd")))


def test_rhubarb_json_matches_the_documented_shape(capsys, tmp_path):
    target = tmp_path / "cues.json"
    code, _, err = run(capsys, "export", "--sequence", SEQUENCE, "-o", target, "--to-format", "rhubarb-json")
    assert code == 0, err
    data = json.loads(target.read_text())
    jsonschema.validate(data, RHUBARB_SCHEMA)
    cues = data["mouthCues"]
    assert cues[0]["start"] == 0 and cues[-1]["end"] == data["metadata"]["duration"]
    assert all(a["end"] == b["start"] for a, b in itertools.pairwise(cues))  # back to back
    assert all(a["value"] != b["value"] for a, b in itertools.pairwise(cues))  # one shape per cue
    values = [c["value"] for c in cues]
    assert values[0] == "X" and values[-1] == "X"
    # k o N n i ch i w a e: B, E (o), B, B, B, B, B, F (w), D (a), C (e)
    assert [v for v in values if v != "X"] == ["B", "E", "B", "F", "D", "C"]


def test_rhubarb_tsv_lists_each_cue_start(capsys, tmp_path):
    tsv, js = tmp_path / "cues.tsv", tmp_path / "cues.json"
    assert run(capsys, "export", "--sequence", SEQUENCE, "-o", tsv)[0] == 0
    assert run(capsys, "export", "--sequence", SEQUENCE, "-o", js, "--to-format", "rhubarb-json")[0] == 0
    cues = json.loads(js.read_text())["mouthCues"]
    assert tsv.read_text().splitlines() == [f"{c['start']:.2f}\t{c['value']}" for c in cues]


def test_rhubarb_refuses_a_map_of_other_morphs(capsys, tmp_path):
    code, _, err = run(capsys, "export", "--sequence", SEQUENCE, "--map", "vrm", "-o", tmp_path / "x.tsv")
    assert code == 2 and "--map rhubarb" in err and not (tmp_path / "x.tsv").exists()


def test_exports_of_labels_starting_at_half_a_second_start_there(capsys, tmp_path):
    labels = tmp_path / "late.lab"
    labels.write_text(LATE_LAB)
    written = {}
    for name in ("m.vmd", "m.tsv", "m.json", "m.csv", "m.lab", "m.TextGrid", "m.txt", "r.json"):
        extra = ["--to-format", "rhubarb-json"] if name == "r.json" else []
        code, _, err = run(capsys, "export", "--labels", labels, "-o", tmp_path / name, *extra)
        assert code == 0, (name, err)
        written[name] = tmp_path / name
    _, morphs = read_vmd(written["m.vmd"].read_bytes())
    assert min(f for keys in morphs.values() for f, _ in keys) == 15  # 0.5 s at 30 fps
    assert written["m.tsv"].read_text().splitlines()[0] == "0.00\tX"
    cues = json.loads(written["r.json"].read_text())["mouthCues"]
    # At rest until the sil at 0.5-0.6 s hands over to k (over MMDAgent-EX's last 2 frames).
    assert cues[0]["start"] == 0 and cues[0]["value"] == "X" and 0.5 < cues[0]["end"] <= 0.6
    curves = json.loads(written["m.json"].read_text())
    times, a = curves["times"], curves["weights"]["あ"]
    assert max(w for t, w in zip(times, a, strict=True) if t <= 0.5) == 0.0  # at rest before 0.5 s
    assert max(w for t, w in zip(times, a, strict=True) if 0.7 <= t <= 0.9) > 0.2
    rows = written["m.csv"].read_text().splitlines()
    assert rows[0] == "time,あ,い,う,お" and len(rows) - 1 == len(times)
    assert written["m.lab"].read_text().splitlines()[0] == "5000000 6000000 sil"
    assert "xmin = 0.5 " in written["m.TextGrid"].read_text()
    assert written["m.txt"].read_text().splitlines()[0].startswith("0.500000\t0.600000\tsil")


def test_curves_command_keeps_the_offset_too(capsys, tmp_path):
    labels = tmp_path / "late.lab"
    labels.write_text(LATE_LAB)
    code, out, _ = run(capsys, "curves", "--labels", labels, "--keyframes")
    data = json.loads(out)
    assert code == 0 and data["start_frame"] == 15 and data["keyframes"]["あ"][0][0] == 15
    code, out, _ = run(capsys, "curves", "--labels", labels, "--output-format", "csv", "--fps", "10")
    rows = out.splitlines()
    assert rows[1].startswith("0.000000,") and rows[8].startswith("0.700000,")
    assert float(rows[8].split(",")[1]) > 0.2  # 'a' is open at 0.7 s, where the labels have it


def test_live2d_form_is_one_signed_column(tmp_path):
    timeline = Timeline.from_sequence("sil,100,i,300,u,300,sil,100")
    data = json.loads(export_bytes(timeline, "curves-json", load_map("live2d"), fps=30))
    assert data["morphs"] == ["ParamMouthOpenY", "ParamMouthForm"]
    form = data["weights"]["ParamMouthForm"]
    assert max(form) == pytest.approx(1.0) and min(form) == pytest.approx(-0.8)
    assert form[0] == 0 and form[-1] == 0


def test_format_follows_the_extension_or_is_refused():
    assert [format_for(f"x{e}") for e in (".vmd", ".json", ".csv", ".tsv", ".lab", ".TextGrid", ".txt")] == [
        "vmd", "curves-json", "curves-csv", "rhubarb-tsv", "lab", "textgrid", "audacity"]
    with pytest.raises(ValueRefused, match="--to-format"):
        format_for("x.mp4")


def test_bad_input_exits_2_and_writes_nothing(capsys, tmp_path):
    target = tmp_path / "x.vmd"
    target.write_bytes(b"old")
    for argv in (
        ["--sequence", "sil,100,zz,100", "-o", target],            # a name no map has
        ["--sequence", "sil,100,a", "-o", target],                 # a broken sequence
        ["--sequence", "sil,100,a,100", "-o", tmp_path / "x.mp4"], # no format
        ["--sequence", "sil,100,a,100", "-o", target, "--map", "arkit"],  # names too long for VMD
        ["--sequence", "sil,100,a,100"],                            # no -o
        ["--wav", tmp_path / "a.wav", "--text", "あ", "-o", target],  # no such audio / no aligner
    ):
        code, _out, err = run(capsys, "export", *argv)
        assert code == 2, argv
        assert err.strip() and "Traceback" not in err
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.vmd"]


def test_text_is_timed_by_durations_alone(capsys, tmp_path):
    from lipsync import synthesize

    target = tmp_path / "t.lab"
    assert run(capsys, "export", "こんにちは", "-o", target)[0] == 0
    _, timeline = synthesize("こんにちは")
    from lipsync.labels.write import format_lab

    assert target.read_text() == format_lab(timeline)


def test_rhubarb_cues_run_to_the_end_of_the_audio(capsys, tmp_path):
    import numpy as np

    from lipsync import Audio

    labels, wav, target = tmp_path / "late.lab", tmp_path / "speech.wav", tmp_path / "cues.json"
    labels.write_text(LATE_LAB)
    Audio(np.zeros(48000 * 3, dtype=np.int16), 48000).save_wav(wav)  # 3 s, longer than the labels
    code, _, err = run(capsys, "export", "--labels", labels, "--wav", wav, "-o", target,
                       "--to-format", "rhubarb-json")
    assert code == 0, err
    data = json.loads(target.read_text())
    assert data["metadata"] == {"soundFile": str(wav), "duration": 3.0}
    assert data["mouthCues"][-1] == {"start": data["mouthCues"][-1]["start"], "end": 3.0, "value": "X"}


EXPORT_WORDS = [
    "--sequence", "sil,100,a,100", "a|b,1", "sil,100,zz,100", "--labels", "/nonexistent", "--map", "vrm",
    "rhubarb", "arkit", "nope", "--to-format", "vmd", "rhubarb-json", "textgrid", "--fps", "0", "-1", "nan",
    "--unknown", "a", "\x00", "-o", "OUT.vmd", "OUT.tsv", "OUT.mp4", "OUT.json", "--batch", "--text", "あ",
    "--wav", "-j", "2", "",
]


@pytest.mark.parametrize("seed", range(3))
def test_export_answers_any_arguments_with_an_exit_code_and_no_stray_file(tmp_path, seed):
    import contextlib
    import io
    import random

    chooser = random.Random(seed)
    for _ in range(40):
        argv = [chooser.choice(EXPORT_WORDS) for _ in range(chooser.randint(0, 7))]
        argv = [str(tmp_path / a) if a.startswith("OUT.") else a for a in argv]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(["export", *argv])
            except SystemExit as exit:  # argparse's own usage errors
                code = exit.code  # type: ignore[assignment]
        assert code in (0, 2), (argv, err.getvalue())
        assert "Traceback" not in err.getvalue()
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_recorded_speech_and_its_text_are_aligned_then_exported(capsys, tmp_path):
    from conftest import REFERENCE

    from lipsync import synthesize

    text = "こんにちは、いい天気ですね。"
    audio, truth = synthesize(text, voice=REFERENCE / "voices" / "mei_happy.htsvoice")
    wav = tmp_path / "take.wav"
    audio.save_wav(wav)
    labels, cues = tmp_path / "take.lab", tmp_path / "take.json"
    code, _, err = run(capsys, "export", "--wav", wav, "--text", text, "-o", labels)
    assert code == 0, err
    spoken = [line.split()[2] for line in labels.read_text().splitlines()]
    pauses = ("sil", "pau")
    assert [n for n in spoken if n not in pauses] == [n for n in truth.names if n not in pauses]
    code, _, err = run(capsys, "export", "--wav", wav, "--text", text, "-o", cues,
                       "--to-format", "rhubarb-json")
    assert code == 0, err
    data = json.loads(cues.read_text())
    assert data["metadata"]["soundFile"] == str(wav)
    assert data["mouthCues"][-1]["end"] >= round(float(audio.duration), 2)


@pytest.mark.parametrize("to_format", ["rhubarb-json", "rhubarb-tsv"])
def test_rhubarb_cues_end_where_the_speech_ends_not_after_the_closing_keys(capsys, tmp_path, to_format):
    # 1.110 s of speech: Rhubarb's own cues end where the recording ends, and so do ours (the
    # mouth's closing keys after the last phoneme ran them to 1.3 s).
    sequence = "sil,200,a,300,m,100,a,310,sil,200"
    target = tmp_path / "cues.out"
    assert run(capsys, "export", "--sequence", sequence, "-o", target, "--to-format", to_format)[0] == 0
    if to_format == "rhubarb-json":
        data = json.loads(target.read_text())
        assert data["metadata"]["duration"] == 1.11 and data["mouthCues"][-1]["end"] == 1.11
    else:
        assert float(target.read_text().splitlines()[-1].split("\t")[0]) < 1.11
