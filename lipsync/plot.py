"""A picture of speech to check timing by eye: waveform, phoneme spans, each morph's curve.

One time axis (seconds, the audio's clock): on top the waveform (when there is audio) with
the phoneme spans shaded and named along it; below, each morph's weight curve as
MMDAgent-EX draws it. Written as PNG or SVG with matplotlib (an optional extra:
``pip install 'lipsync-ja[plot]'``), through its object API (no pyplot, no global state).

Japanese morph names need a font with kana. The first installed font that has every
character is used; with none (matplotlib's own DejaVu has no kana), kana names are
written in romaji (あ -> a) and other names that cannot be drawn by their column number,
and the picture says so under the legend.
"""

from __future__ import annotations

import functools
import io
from typing import TYPE_CHECKING, Any

from lipsync.curves import MouthCurves
from lipsync.errors import MissingDependency, ValueRefused
from lipsync.timeline import Timeline

if TYPE_CHECKING:
    from lipsync.sound import Audio

__all__ = ["PLOT_FORMATS", "render"]

PLOT_FORMATS = ("png", "svg")
_PAUSES = frozenset({"sil", "pau"})
_KANA = dict(zip(
    "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをん",
    "a i u e o ka ki ku ke ko sa shi su se so ta chi tsu te to na ni nu ne no ha hi fu he ho "
    "ma mi mu me mo ya yu yo ra ri ru re ro wa wo n".split(), strict=True,
))


def _matplotlib() -> Any:
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise MissingDependency("plotting needs matplotlib: pip install 'lipsync-ja[plot]'") from exc
    del matplotlib
    return Figure


@functools.cache
def _font_for(text: str) -> str | None:
    """The path of an installed font that draws every character of ``text``, if any."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    wanted = {ord(c) for c in text}
    for entry in font_manager.fontManager.ttflist:
        if entry.name.startswith("Last Resort"):  # maps every character to a box
            continue
        try:
            charmap = FT2Font(entry.fname).get_charmap()
        except (OSError, RuntimeError):
            continue
        if wanted <= charmap.keys():
            return str(entry.fname)
    return None


def _labels(morphs: tuple[str, ...]) -> tuple[list[str], str | None, str | None]:
    """Legend labels, a font path for them (None: the default), and a note if names changed."""
    if _font_for("".join(morphs) + "0123456789") == _font_for("0123456789"):
        return list(morphs), None, None
    font = _font_for("".join(morphs))
    if font is not None:
        return list(morphs), font, None
    labels = []
    for index, morph in enumerate(morphs, start=1):
        if _font_for(morph) is not None:
            labels.append(morph)
        elif all(c in _KANA for c in morph):
            labels.append("".join(_KANA[c] for c in morph))
        else:
            labels.append(f"morph {index}")
    return labels, None, "no Japanese font installed: morph names in romaji"


def _envelope(audio: Audio, width: int) -> tuple[Any, Any, Any]:
    """Per-column min and max of the samples, scaled to -1..1: a waveform drawn in ``width`` steps."""
    import numpy as np

    samples = audio.samples.astype(np.float64) / 32768.0
    if not len(samples):
        return np.zeros(1), np.zeros(1), np.zeros(1)
    columns = min(width, len(samples))
    # At least one sample per column, so the starts strictly increase, as reduceat needs.
    starts = np.linspace(0, len(samples), columns + 1).astype(int)[:-1]
    low = np.minimum.reduceat(samples, starts)
    high = np.maximum.reduceat(samples, starts)
    return starts / audio.sample_rate, low, high


def render(
    timeline: Timeline,
    curves: MouthCurves,
    audio: Audio | None = None,
    *,
    format: str = "png",
    fps: float = 100.0,
    title: str | None = None,
) -> bytes:
    """The picture of ``timeline`` (its spans), ``curves`` and ``audio`` as PNG or SVG bytes."""
    if format not in PLOT_FORMATS:
        raise ValueRefused(f"plot format {format!r} is not one of {', '.join(PLOT_FORMATS)}")
    figure_class = _matplotlib()
    from matplotlib.font_manager import FontProperties

    end = max(curves.end, float(timeline.end), float(audio.duration) if audio is not None else 0.0)
    figure = figure_class(figsize=(8, 4), dpi=100, layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(1, 1.4))
    if audio is not None:
        times, low, high = _envelope(audio, 1600)
        top.fill_between(times, low, high, color="#4a4a4a", linewidth=0.4, zorder=2)
        top.set_ylim(-1.05, 1.05)
    else:
        top.set_ylim(-1.05, 1.05)
        top.text(0.99, 0.9, "no audio: spans only", transform=top.transAxes, ha="right", fontsize=7,
                 color="#777777")
    top.set_yticks([])
    top.set_ylabel("speech", fontsize=8)
    for index, phone in enumerate(timeline):
        start, stop = float(phone.start), float(phone.end)
        if phone.name not in _PAUSES:
            top.axvspan(start, stop, color="#f4c95d" if index % 2 else "#9ecae1", alpha=0.35, linewidth=0,
                        zorder=0)
        if stop - start > 0 and phone.name not in _PAUSES:
            top.text((start + stop) / 2, -0.95, phone.name, ha="center", va="bottom", fontsize=7)
    times, weights = curves.sample(fps)
    labels, font, note = _labels(curves.morphs)
    for column, label in enumerate(labels):
        bottom.plot(times, weights[:, column], linewidth=1.2, label=label)
    bottom.set_xlim(0, end)
    bottom.set_ylim(bottom=min(0.0, float(weights.min()) * 1.05) - 0.02)
    bottom.set_xlabel("time (s)", fontsize=8)
    bottom.set_ylabel("weight", fontsize=8)
    bottom.tick_params(labelsize=7)
    top.tick_params(labelsize=7)
    legend = bottom.legend(fontsize=7, loc="upper right", ncols=min(len(labels), 6),
                           prop=FontProperties(fname=font, size=7) if font else None)
    if note:
        legend.set_title(note, prop={"size": 6})
    if title:
        top.set_title(title, fontsize=9)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=format, metadata={"Software": None} if format == "png" else {"Date": None})
    return buffer.getvalue()
