"""Shared fixtures: the reference files in tests/fixtures/reference (see its README for sources
and licences) and MMDAgent-EX's stock map, data/lip.txt."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
REFERENCE = FIXTURES / "reference"
#: MMDAgent-EX's stock lip.txt, as the repository keeps it (and the wheel installs it).
STOCK_MAP = ROOT / "data" / "lip.txt"
LIP_FILES = sorted([STOCK_MAP, *(REFERENCE / "lip").glob("*.txt")])
