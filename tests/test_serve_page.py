"""The preview page in headless Chromium: speak, see the mouth open on a vowel, closed after.

Runs wherever ``/usr/bin/chromium`` is; skips without it unless ``LIPSYNC_REQUIRE_BROWSER``
is set (CI sets it: there the browser must be present and the test must run).
"""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from serveclient import CLIENT, SERVER, serving

from lipsync.live.speaker import Speaker

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--no-first-run", "--autoplay-policy=no-user-gesture-required"]
# Resolve once the mouth opens on a vowel: then freeze the audio clock, so what is measured
# is that very moment (the page draws from the AudioContext's time, and it stands still).
FREEZE_ON_VOWEL = """() => new Promise((resolve) => {
  const mouth = document.getElementById("mouth");
  const look = () => {
    const phoneme = document.getElementById("phoneme").textContent;
    if (Number(mouth.dataset.open) > 0.5 && "aeo".includes(phoneme) && phoneme.length === 1) {
      window.lipsync.ctx.suspend().then(() => resolve(phoneme));
    } else requestAnimationFrame(look);
  };
  look();
})"""


@pytest.fixture
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("LIPSYNC_REQUIRE_BROWSER"):
            pytest.fail(f"LIPSYNC_REQUIRE_BROWSER is set but there is no browser at {CHROMIUM}")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def dark_pixels(png: bytes) -> int:
    """Pixels of the mouth's dark inside colour (#3a0a10) in a screenshot."""
    from PIL import Image

    data = Image.open(io.BytesIO(png)).convert("RGB").tobytes()
    return sum(1 for i in range(0, len(data), 3) if data[i] < 90 and data[i + 1] < 40 and data[i + 2] < 50)


@pytest.mark.parametrize("lipmap", ["", "arkit"])
def test_the_page_speaks_and_the_mouth_opens_on_a_vowel_and_closes_after(browser: Any, lipmap: str) -> None:
    with serving(Speaker(None, audio="null")) as server:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        frames: list[tuple[str, str]] = []  # every frame the page sent and received, to check

        def watch(socket: Any) -> None:
            socket.on("framesent", lambda payload: frames.append(("client", payload)))
            socket.on("framereceived", lambda payload: frames.append(("server", payload)))

        page.on("websocket", watch)
        page.goto(f"http://127.0.0.1:{server.port}/")
        page.wait_for_selector("#status[data-state=idle]")
        mouth = page.locator("#face")
        closed_before = dark_pixels(mouth.screenshot())
        page.fill("#text", "さあ、あそぼう。")
        page.select_option("#map", lipmap)
        page.click("#speak")
        vowel = page.evaluate(FREEZE_ON_VOWEL)
        assert vowel in ("a", "o")
        assert float(page.get_attribute("#mouth", "data-open") or 0) > 0.5
        open_pixels = dark_pixels(mouth.screenshot())
        page.evaluate("() => window.lipsync.ctx.resume()")
        page.wait_for_selector("#status[data-state=idle]", timeout=20_000)
        page.wait_for_function("() => Number(document.getElementById('mouth').dataset.open) === 0")
        closed_after = dark_pixels(mouth.screenshot())
        assert errors == []
    kinds = {(side, json.loads(payload)["type"]) for side, payload in frames}
    assert {("client", "say"), ("server", "hello"), ("server", "speech"), ("server", "ended")} <= kinds
    for side, payload in frames:
        (CLIENT if side == "client" else SERVER).validate(json.loads(payload))
    total = 400 * 280
    print(f"dark pixels: {closed_before} closed, {open_pixels} on {vowel!r}, {closed_after} after")
    assert closed_before < 0.01 * total and closed_after < 0.01 * total
    assert open_pixels > 0.05 * total  # the open mouth is a large dark area
