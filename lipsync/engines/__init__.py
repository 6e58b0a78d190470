"""Live voices: local TTS engines over HTTP as a source of speech, chosen by URL scheme.

- ``voicevox://HOST:PORT`` (default 127.0.0.1:50021): VOICEVOX; timing from its AudioQuery,
  exact to the engine's 256-sample frame, checked against its audio (``voicevox``).
- ``aivisspeech://HOST:PORT`` (10101): AivisSpeech; its queries carry no timing: its audio is
  aligned to the query's phonemes (``voicevox``).
- ``sbv2://HOST:PORT`` (5000): Style-Bert-VITS2's API server; audio only, aligned to its text (``sbv2``).
- ``coeiroink://HOST:PORT`` (50032): COEIROINK v2; its raw audio, timed by its own sample
  ranges (``coeiroink``).

``open_engine(url, speaker=..., speed=...)`` gives an ``Engine`` (nothing connects until the
first request); ``Engine.speak(text)`` one piece of speech (``Piece``: audio and the timeline
of exactly that audio). ``lipsync.engines.stream`` speaks text of any length sentence by
sentence (what ``Speaker(tts=...)`` plays) or whole. HTTP goes through the standard
library (``lipsync.engines.http``): errors name the engine and what it answered; no engine
at the URL is ``EngineUnreachable`` (exit 3), saying how to start one; a speaker it lacks is
``UnknownSpeaker``, with the list it offers.
"""

from __future__ import annotations

import importlib
import re
from typing import TYPE_CHECKING, Any

from lipsync.errors import ValueRefused

if TYPE_CHECKING:
    from lipsync.engines.base import Engine, EngineVoice

__all__ = ["SCHEMES", "engine_of", "is_engine_url", "open_engine"]

#: Each URL scheme's engine: (module, class).
SCHEMES = {
    "voicevox": ("voicevox", "VoicevoxEngine"),
    "aivisspeech": ("voicevox", "AivisSpeechEngine"),
    "sbv2": ("sbv2", "StyleBertVits2Engine"),
    "coeiroink": ("coeiroink", "CoeiroinkEngine"),
}
_URL = re.compile(r"(?P<scheme>[a-z0-9]+)://(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+)?"
                  r"(?::(?P<port>\d{1,5}))?(?P<prefix>(?:/[A-Za-z0-9._~\-]+)*)/?\Z")


def is_engine_url(url: str) -> bool:
    """Whether ``url`` names a TTS engine by one of ``SCHEMES``."""
    return url.partition("://")[0] in SCHEMES and "://" in url


def open_engine(
    url: str, voice: EngineVoice | None = None, *, timeout: float = 60.0, **settings: Any
) -> Engine:
    """The engine at ``url`` (its scheme picks it), speaking with ``voice`` or ``settings``.

    ``settings`` are ``EngineVoice``'s (``speaker=3, speed=1.1, ...``); give one or the
    other. ``timeout``: the longest wait for one answer (a first synthesis may load a model).
    The host defaults to 127.0.0.1 and the port to the engine's own; a path is kept as a
    prefix (an engine behind a proxy).
    """
    from lipsync.engines.base import EngineVoice

    if voice is not None and settings:
        raise ValueRefused("give the engine's voice or its settings, not both")
    match = _URL.match(url) if isinstance(url, str) else None
    port = int(match["port"]) if match and match["port"] else None
    if match is None or match["scheme"] not in SCHEMES or (port is not None and not 0 < port <= 65535):
        raise ValueRefused(f"cannot use {url!r} as a TTS engine: expected "
                           f"{', '.join(f'{s}://HOST:PORT' for s in SCHEMES)}")
    module, name = SCHEMES[match["scheme"]]
    cls = getattr(importlib.import_module(f"lipsync.engines.{module}"), name)
    if not (timeout > 0 and timeout <= 3600):
        raise ValueRefused(f"timeout {timeout!r} s: expected above 0 and at most 3600")
    host = (match["host"] or "127.0.0.1").strip("[]")
    engine: Engine = cls(host, port or cls.default_port, match["prefix"] or "",
                         voice if voice is not None else EngineVoice(**settings), timeout=timeout)
    return engine


def engine_of(tts: Engine | str | None) -> Engine | None:
    """The engine ``tts`` names (a URL: its first speaker), or ``tts`` itself."""
    return open_engine(tts) if isinstance(tts, str) else tts
