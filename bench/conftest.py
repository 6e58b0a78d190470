"""Benchmarks: ``pytest bench --benchmark-only`` runs them all and ends with the README table.

Each benchmark records its figures with ``figures.add``; a figure may name a baseline
measured in the same run, and the table shows the ratio to it and whether the target holds.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "fixtures" / "reference"
STOCK_MAP = ROOT / "data" / "lip.txt"
sys.path.insert(0, str(ROOT / "tests"))


@dataclass
class Figure:
    name: str
    value: float
    unit: str  # "s" or "B"
    baseline: str | None
    target: str
    check: Callable[[float, float | None], bool] | None


class Figures:
    def __init__(self) -> None:
        self.rows: dict[str, Figure] = {}

    def add(
        self, name: str, value: float, unit: str = "s", *, baseline: str | None = None, target: str = "",
        check: Callable[[float, float | None], bool] | None = None,
    ) -> None:
        self.rows[name] = Figure(name, value, unit, baseline, target, check)

    def table(self) -> list[str]:
        lines = [
            f"Machine: {platform.machine()}, {_cores()} cores, Python {platform.python_version()}, "
            f"{platform.system()}",
            "",
            "| figure | value | baseline (same run) | ratio | target | met |",
            "| --- | ---: | --- | ---: | --- | --- |",
        ]
        for row in self.rows.values():
            base = self.rows.get(row.baseline) if row.baseline else None
            ratio = f"{row.value / base.value:.3f}" if base and base.value else ""
            met = ""
            if row.check is not None:
                met = "yes" if row.check(row.value, base.value if base else None) else "**no**"
            shown_base = f"{base.name}: {_show(base.value, base.unit)}" if base else ""
            lines.append(f"| {row.name} | {_show(row.value, row.unit)} | {shown_base} | {ratio} | "
                         f"{row.target} | {met} |")
        return lines


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


def _show(value: float, unit: str) -> str:
    if unit == "B":
        return f"{value / 2**20:.1f} MB"
    if unit == "s":
        return f"{value * 1000:.2f} ms" if value < 1 else f"{value:.2f} s"
    return f"{value:.3g} {unit}"


_FIGURES = Figures()


@pytest.fixture(scope="session")
def figures() -> Figures:
    return _FIGURES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _FIGURES.rows:
        terminalreporter.section("lipsync figures (for the README)")
        for line in _FIGURES.table():
            terminalreporter.write_line(line)
