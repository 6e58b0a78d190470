"""``lipsync export --batch``: every row on its own, failures named by line, exit 2 if any failed;
every output inside the list's folder, one line per output, the list never overwritten."""

from __future__ import annotations

import json
import os

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
    assert out.startswith(f"{listing}: 7 lines: 3 done, 0 skipped, 4 failed in ")
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == [".lipsync-ledger", "in", "lines.tsv", "out1.vmd", "out2.tsv", "out3.csv"]
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
    assert capsys.readouterr().out.startswith(f"{listing}: 3 lines: 3 done, 0 skipped, 0 failed in ")


def test_batch_refuses_single_inputs_beside_it(capsys, tmp_path):
    listing = tmp_path / "lines.tsv"
    listing.write_text("text\t-\tあ\ta.vmd\n")
    assert main(["export", "--batch", str(listing), "-o", str(tmp_path / "x.vmd")]) == 2
    assert "--batch takes its inputs" in capsys.readouterr().err


def _outside_files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_batch_refuses_outputs_outside_the_lists_folder(capsys, tmp_path):
    folder = tmp_path / "lists"
    (folder / "sub").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (folder / "sub" / "link").symlink_to(tmp_path / "elsewhere")
    rows = [
        "sequence\tsil,100,a,100\t-\t../up.csv",                      # 1
        f"sequence\tsil,100,a,100\t-\t{tmp_path / 'abs.csv'}",         # 2
        "sequence\tsil,100,a,100\t-\tsub/../../up2.csv",              # 3
        "sequence\tsil,100,a,100\t-\tsub/link/through.csv",           # 4: a symlink leading out
        "sequence\tsil,100,a,100\t-\tsub/deeper/ok.csv",              # 5: a new folder inside is fine
    ]
    listing = folder / "lines.tsv"
    listing.write_text("\n".join(rows) + "\n")
    assert main(["export", "--batch", str(listing), "-j", "1"]) == 2
    err = capsys.readouterr().err
    assert f"{listing}:1: output '../up.csv' leads out of the list's folder" in err
    assert f"{listing}:2: output '{tmp_path / 'abs.csv'}' is an absolute path" in err
    assert f"{listing}:3: output 'sub/../../up2.csv' leads out" in err
    assert f"{listing}:4: output 'sub/link/through.csv' leads out of {folder} (through a symlink" in err
    assert _outside_files(tmp_path) == ["lists/.lipsync-ledger", "lists/lines.tsv", "lists/sub/deeper/ok.csv"]


def test_batch_refuses_every_line_naming_one_output(capsys, tmp_path):
    listing = tmp_path / "lines.tsv"
    listing.write_text("sequence\tsil,100,a,100\t-\tsame.csv\n"
                       "sequence\tsil,100,i,100\t-\tother.csv\n"
                       "sequence\tsil,100,u,100\t-\t./same.csv\n"
                       "sequence\tsil,100,e,100\t-\tSAME.csv\n")  # one file on Windows and macOS
    assert main(["export", "--batch", str(listing), "-j", "1"]) == 2
    out, err = capsys.readouterr()
    assert f"{listing}:1: output 'same.csv' is also written by line 3, 4" in err
    assert f"{listing}:3: output 'same.csv' is also written by line 1, 4" in err
    assert f"{listing}:4: output 'SAME.csv' is also written by line 1, 3" in err
    assert "1 done, 0 skipped, 3 failed" in out
    assert _outside_files(tmp_path) == [".lipsync-ledger", "lines.tsv", "other.csv"]


def test_batch_never_overwrites_the_list_the_ledger_or_an_input(capsys, tmp_path):
    (tmp_path / "take.lab").write_text(LATE_LAB)
    (tmp_path / "second.lab").write_text(LATE_LAB)
    listing = tmp_path / "lines.tsv"
    text = ("labels\ttake.lab\t-\tlines.tsv\n"             # 1: the list itself
            "labels\ttake.lab\t-\ttake.lab\n"              # 2: its own input
            "sequence\tsil,100,a,100\t-\tsecond.lab\n"     # 3: line 4's input
            "labels\tsecond.lab\t-\tout.lab\n"             # 4: fine
            "sequence\tsil,100,a,100\t-\t.lipsync-ledger\n")  # 5: the ledger
    listing.write_text(text)
    assert main(["export", "--batch", str(listing), "-j", "1", "--to-format", "lab"]) == 2
    err = capsys.readouterr().err
    assert f"{listing}:1: output 'lines.tsv' would overwrite the list itself" in err
    assert f"{listing}:2: output 'take.lab' would overwrite its own labels" in err
    assert f"{listing}:3: output 'second.lab' would overwrite line 4's labels" in err
    assert f"{listing}:5: output '.lipsync-ledger' would overwrite the ledger" in err
    assert f"{listing}:4" not in err
    assert listing.read_text() == text and (tmp_path / "take.lab").read_text() == LATE_LAB
    assert (tmp_path / "second.lab").read_text() == LATE_LAB
    assert (tmp_path / "out.lab").read_text().split()[-1] == "sil"


POISON = "sil,100,u,100"


def crash_on_poison(chunk):
    """A worker's work that dies (as a native crash would) on one line."""
    from lipsync.export.work import work_chunk

    if any(task.job.sequence == POISON for task in chunk.tasks):
        os._exit(3)
    return work_chunk(chunk)


def test_a_line_that_kills_its_worker_fails_alone(tmp_path):
    from lipsync.export.batch import read_batch
    from lipsync.export.job import ExportJob
    from lipsync.export.ledger import Ledger
    from lipsync.export.pools import ProcessPool
    from lipsync.export.runner import Runner

    listing = tmp_path / "lines.tsv"
    rows = [f"sequence\t{POISON if i == 5 else 'sil,100,a,100'}\t-\tout{i}.csv" for i in range(12)]
    listing.write_text("\n".join(rows) + "\n")
    plan = read_batch(listing, ExportJob(output=tmp_path))
    results = []
    with Ledger(tmp_path) as ledger:
        tally = Runner(tmp_path, ProcessPool(2, crash_on_poison), ledger, results.append, total=plan.total,
                       chunk_lines=4).run(plan.lines())
    assert (tally.done, tally.failed) == (11, 1)
    [failed] = [r for r in results if r.status == "failed"]
    assert failed.line.number == 6
    assert failed.error == "its worker process died while exporting it, alone (BrokenProcessPool: A " \
        "process in the process pool was terminated abruptly while the future was running or pending.)"
    written = sorted(p.name for p in tmp_path.glob("out*.csv"))
    assert written == sorted(f"out{i}.csv" for i in range(12) if i != 5)


def test_a_list_is_read_a_line_at_a_time_and_a_huge_line_refused(capsys, tmp_path):
    listing = tmp_path / "lines.tsv"
    listing.write_text("sequence\tsil,100,a,100\t-\ta.csv\n" + "#" * (2 << 20) + "\n")
    assert main(["export", "--batch", str(listing), "-j", "1"]) == 2
    assert capsys.readouterr().err == f"lipsync: {listing}:2:1: expected lines of at most 1048576 bytes\n"
    assert not (tmp_path / "a.csv").exists()  # refused whole, before any work
    fifo = tmp_path / "fifo.tsv"
    os.mkfifo(fifo)
    assert main(["export", "--batch", str(fifo)]) == 2  # never opened: it would block
    assert "not a regular file" in capsys.readouterr().err
