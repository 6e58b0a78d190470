"""Lip map and start-up costs. Targets: parse of the stock map <= 2 ms warm; import <= 100 ms."""

from __future__ import annotations

import subprocess
import sys

from conftest import STOCK_MAP

from lipsync import LipMap

STOCK = STOCK_MAP


def test_parse_stock_map(benchmark, figures):
    data = STOCK.read_bytes()
    LipMap.parse(data)  # warm: the grammar is built once per process
    result = benchmark(LipMap.parse, data)
    assert len(result.phonemes) == 69
    figures.add("parse the stock lip.txt (warm)", benchmark.stats.stats.median,
                target="≤ 2 ms", check=lambda v, b: v <= 0.002)


def _python(*args: str) -> None:
    subprocess.run([sys.executable, *args], check=True, capture_output=True)


def test_python_startup_baseline(benchmark, figures):
    benchmark.pedantic(_python, args=("-c", "pass"), rounds=15, warmup_rounds=2)
    figures.add("bare `python -c pass`", benchmark.stats.stats.median)


def test_import_lipsync(benchmark, figures):
    benchmark.pedantic(_python, args=("-c", "import lipsync"), rounds=15, warmup_rounds=2)
    figures.add("`python -c 'import lipsync'`", benchmark.stats.stats.median,
                baseline="bare `python -c pass`",
                target="≤ 100 ms more than bare", check=lambda v, b: b is not None and v - b <= 0.1)


def test_lipsync_help(benchmark, figures):
    benchmark.pedantic(_python, args=("-m", "lipsync", "--help"), rounds=15, warmup_rounds=2)
    figures.add("`python -m lipsync --help`", benchmark.stats.stats.median, baseline="bare `python -c pass`",
                target="≤ 150 ms more than bare", check=lambda v, b: b is not None and v - b <= 0.15)
