"""Big valid files are read and edited in linear time (issue 12, point 8).

Each figure is the time at 10^5 rows over the time at 10^4 in the same run: about 10 when
linear, about 100 when quadratic (10^5 label lines took over 10 minutes before). Target:
a ratio of at most 15. The fastest of the rounds is taken: on a shared machine the median
of seconds-long runs measures the neighbours more than the code.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lipsync import LipMap
from lipsync.labels.segments import read_segments


def _mono(n: int) -> str:
    return "".join(f"{i * 1000} {(i + 1) * 1000} a\n" for i in range(n))


def _tall_map(n: int) -> str:
    return "1\nあ\n" + f"{n}\n" + "".join(f"p{i} 0.5\n" for i in range(n))


def _wide_map(n: int) -> str:
    return f"{n}\n" + "\n".join(f"m{i}" for i in range(n)) + "\n1\na " + " ".join(["0"] * n) + "\n"


CASES: dict[str, tuple[Callable[[int], object], Callable[[object], object]]] = {
    "read a mono label": (_mono, lambda text: read_segments(text, "x")),  # type: ignore[arg-type]
    "check a lip map of many rows": (_tall_map, LipMap.parse),  # type: ignore[dict-item]
    "check a lip map of many morphs": (_wide_map, LipMap.parse),  # type: ignore[dict-item]
    "add a morph to every row": (lambda n: LipMap.parse(_tall_map(n)), lambda m: m.add_morph("い")),  # type: ignore[attr-defined]
    "rename the last row": (
        lambda n: LipMap.parse(_tall_map(n)), lambda m: m.rename_phoneme(m.phonemes[-1], "zz"),  # type: ignore[attr-defined]
    ),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("rows", [10_000, 100_000])
def test_big_files_scale_linearly(benchmark, figures, name: str, rows: int) -> None:
    make, work = CASES[name]
    subject = make(rows)
    benchmark.pedantic(work, args=(subject,), rounds=3, iterations=1)
    label = f"{name}, {rows} rows"
    if rows == 10_000:
        figures.add(label, benchmark.stats.stats.min)
    else:
        figures.add(label, benchmark.stats.stats.min, baseline=f"{name}, 10000 rows",
                    target="≤ 15 × the 10^4 time (linear)", check=lambda v, b: b is not None and v <= 15 * b)
