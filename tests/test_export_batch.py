"""``lipsync export --batch``: every row on its own, failures named by line, exit 2 if any failed."""

from __future__ import annotations

import json

from test_export import read_vmd

from lipsync.cli.main import main

LATE_LAB = "5000000 6000000 sil\n6000000 9000000 a\n9000000 10000000 sil\n"


def test_batch_runs_every_row_and_reports_failures_by_line(capsys, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "late.lab").write_text(LATE_LAB)
    rows = [
        "# kind\tinput\ttext\toutput",                    # 1: a comment
        "text\t-\tこんにちは\tout1.vmd",                    # 2
        "labels\tin/late.lab\t-\tout2.tsv",                # 3
        "",                                                # 4: blank
        "sequence\tsil,100,zz,100\t-\tbad1.vmd",           # 5: a name no map has
        "sequence\tsil,100,a,200,sil,100\t\tout3.csv",     # 6
        "speech\t-\tあ\tbad2.vmd",                          # 7: no such kind
        "labels\tin/none.lab\t-\tbad3.vmd",                # 8: no such file
        "text\t-\tあ",                                      # 9: three columns
    ]
    listing = tmp_path / "lines.tsv"
    listing.write_text("\n".join(rows) + "\n")
    code = main(["export", "--batch", str(listing), "-j", "2"])
    out, err = capsys.readouterr()
    assert code == 2
    failed = sorted(int(line.split(":")[1]) for line in err.splitlines() if line.startswith(str(listing)))
    assert failed == [5, 7, 8, 9]
    assert "zz" in err and "speech" in err and "none.lab" in err and "4 tab-separated columns" in err
    assert out.strip() == f"{listing}: 3 of 7 rows written, 4 failed"
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["in", "lines.tsv", "out1.vmd", "out2.tsv", "out3.csv"]
    _, morphs = read_vmd((tmp_path / "out1.vmd").read_bytes())
    assert set(morphs) == {"あ", "い", "う", "え", "お", "ん"}
    assert (tmp_path / "out2.tsv").read_text().startswith("0.00\tX\n")


def test_batch_of_good_rows_exits_0_and_takes_the_options(capsys, tmp_path):
    from lipsync import synthesize

    audio, _ = synthesize("こんにちは")
    audio.save_wav(tmp_path / "take.wav")
    listing = tmp_path / "lines.tsv"
    listing.write_text("sequence\tsil,100,a,200,sil,100\t-\ta.json\nsequence\tsil,100,i,200\t-\tb.json\n"
                       "audio\ttake.wav\tこんにちは\tc.json\n")
    assert main(["export", "--batch", str(listing), "-j", "1", "--map", "vrm", "--fps", "10"]) == 0
    data = json.loads((tmp_path / "a.json").read_text())
    assert data["fps"] == 10 and data["morphs"] == ["aa", "ih", "ou", "ee", "oh"]
    aligned = json.loads((tmp_path / "c.json").read_text())
    assert max(aligned["weights"]["oh"]) > 0.5  # こ: the aligned o opens the mouth
    assert capsys.readouterr().out.strip() == f"{listing}: 3 of 3 rows written"


def test_batch_refuses_single_inputs_beside_it(capsys, tmp_path):
    listing = tmp_path / "lines.tsv"
    listing.write_text("text\t-\tあ\ta.vmd\n")
    assert main(["export", "--batch", str(listing), "-o", str(tmp_path / "x.vmd")]) == 2
    assert "--batch takes its inputs" in capsys.readouterr().err
