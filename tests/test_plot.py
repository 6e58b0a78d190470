"""``lipsync plot``: a PNG whose size and pixels are checked, SVG, and the missing-extra hint."""

from __future__ import annotations

import io
import sys

import pytest

from lipsync import MissingDependency, Timeline, load_map, mouth_curves
from lipsync.cli.main import main

image = pytest.importorskip("matplotlib.image", reason="matplotlib (the plot extra) is not installed")

SEQUENCE = "sil,200,k,75,o,120,N,75,n,75,i,90,ch,75,i,87,w,60,a,150,sil,200"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def dark_pixels(pixels, rows):
    """Pixels darker than the waveform's grey in a band of rows (all columns inside the frame)."""
    band = pixels[rows[0] : rows[1], 50:790, :3]
    return int((band.max(axis=2) < 0.45).sum())


def test_png_of_synthesised_speech_shows_the_waveform_and_curves(capsys, tmp_path):
    target = tmp_path / "speech.png"
    code, _, err = run(capsys, "plot", "こんにちは", "-o", target)
    assert code == 0, err
    data = target.read_bytes()
    assert data.startswith(b"\x89PNG") and 20_000 < len(data) < 150_000
    pixels = image.imread(io.BytesIO(data))
    assert pixels.shape[:2] == (400, 800)
    without = tmp_path / "spans.png"
    assert run(capsys, "plot", "--sequence", SEQUENCE, "-o", without)[0] == 0
    spans_only = image.imread(str(without))
    # The waveform band (top panel) is full of grey where there is audio, nearly empty without.
    assert dark_pixels(pixels, (30, 120)) > 5 * max(dark_pixels(spans_only, (30, 120)), 100)
    # The curves (bottom panel) are coloured lines: pixels whose channels differ a lot.
    lower = pixels[180:360, 50:790, :3]
    coloured = (lower.max(axis=2) - lower.min(axis=2)) > 0.3
    assert coloured.sum() > 500


def test_svg_and_refusals(capsys, tmp_path):
    svg = tmp_path / "s.svg"
    assert run(capsys, "plot", "--sequence", SEQUENCE, "--map", "vrm", "-o", svg)[0] == 0
    text = svg.read_text()
    assert "<svg" in text and "aa" in text  # the legend names the morphs
    code, _, err = run(capsys, "plot", "--sequence", SEQUENCE, "-o", tmp_path / "s.gif")
    assert code == 2 and ".png or .svg" in err
    assert not (tmp_path / "s.gif").exists()


def test_missing_matplotlib_names_the_extra(monkeypatch):
    from lipsync.plot import render

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    timeline = Timeline.from_sequence(SEQUENCE)
    with pytest.raises(MissingDependency, match=r"pip install 'lipsync-ja\[plot\]'"):
        render(timeline, mouth_curves(timeline, load_map()))


def test_recorded_speech_is_aligned_to_its_text_and_drawn(capsys, tmp_path):
    from lipsync import synthesize

    audio, _ = synthesize("こんにちは")
    wav = tmp_path / "take.wav"
    audio.save_wav(wav)
    target = tmp_path / "take.png"
    code, _, err = run(capsys, "plot", "--wav", wav, "--text", "こんにちは", "-o", target)
    assert code == 0, err
    pixels = image.imread(str(target))
    assert dark_pixels(pixels, (30, 120)) > 500  # the recording's waveform is drawn
