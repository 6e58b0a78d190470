"""Lip map and start-up costs. Targets: parse of the stock map <= 2 ms warm; import <= 100 ms."""

from __future__ import annotations

import subprocess
import sys

from conftest import REFERENCE

from lipsync import LipMap

STOCK = REFERENCE / "lip" / "mmdagent-ex-default.lip.txt"


def test_parse_stock_map(benchmark):
    data = STOCK.read_bytes()
    LipMap.parse(data)  # warm: the grammar is built once per process
    result = benchmark(LipMap.parse, data)
    assert len(result.phonemes) == 69


def _python(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], check=True)


def test_python_startup_baseline(benchmark):
    benchmark.pedantic(_python, args=("pass",), rounds=15, warmup_rounds=2)


def test_import_lipsync(benchmark):
    benchmark.pedantic(_python, args=("import lipsync",), rounds=15, warmup_rounds=2)


def test_lipsync_help(benchmark):
    benchmark.pedantic(_python, args=("from lipsync.cli import main; import contextlib, io\n"
                                      "with contextlib.redirect_stdout(io.StringIO()):\n"
                                      "    try: main(['--help'])\n"
                                      "    except SystemExit: pass",),
                       rounds=15, warmup_rounds=2)
