"""``lipsync export --manifest``: a studio's CSV/TSV table, outputs named from ids under --out-dir."""

from __future__ import annotations

import json

from test_export import read_vmd

from lipsync.cli.main import main

LATE_LAB = "5000000 6000000 sil\n6000000 9000000 a\n9000000 10000000 sil\n"


def _files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_a_csv_with_a_bom_and_its_own_column_names_is_exported_by_id(capsys, tmp_path):
    from lipsync import synthesize

    audio, _ = synthesize("こんにちは")
    (tmp_path / "takes").mkdir()
    audio.save_wav(tmp_path / "takes" / "hello.wav")
    (tmp_path / "takes" / "late.lab").write_text(LATE_LAB)
    table = tmp_path / "lines.csv"
    table.write_bytes("\ufeffLineID,Japanese,English,Voice file,Speaker,Notes\r\n"
                      "greet_01,こんにちは,Hello,takes/hello.wav,Mei,\r\n"
                      'greet_02,"はい、そうです",Yes,,Hiro,"a note, with a comma\r\nand a line break"\r\n'
                      "late_01,,,,Mei,\r\n"
                      ",,,,,\r\n".encode())  # a blank row: skipped
    out = tmp_path / "out"
    args = ["export", "--manifest", str(table), "--out-dir", str(out), "--to-format", "curves-json",
            "--column", "id=LineID", "--column", "text=Japanese", "--column", "audio=Voice file",
            "--column", "character=speaker", "--character-map", "Mei=vrm", "-j", "1"]
    assert main(args) == 2  # late_01 has nothing to export
    captured = capsys.readouterr()
    assert captured.err.splitlines()[-1] == f"{table}:5: nothing to export: no text, audio or labels"
    assert "no --character-map for 'Hiro' (1 line): they use the format's default map" in captured.err
    assert captured.out.startswith(f"{table}: 3 lines: 2 done, 0 skipped, 1 failed in ")
    assert _files(out) == [".lipsync-ledger", "greet_01.json", "greet_02.json"]
    mei = json.loads((out / "greet_01.json").read_text())
    hiro = json.loads((out / "greet_02.json").read_text())
    assert mei["morphs"] == ["aa", "ih", "ou", "ee", "oh"] and max(mei["weights"]["oh"]) > 0.5  # aligned
    assert hiro["morphs"] == ["あ", "い", "う", "お"]  # mmdagent, the default


def test_a_tsv_names_outputs_from_an_output_column_and_labels_time_a_line(capsys, tmp_path):
    (tmp_path / "late.lab").write_text(LATE_LAB)
    table = tmp_path / "lines.tsv"
    table.write_text("id\ttext\tlabels\toutput\n"
                     "a\tこんにちは\t\tvmd/a.vmd\n"
                     "b\t\tlate.lab\tcues/b.tsv\n"
                     "c\tはい\t\t\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["export", "--manifest", str(table), "--out-dir", str(out), "-j", "2"]) == 2
    assert capsys.readouterr().err == (f"{table}:4: no output, and no --to-format to name one from the id\n")
    assert _files(out) == [".lipsync-ledger", "cues/b.tsv", "vmd/a.vmd"]
    _, morphs = read_vmd((out / "vmd" / "a.vmd").read_bytes())
    assert set(morphs) == {"あ", "い", "う", "え", "お", "ん"}
    # Rhubarb cues from the labels, as one export of them writes them.
    assert main(["export", "--labels", str(tmp_path / "late.lab"), "-o", str(tmp_path / "alone.tsv")]) == 0
    assert (out / "cues" / "b.tsv").read_text() == (tmp_path / "alone.tsv").read_text()
    assert (out / "cues" / "b.tsv").read_text().startswith("0.00\tX\n")
    assert main(["export", "--manifest", str(table), "--out-dir", str(out), "-j", "2",
                 "--to-format", "lab"]) == 0  # --to-format names c, and is every line's format
    assert (out / "c.lab").exists() and (out / "cues" / "b.tsv").read_text() == LATE_LAB


def test_ids_and_outputs_leading_out_of_the_out_dir_are_refused_by_line(capsys, tmp_path):
    table = tmp_path / "lines.csv"
    table.write_text("id,text,output\n"
                     "a/b,はい,\n"           # 2
                     "..,はい,\n"            # 3
                     f"{tmp_path}/x,はい,\n"  # 4
                     "ok,はい,../up.vmd\n"    # 5
                     f"ok2,はい,{tmp_path}/abs.vmd\n"  # 6
                     "con,はい,\n"           # 7: a device on Windows
                     "tab\there,はい,\n"      # 8: a control character
                     "fine,はい,\n"          # 9
                     "FINE,はい,\n"          # 10: the same file on Windows and macOS
                     "lines,はい,\n")        # 11: the manifest itself, with --to-format curves-csv
    code = main(["export", "--manifest", str(table), "--out-dir", str(tmp_path), "--to-format", "curves-csv",
                 "-j", "1"])
    assert code == 2
    err = capsys.readouterr().err
    reasons = {int(line.split(":")[1]): line.split(": ", 1)[1] for line in err.splitlines()
               if line.startswith(f"{table}:")}
    assert reasons[2] == "id 'a/b' has a '/' or '\\': an id names one file in --out-dir"
    assert reasons[3] == "id '..' starts with '.': it would name a hidden file"
    assert "'/'" in reasons[4]
    assert reasons[5] == "output '../up.vmd' leads out of --out-dir ('..')"
    assert reasons[6] == f"output '{tmp_path}/abs.vmd' is an absolute path: outputs go inside --out-dir"
    assert reasons[7] == "output 'con.csv': 'con.csv' is a device name on Windows"
    assert reasons[8] == "output 'tab\\there.csv': control character U+0009 in a name"
    assert reasons[9].startswith("output 'fine.csv' is also written by line 10")
    assert reasons[10].startswith("output 'FINE.csv' is also written by line 9")
    assert reasons[11] == "output 'lines.csv' would overwrite the manifest itself"
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert _files(tmp_path) == ["lines.csv"]  # nothing written: no ledger either


def test_a_table_that_is_not_utf8_or_lacks_a_column_is_refused_whole(capsys, tmp_path):
    table = tmp_path / "lines.csv"
    table.write_bytes("id,text\na,こんにちは\n".encode("shift_jis"))
    out = tmp_path / "out"
    assert main(["export", "--manifest", str(table), "--out-dir", str(out), "--to-format", "vmd"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lipsync: {table}:2:3: expected UTF-8 text, found byte 0x82 (save the table as")
    table.write_text("LineID,Text\na,はい\n")
    assert main(["export", "--manifest", str(table), "--out-dir", str(out), "--to-format", "vmd",
                 "--column", "id=Line ID"]) == 2
    assert "expected a column 'Line ID' for the id, found 'LineID', 'Text'" in capsys.readouterr().err
    assert main(["export", "--manifest", str(table), "--out-dir", str(out), "--to-format", "vmd"]) == 2
    assert "expected an id column (or an output column) to name the outputs, found 'LineID', 'Text'" in (
        capsys.readouterr().err)
    assert main(["export", "--manifest", str(table), "--out-dir", str(out), "--column", "id=LineID"]) == 2
    assert "give --to-format (or an output column)" in capsys.readouterr().err
    table.write_text('id,text\na,"unclosed\n')
    assert main(["export", "--manifest", str(table), "--out-dir", str(out), "--to-format", "vmd"]) == 2
    assert f"{table}:2:1: expected a CSV record" in capsys.readouterr().err
    assert _files(out) == []


def test_json_gives_a_record_per_line_and_a_summary_on_stdout(capsys, tmp_path):
    table = tmp_path / "lines.csv"
    table.write_text("id,text\na,はい\nb,\nc,いいえ\n")
    out = tmp_path / "out"
    assert main(["export", "--manifest", str(table), "--out-dir", str(out), "--to-format", "vmd", "--json",
                 "-j", "1"]) == 2
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines()]
    lines = sorted((r for r in records if r["event"] == "line"), key=lambda r: r["line"])
    assert [(r["line"], r["id"], r["status"]) for r in lines] == [(2, "a", "done"), (3, "b", "failed"),
                                                                  (4, "c", "done")]
    assert lines[0]["output"] == str(out / "a.vmd") and lines[1]["error"].startswith("nothing to export")
    summary = records[-1]
    assert summary["event"] == "summary"
    assert (summary["done"], summary["skipped"], summary["failed"]) == (2, 0, 1)
    assert summary["lines"] == 3 and summary["seconds"] >= 0 and summary["interrupted"] is False
    assert f"{table}:3: nothing to export" in captured.err  # failures still on stderr too


def test_progress_shows_on_a_terminal_and_the_json_log_stays_clean(tmp_path, monkeypatch):
    import contextlib
    import io

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    table = tmp_path / "lines.csv"
    table.write_text("id,text\na,はい\nb,\nc,いいえ\n")
    screen, log = Terminal(), io.StringIO()
    monkeypatch.setattr("sys.stderr", screen)
    with contextlib.redirect_stdout(log):
        assert main(["export", "--manifest", str(table), "--out-dir", str(tmp_path / "out"),
                     "--to-format", "vmd", "--json", "-j", "1"]) == 2
    drawn = screen.getvalue()
    assert "\rlipsync: export 3/3 lines, 1 failed" in drawn and drawn.endswith("\r")
    assert f"\n{table}:3: nothing to export" in "\n" + drawn.replace("\r", "\n")
    assert all(json.loads(line) for line in log.getvalue().splitlines())  # nothing but JSON on stdout


def test_an_empty_missing_or_odd_input_fails_its_line_alone(capsys, tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "folder.lab").mkdir()
    table = tmp_path / "lines.csv"
    table.write_text("id,text,audio,labels\na,はい,empty.wav,\nb,はい,none.wav,\nc,,,folder.lab\nd,はい,,\n")
    out = tmp_path / "out"
    args = ["export", "--manifest", str(table), "--out-dir", str(out), "--to-format", "vmd", "-j", "1"]
    assert main(args) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"{table}:2: {tmp_path / 'empty.wav'}: empty file: expected WAV, FLAC, MP3 or Ogg "
                   "Vorbis audio",
                   f"{table}:3: {tmp_path / 'none.wav'}: cannot read: No such file or directory",
                   f"{table}:4: {tmp_path / 'folder.lab'}: cannot read: Is a directory"]
    assert sorted(p.name for p in out.iterdir()) == [".lipsync-ledger", "d.vmd"]


def test_every_format_names_its_outputs_with_the_extension_that_picks_it():
    from pathlib import Path

    from lipsync.export import FORMATS, extension_for, format_for

    for fmt in FORMATS:
        expected = "curves-json" if fmt == "rhubarb-json" else fmt  # .json means curves unless told
        assert format_for(Path("line" + extension_for(fmt))) == expected, fmt


def test_a_manifest_writes_the_engine_formats(capsys, tmp_path):
    table = tmp_path / "lines.csv"
    table.write_text("id,text\nhello,こんにちは\n", encoding="utf-8")
    for fmt, name in (("vrma", "hello.vrma"), ("motion3", "hello.motion3.json"), ("unity-anim", "hello.anim"),
                      ("godot-tres", "hello.tres"), ("unity-json", "hello.unity.json")):
        out = tmp_path / fmt
        assert main(["export", "--manifest", str(table), "--out-dir", str(out), "--to-format", fmt]) == 0
        assert (out / name).stat().st_size > 0


def test_a_ledger_that_is_a_link_out_of_the_folder_is_refused(capsys, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious line\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / ".lipsync-ledger").symlink_to(victim)
    table = tmp_path / "lines.csv"
    table.write_text("id,text\nhello,こんにちは\n", encoding="utf-8")
    assert main(["export", "--manifest", str(table), "--out-dir", str(out), "--to-format", "vmd"]) == 2
    assert "not a regular file" in capsys.readouterr().err
    assert victim.read_text() == "precious line\n" and not (out / "hello.vmd").exists()
