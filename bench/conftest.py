"""Benchmarks: run with ``pytest bench --benchmark-only`` (not part of CI's pass/fail)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference"
sys.path.insert(0, str(ROOT / "tests"))
