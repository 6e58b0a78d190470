"""Hostile command lines for ``test_adversarial.py``, and the worker process that runs them.

A case is an area (for the README's reliability table), an argv (``{dir}`` stands for the
case's folder), the files to put there, and what must happen: ``refuse`` (exit 2),
``ok`` (exit 0) or ``either`` (a mutated voice may still be a good one).

The worker runs cases in-process through ``lipsync.cli.main`` (milliseconds each instead of
a Python start-up) inside a process the test starts with a memory and CPU limit, so a
memory bomb, a segfault or a hang ends the worker, and the test names the case it was on.

Run as ``python hostile.py CASES.pickle FIRST STEP RESUME``: one JSON line per case on stdout.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import pickle
import random
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "fixtures" / "reference"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass
class Case:
    area: str
    argv: list[str]
    expect: str = "refuse"
    files: dict[str, bytes] = field(default_factory=dict)


# -- numbers every reader must refuse -------------------------------------------------------

HUGE_DIGITS = ["9" * 5000, "1" + "0" * 4400, "0." + "1" * 5000, "1" * 45]
NON_ASCII = ["４", "０.５", "٣", "१२", "1０", "𝟙", "²", "½", "Ⅳ"]
NON_FINITE = ["nan", "NaN", "inf", "-inf", "Infinity", "1e309", "1e999999999", "-1e999999999", "1e-999999999"]
MALFORMED = ["-1", "0x10", "1_000", "1e", ".", "", "1..2", "1,5", "+-1", "\x00", "1 2"]
BAD_NUMBERS = HUGE_DIGITS + NON_ASCII + NON_FINITE + MALFORMED


def _mono(tokens: tuple[str, str]) -> bytes:
    start, end = tokens
    return f"0 1000000 sil\n{start} {end} a\n3000000 4000000 sil\n".encode()


def label_cases(rng: random.Random) -> list[Case]:
    cases = []
    for number in BAD_NUMBERS:
        if number in ("", "1 2"):
            continue
        for tokens, name in (((number, "2000000"), "start"), (("1000000", number), "end")):
            data = _mono(tokens)
            fmt = rng.choice(["mono", "hts", "julius", None])
            argv = ["timeline", "--labels", "{dir}/x.lab"] + (["--label-format", fmt] if fmt else [])
            cases.append(Case("label numbers", argv, files={"x.lab": data}))
            seconds = f"0.0 0.1 sil\n{tokens[0] if name == 'start' else '0.1'} " \
                      f"{tokens[1] if name == 'end' else '0.3'} a\n".encode()
            cases.append(Case("label numbers", ["curves", "--labels", "{dir}/x.lab"],
                              files={"x.lab": seconds}))
    return cases


def sequence_cases() -> list[Case]:
    cases = []
    for number in BAD_NUMBERS:
        if "," in number or number == "":
            continue
        for command in ("timeline", "curves"):
            cases.append(Case("sequences", [command, "--sequence", f"sil,100,a,{number},sil,100"]))
    for ms in ("1000000000", "3600001", "99999999999999999999"):
        cases.append(Case("bounds", ["curves", "--sequence", f"a,{ms}"]))
    # A day of speech in pieces each under an hour: the total bound refuses it.
    cases.append(Case("bounds", ["curves", "--sequence", ",".join(["a,3000000"] * 30)]))
    # Six hours is allowed, but not at 1000 fps: the sample bound refuses it.
    cases.append(Case("bounds", ["curves", "--fps", "1000", "--sequence", ",".join(["a,3000000"] * 7)]))
    cases.append(Case("bounds", ["timeline", "--sequence", ",".join(["a,3000000"] * 7)], "ok"))
    return cases


_TEXTGRID = """File type = "ooTextFile"
Object class = "TextGrid"
xmin = {xmin}
xmax = 1
tiers? <exists>
size = {size}
item []:
    item [1]:
        class = "IntervalTier"
        name = "phones"
        xmin = 0
        xmax = 1
        intervals: size = {count}
        intervals [1]:
            xmin = 0
            xmax = {mid}
            text = "a"
        intervals [2]:
            xmin = {mid}
            xmax = 1
            text = "i"
"""


def textgrid_cases() -> list[Case]:
    cases = []
    good = {"xmin": "0", "size": "1", "count": "2", "mid": "0.5"}
    for key in good:
        for number in BAD_NUMBERS:
            if number.strip() == "" or "\n" in number:
                continue
            values = dict(good, **{key: number})
            text = _TEXTGRID.format(**values).encode()
            # Praat's reader skips words between values: 0x10 reads as 0 (then a word x10).
            expect = "either" if number in MALFORMED or (key == "xmin" and number == "-1") else "refuse"
            cases.append(Case("TextGrid numbers", ["timeline", "--labels", "{dir}/x.TextGrid"], expect,
                              files={"x.TextGrid": text}))
    # The 90-byte TextGrid: short form, an exponent of a billion.
    tiny = b'"ooTextFile"\n"TextGrid"\n0 1e999999999 <exists> 1 "IntervalTier" "phones" 0 1 1 0 1 "a"\n'
    cases.append(Case("TextGrid numbers", ["timeline", "--labels", "{dir}/t.TextGrid"],
                      files={"t.TextGrid": tiny}))
    # 20 000 tiers and none named phones: the error must not list them all.
    tiers = "".join(f'"IntervalTier" "t{i}" 0 1 0\n' for i in range(20_000))
    many = f'"ooTextFile"\n"TextGrid"\n0 1 <exists> 20000\n{tiers}'.encode()
    cases.append(Case("error length", ["timeline", "--labels", "{dir}/m.TextGrid"],
                      files={"m.TextGrid": many}))
    cases.append(Case("TextGrid numbers", ["timeline", "--labels", str(FIXTURES / "sentence.long.TextGrid")],
                      "ok"))
    return cases


def _query(**top: object) -> dict[str, object]:
    mora = {"text": "ア", "consonant": None, "consonant_length": None, "vowel": "a",
            "vowel_length": 0.1, "pitch": 5.0}
    query: dict[str, object] = {
        "accent_phrases": [{"moras": [mora], "accent": 1, "pause_mora": None, "is_interrogative": False}],
        "speedScale": 1.0, "prePhonemeLength": 0.1, "postPhonemeLength": 0.1,
    }
    query.update(top)
    return query


def voicevox_cases() -> list[Case]:
    cases = []
    raw_numbers = ["NaN", "Infinity", "-Infinity", "1e309", "-1e309", "9" * 5000, "1" + "0" * 4400,
                   "1e999999999", "-1", "0", "1e-400", '"0.1"', "true", "null", "[]", "{}", "１"]
    for key in ("speedScale", "prePhonemeLength", "postPhonemeLength", "pauseLength", "pauseLengthScale"):
        for raw in raw_numbers:
            text = json.dumps(_query(**{key: "@"})).replace('"@"', raw)
            expect = "either" if raw in ("0", "null", "1e-400") else "refuse"
            cases.append(Case("VOICEVOX JSON", ["timeline", "--labels", "{dir}/q.json"], expect,
                              files={"q.json": text.encode()}))
    for key in ("vowel_length", "pitch", "consonant_length"):
        for raw in raw_numbers:
            query = _query()
            mora = query["accent_phrases"][0]["moras"][0]  # type: ignore[index]
            mora[key] = "@"
            if key == "consonant_length":
                mora["consonant"] = "k"
            query["accent_phrases"][0]["is_interrogative"] = True  # type: ignore[index]
            text = json.dumps(query).replace('"@"', raw)
            expect = "either" if key == "pitch" or raw in ("0", "1e-400") else "refuse"
            cases.append(Case("VOICEVOX JSON", ["curves", "--labels", "{dir}/q.json"], expect,
                              files={"q.json": text.encode()}))
    for depth in (100, 1000, 100_000):
        for opener, closer in (("[", "]"), ("{\"a\":", "}")):
            text = opener * depth + "1" + closer * depth
            cases.append(Case("deep JSON", ["timeline", "--labels", "{dir}/q.json"],
                              files={"q.json": text.encode()}))
            nested = '{"accent_phrases": ' + "[" * depth + "]" * depth + "}"
            argv = ["timeline", "--label-format", "voicevox", "--labels", "{dir}/q.json"]
            cases.append(Case("deep JSON", argv, files={"q.json": nested.encode()}))
    cases.append(Case("VOICEVOX JSON", ["timeline", "--labels", str(FIXTURES / "konnichiwa.voicevox.json")],
                      "ok"))
    return cases


STOCK_MAP = (ROOT / "data" / "lip.txt").read_bytes()


def lipmap_cases() -> list[Case]:
    cases = []
    head = "4\nあ\nい\nう\nお\n{count}\n"
    for number in BAD_NUMBERS:
        if number.strip() == "" or any(c in number for c in " \n#"):
            continue
        for where in ("morphs", "phonemes", "weight"):
            if where == "morphs":
                text = number + "\nあ\nい\nう\nお\n1\na 0 0 0 0\n"
            elif where == "phonemes":
                text = head.format(count=number) + "a 0 0 0 0\n"
            else:
                text = head.format(count=1) + f"a 0 {number} 0 0\n"
            # A weight is read as C reads it: 45 digits is a (large) number, 1e-999999999 is 0.
            expect = "either" if where == "weight" and number in ("0." + "1" * 5000, "1" * 45,
                                                                  "1e-999999999") else "refuse"
            for argv in (["map", "check", "{dir}/m.txt"],
                         ["map", "set", "{dir}/m.txt", "a", "0", "0", "0", "0"],
                         ["curves", "--sequence", "a,100", "--map", "{dir}/m.txt"]):
                cases.append(Case("lip map numbers", argv, expect, files={"m.txt": text.encode()}))
    for weight in ["nan", "inf", "1e309", "-1", "４", "1" * 50, "1e999999999"]:
        cases.append(Case("lip map numbers", ["map", "set", "{dir}/m.txt", "a", weight, "0", "0", "0"],
                          files={"m.txt": STOCK_MAP}))
        cases.append(Case("lip map numbers", ["map", "add-morph", "{dir}/m.txt", "x", "--default", weight],
                          files={"m.txt": STOCK_MAP}))
    return cases


def cli_float_cases() -> list[Case]:
    cases = []
    values = ["nan", "inf", "-inf", "1e309", "４", "9" * 5000, "", "0x1", "1e999999999", "-1e400"]
    say = ["say", "--model", "gene", "--audio", "null", "--to", "tcp://127.0.0.1:9", "--sequence", "a,100"]
    options = [(["curves", "--sequence", "a,100"], "--fps"), (["timeline", "--sequence", "a,100"], "--speed"),
               (["timeline", "--sequence", "a,100"], "--half-tone"), (say, "--wait"), (say, "--latency")]
    for base, option in options:
        for value in values:
            cases.append(Case("command-line numbers", [*base, f"{option}={value}"]))
    for fps in ("0", "-1", "1001", "0.5"):
        cases.append(Case("command-line numbers", ["curves", "--sequence", "a,100", "--fps", fps]))
    vrm = ["curves", "--sequence", "a,100", "--map", "vrm"]
    for value in (*values, "3.5", "-0.1"):
        cases.append(Case("command-line numbers", [*vrm, f"--intensity={value}"]))
    for value in values:
        cases.append(Case("command-line numbers", [*vrm, "--gain", f"aa={value}"]))
    cases.append(Case("command-line numbers", [*vrm, "--gain", "aa=6"]))
    cases.append(Case("command-line numbers", [*vrm, "--gain", "zz=1"]))
    cases.append(Case("command-line numbers", [*vrm, "--gain", "aa"]))
    cases.append(Case("command-line numbers", [*vrm, "--gains", "{dir}/g.txt"], files={"g.txt": b"aa nan\n"}))
    cases.append(Case("command-line numbers", [*vrm, "--gains", "{dir}/g.txt"], files={"g.txt": b"\xff\xfe"}))
    cases.append(Case("command-line numbers", [*vrm, "--gains", "{dir}/g.txt"], "ok",
                      files={"g.txt": b"# calm\naa 0.5\n"}))
    pcm = ["say", "--to", "stdout", "--audio", "null", "--pcm"]
    for value in (*values, "0", "33", "1.5", "-1"):  # raw audio's format: every one refused in a line
        cases.append(Case("command-line numbers", [*pcm, "{dir}", "--rate", "16000", f"--channels={value}"]))
        cases.append(Case("command-line numbers", [*pcm, "{dir}", f"--rate={value}"]))
    cases.append(Case("command-line numbers", [*pcm, "{dir}", "--rate", "16000"]))  # a folder, not audio
    cases.append(Case("command-line numbers", ["listen", "--to", "stdout", "--input", "file:{dir}"]))
    return cases


def wrong_format_cases() -> list[Case]:
    """Files forced to the wrong --format (issue 8 point 11: 35-day durations)."""
    cases = []
    mono = (FIXTURES / "konnichiwa.mono.lab").read_bytes()
    julius = (FIXTURES / "konnichiwa.julius.lab").read_bytes()
    textgrid = (FIXTURES / "sentence.long.TextGrid").read_bytes()
    query = (FIXTURES / "konnichiwa.voicevox.json").read_bytes()
    for name, data in (("m.lab", mono), ("j.lab", julius), ("t.TextGrid", textgrid), ("q.json", query)):
        for fmt in ("hts", "mono", "julius", "textgrid", "voicevox"):
            right = {"m.lab": "mono", "j.lab": "julius", "t.TextGrid": "textgrid", "q.json": "voicevox"}[name]
            expect = "ok" if fmt == right else "refuse"
            if (name, fmt) in (("m.lab", "hts"), ("j.lab", "mono"), ("j.lab", "hts")):
                expect = "either"  # hts reads mono times alike; seconds are detected by the point
            for command in ("timeline", "curves"):
                option = "--label-format"
                cases.append(Case("wrong --format", [command, "--labels", "{dir}/" + name, option, fmt],
                                  expect, files={name: data}))
    # Seconds and 100 ns units mixed in one label (24 GB before).
    cases.append(Case("bounds", ["curves", "--labels", "{dir}/x.lab"],
                      files={"x.lab": b"0 0.5 a\n5000000 250000000000 i\n"}))
    return cases


def big_file_cases() -> list[Case]:
    """Big valid files read in linear time, and 10 MB one-line junk with a short error."""
    n = 20_000  # quadratic reading took minutes here; bench/test_bench_robust.py times 10^5
    mono = "".join(f"{i * 1000} {(i + 1) * 1000} a\n" for i in range(n)).encode()
    morphs = [f"m{i}" for i in range(n)]
    wide = f"{n}\n" + "\n".join(morphs) + "\n1\na " + " ".join(["0"] * n) + "\n"
    long_map = "1\nあ\n" + f"{n}\n" + "".join(f"p{i} 0.5\n" for i in range(n))
    junk = b"x" * 10_000_000
    return [
        Case("big files", ["timeline", "--labels", "{dir}/big.lab"], "ok", files={"big.lab": mono}),
        Case("big files", ["map", "check", "{dir}/wide.txt"], "ok", files={"wide.txt": wide.encode()}),
        Case("big files", ["map", "check", "{dir}/long.txt"], "ok", files={"long.txt": long_map.encode()}),
        Case("big files", ["map", "add-morph", "{dir}/long.txt", "い"], "ok",
             files={"long.txt": long_map.encode()}),
        Case("big files", ["map", "rename", "{dir}/long.txt", f"p{n - 1}", "zz"], "ok",
             files={"long.txt": long_map.encode()}),
        *[Case("error length", ["timeline", "--labels", "{dir}/junk", "--label-format", fmt],
               files={"junk": junk})
          for fmt in ("mono", "julius", "textgrid", "voicevox", "hts")],
        Case("error length", ["map", "check", "{dir}/junk"], files={"junk": b"1\n" + junk}),
        Case("error length", ["timeline", "--sequence", "a," + "1" * 100_000]),
        Case("error length", ["timeline", "--sequence", "a|" * 50_000 + ",100"]),
        Case("error length", ["timeline", "--labels", "{dir}/x.lab"],
             files={"x.lab": b"0 1 " + b"\xe3\x81\x82" * 3_000_000}),
        Case("text", ["timeline", "あ" * 10_000]),
        Case("text", ["timeline", "。" * 3000]),
    ]


def voice_cases(rng: random.Random, count: int) -> list[Case]:
    """One changed byte in the header of a reference voice (or of pyopenjtalk's mei_normal)."""
    voices = sorted((REFERENCE / "voices").glob("*.htsvoice"))
    cases = []
    alphabet = b"0123456789-,:[]\n \x00\xffAZ"
    for _ in range(count):
        source = rng.choice(voices).read_bytes()
        end = source.index(b"[DATA]\n") + len(b"[DATA]\n")
        data = bytearray(source)
        at = rng.randrange(end)
        data[at] = rng.choice(alphabet) if rng.random() < 0.7 else rng.randrange(256)
        cases.append(Case("mutated voices", ["timeline", "こんにちは", "--voice", "{dir}/v.htsvoice"],
                          "either", files={"v.htsvoice": bytes(data)}))
    # Cut short, emptied, or not a voice at all.
    whole = voices[0].read_bytes()
    for data in (whole[:1000], whole[: len(whole) // 2], b"", b"[GLOBAL]\n" * 1000, STOCK_MAP):
        cases.append(Case("mutated voices", ["timeline", "こんにちは", "--voice", "{dir}/v.htsvoice"],
                          files={"v.htsvoice": data}))
    return cases


def _wav_header(rate: int, channels: int = 1, frames: int = 1000) -> bytes:
    """A 16-bit PCM WAV whose header claims ``rate`` and ``channels`` over a few KB of data."""
    import struct

    data = b"\x01\x00" * frames
    fmt = struct.pack("<HHIIHH", 1, channels, rate, (rate * channels * 2) % 2**32, (channels * 2) % 2**16, 16)
    return (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
            + b"data" + struct.pack("<I", len(data)) + data)


def probe_cases() -> list[Case]:
    """What a probe of 1 388 parser and command-line inputs found (issue 17, item 19)."""
    cases = []
    for rate, channels in ((1, 1), (10, 1), (3999, 1), (768_001, 1), (2**31, 1), (16000, 0), (16000, 33),
                           (16000, 65535)):
        wav = _wav_header(rate, channels)
        for argv in (["align", "{dir}/x.wav", "こんにちは"], ["export", "--wav", "{dir}/x.wav", "--text",
                                                             "こんにちは", "-o", "{dir}/x.vmd"]):
            cases.append(Case("audio headers", argv, files={"x.wav": wav}))
    bad_utf8 = "\udcff\udcfeこんにちは"  # what Python makes of invalid UTF-8 in argv
    for argv in (["timeline", bad_utf8], ["curves", bad_utf8], ["say", bad_utf8, "--to", "stdout"],
                 ["export", bad_utf8, "-o", "{dir}/x.vmd"], ["plot", bad_utf8, "-o", "{dir}/x.png"],
                 ["say", "こんにちは", "--model", "ge\udcffne", "--to", "stdout"],
                 ["map", "set", "{dir}/m.txt", "\udcff", "0", "0", "0", "0"]):
        cases.append(Case("command-line text", argv, files={"m.txt": STOCK_MAP}))
    for value in ("nan", "inf", "1e-300", "0", "-1"):
        cases.append(Case("command-line numbers", ["say", "こんにちは", "--to", "stdout", "--audio", "null",
                                                   "--fps", value]))
    return cases


def all_cases(seed: int = 12, voices: int = 40) -> list[Case]:
    rng = random.Random(seed)
    return [
        *label_cases(rng), *sequence_cases(), *textgrid_cases(), *voicevox_cases(), *lipmap_cases(),
        *cli_float_cases(), *wrong_format_cases(), *big_file_cases(), *voice_cases(rng, voices),
        *probe_cases(),
    ]


# -- the worker ------------------------------------------------------------------------------


def _run(case: Case, folder: str) -> dict[str, object]:
    from lipsync.cli.main import main

    for name, data in case.files.items():
        Path(folder, name).write_bytes(data)
    argv = [a.replace("{dir}", folder) for a in case.argv]
    out, err = io.StringIO(), io.StringIO()
    began = time.thread_time()
    escaped = ""
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit:  # argparse's usage errors
            code = exit.code if isinstance(exit.code, int) else 2
        except BaseException:  # a traceback: the very thing this hunts for
            escaped = traceback.format_exc(limit=4)[-600:]
            code = -1
    return {"code": code, "cpu": time.thread_time() - began, "stderr": err.getvalue()[:2000],
            "stderr_bytes": len(err.getvalue().encode("utf-8", "replace")), "escaped": escaped}


def worker(cases_path: str, first: int, step: int, resume: int) -> None:
    with open(cases_path, "rb") as handle:
        cases: list[Case] = pickle.load(handle)
    for index in range(first, len(cases), step):
        if index < resume:
            continue
        print(json.dumps({"start": index}), flush=True)
        with tempfile.TemporaryDirectory(prefix="lipsync-hostile-") as folder:
            result = _run(cases[index], folder)
        result["index"] = index
        print(json.dumps(result), flush=True)


def encode_case(case: Case) -> str:
    """A short printable description of a case, for failure messages."""
    argv = " ".join(a if len(a) < 60 else a[:57] + "..." for a in case.argv)
    files = {name: base64.b64encode(data[:40]).decode() for name, data in case.files.items()}
    return f"[{case.area}] lipsync {argv} files={files}"


if __name__ == "__main__":
    os.environ.setdefault("LIPSYNC_HOSTILE_WORKER", "1")
    worker(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
