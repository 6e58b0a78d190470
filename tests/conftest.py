"""Shared fixtures: the reference files in ../shared beside the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference"
LIP_FILES = sorted((REFERENCE / "lip").glob("*.txt"))
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def pytest_configure(config: pytest.Config) -> None:
    if not LIP_FILES:
        raise pytest.UsageError(f"the reference files are missing: expected them in {REFERENCE}")
