"""Japanese text -> speech and its timeline, offline, with Open JTalk (pyopenjtalk-plus).

The durations are the HTS engine's own: pyopenjtalk returns none, but its ``htsengine``
extension links the whole hts_engine C API, which we call through ctypes to run only the
state-duration step (about a millisecond). Audio comes from pyopenjtalk's engine with the same
labels, voice and speed, and every run checks that the durations add up to the audio length
exactly, in frames.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import threading
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any

from lipsync._numbers import short
from lipsync.errors import MissingDependency, SourceError, SynthesisError, ValueRefused
from lipsync.labels.segments import OPEN_JTALK_LABEL, full_context_phoneme
from lipsync.sound import Audio
from lipsync.speech.htsvoice import check_voice
from lipsync.speech.stderr import captured
from lipsync.timeline import Timeline

__all__ = [
    "MAX_TEXT_CHARS", "accent_phrases", "check_half_tone", "check_speed", "durations_one", "frontend_words",
    "labels_for",
    "synthesize_one", "time_labels",
]

#: The longest text Open JTalk is given at once (about 1.5 s of its front end's time).
MAX_TEXT_CHARS = 2000

_ENGINE_BYTES = 4096  # HTS_Engine is 424 bytes in hts_engine API 1.10: leave ample room
_module: ModuleType | None = None
#: Loaded engines not in use, per voice file. An engine serves one synthesis at a time; a
#: second at once (a new utterance while a stopped one's last piece is still being made)
#: loads another rather than wait for it, and both run, the GIL released, on their own cores.
_idle: dict[bytes, list[_Voice]] = {}
_pool = threading.Lock()


def _pyopenjtalk() -> ModuleType:
    global _module
    if _module is None:
        try:
            # pyopenjtalk-plus prints a notice about ONNX Runtime on import: keep stdout ours.
            with contextlib.redirect_stdout(io.StringIO()):
                import pyopenjtalk
        except ImportError as exc:
            raise MissingDependency.needs("Open JTalk", package="pyopenjtalk-plus") from exc
        _module = pyopenjtalk
    return _module


class _Voice:
    """One .htsvoice: a ctypes HTS engine for durations and pyopenjtalk's for audio."""

    def __init__(self, path: bytes) -> None:
        from pyopenjtalk import htsengine

        self.lib = ctypes.CDLL(htsengine.__file__)
        self._declare()
        self.buffer = ctypes.create_string_buffer(_ENGINE_BYTES)
        self.engine = ctypes.cast(self.buffer, ctypes.c_void_p)
        self.lib.HTS_Engine_initialize(self.engine)
        voices = (ctypes.c_char_p * 1)(path)
        with captured():
            loaded = self.lib.HTS_Engine_load(self.engine, voices, 1)
        if not loaded:
            raise ValueRefused(f"{path.decode(errors='replace')}: cannot load as an HTS voice")
        self.sample_rate = int(self.lib.HTS_Engine_get_sampling_frequency(self.engine))
        self.fperiod = int(self.lib.HTS_Engine_get_fperiod(self.engine))
        try:
            with captured():
                self.audio_engine: Any = htsengine.HTSEngine(path)
        except RuntimeError as exc:
            raise ValueRefused(f"{path.decode(errors='replace')}: cannot load as an HTS voice") from exc

    def _declare(self) -> None:
        p, size, boolean = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_ubyte  # HTS_Boolean: char
        strings = ctypes.POINTER(ctypes.c_char_p)
        for name, result, args in (
            ("HTS_Engine_initialize", None, [p]),
            ("HTS_Engine_load", boolean, [p, strings, size]),
            ("HTS_Engine_set_speed", None, [p, ctypes.c_double]),
            ("HTS_Engine_generate_state_sequence_from_strings", boolean, [p, strings, size]),
            ("HTS_Engine_get_nstate", size, [p]),
            ("HTS_Engine_get_total_state", size, [p]),
            ("HTS_Engine_get_state_duration", size, [p, size]),
            ("HTS_Engine_get_fperiod", size, [p]),
            ("HTS_Engine_get_sampling_frequency", size, [p]),
            ("HTS_Engine_refresh", None, [p]),
        ):
            function = getattr(self.lib, name)
            function.restype = result
            function.argtypes = args

    def frames(self, labels: list[str], speed: float) -> list[int]:
        """Frames per label, as the engine's state-duration step gives them."""
        lib, engine = self.lib, self.engine
        encoded = (ctypes.c_char_p * len(labels))(*(label.encode() for label in labels))
        lib.HTS_Engine_set_speed(engine, ctypes.c_double(speed))
        with captured():
            generated = lib.HTS_Engine_generate_state_sequence_from_strings(engine, encoded, len(labels))
        if not generated:
            lib.HTS_Engine_refresh(engine)
            raise SynthesisError("the HTS engine could not time these labels")
        try:
            nstate = int(lib.HTS_Engine_get_nstate(engine))
            total = int(lib.HTS_Engine_get_total_state(engine))
            states = [int(lib.HTS_Engine_get_state_duration(engine, i)) for i in range(total)]
        finally:
            lib.HTS_Engine_refresh(engine)
        if total != nstate * len(labels):
            raise SynthesisError(f"the HTS engine gave {total} states for {len(labels)} labels")
        return [sum(states[i * nstate : (i + 1) * nstate]) for i in range(len(labels))]


@contextlib.contextmanager
def _engine(path: str | Path | None) -> Iterator[_Voice]:
    """An engine for the voice at ``path`` (default: mei_normal), to itself until the block ends."""
    jtalk = _pyopenjtalk()
    key = jtalk.DEFAULT_HTS_VOICE if path is None else str(Path(path)).encode()
    if isinstance(key, str):
        key = key.encode()
    with _pool:
        idle = _idle.get(key)
        voice = idle.pop() if idle else None
    if voice is None:
        voice = _load(key, path)
    try:
        yield voice
    finally:
        with _pool:
            _idle.setdefault(key, []).append(voice)


def _load(key: bytes, path: str | Path | None) -> _Voice:
    if path is not None:
        if not Path(path).is_file():
            raise ValueRefused(f"{path}: no such voice file")
        try:
            check_voice(path)  # a broken header would crash the C engine, not raise
        except SourceError as exc:
            raise ValueRefused(
                f"{path}: cannot load as an HTS voice: line {exc.line}: {exc.message}"
            ) from None
    return _Voice(key)


def labels_for(text: str) -> list[str]:
    """Open JTalk's full-context labels for Japanese ``text`` (at most ``MAX_TEXT_CHARS``).

    Open JTalk's front end takes time growing with the square of the text's length (3 000
    characters: seconds) and fails past about 5 000: longer text is refused, to be split
    into sentences by the caller.
    """
    if not text.strip():
        raise ValueRefused("nothing to say: the text is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueRefused(
            f"the text is {len(text)} characters: Open JTalk takes at most {MAX_TEXT_CHARS} at "
            "once (split it into sentences)"
        )
    jtalk = _pyopenjtalk()
    try:
        with captured():  # Open JTalk's C warnings: one logged line each, not a line per mora
            labels: list[str] = jtalk.extract_fullcontext(text)
    except RuntimeError as exc:
        raise SynthesisError(f"Open JTalk could not read the text: {str(exc)[:100]}") from exc
    if len(labels) < 3:  # sil ... sil around at least one phoneme
        raise ValueRefused(f"nothing to say in {short(text)}: Open JTalk found no speech")
    return labels


def accent_phrases(text: str) -> list[str]:
    """``text`` as Open JTalk reads it, cut into its accent phrases (the best places to pause).

    The phrases joined are the text after Open JTalk's own normalisation (half-width letters
    become full-width), which it reads the same way.
    """
    jtalk = _pyopenjtalk()
    with captured():
        features = jtalk.run_frontend(text)  # pyopenjtalk lends its front end to each thread
    phrases: list[str] = []
    for feature in features:
        if feature["chain_flag"] == 1 and phrases:
            phrases[-1] += feature["string"]
        else:
            phrases.append(feature["string"])
    return phrases


def frontend_words(text: str) -> list[tuple[str, str, int]]:
    """Open JTalk's words of ``text``: (surface, reading in katakana, morae), punctuation left out."""
    words: list[tuple[str, str, int]] = []
    for feature in _pyopenjtalk().run_frontend(text):
        size = int(feature["mora_size"])
        if size > 0:
            words.append((str(feature["string"]), str(feature["pron"]).replace("’", ""), size))
    return words


def check_speed(speed: float) -> None:
    if not 0.1 <= speed <= 10:  # also refuses NaN
        raise ValueRefused(f"speed {speed} is out of range (0.1 to 10)")


def check_half_tone(half_tone: float) -> None:
    if not -48 <= half_tone <= 48:  # also refuses NaN
        raise ValueRefused(f"half tone {half_tone} is out of range (-48 to 48)")


def _timeline(labels: list[str], frames: list[int], voice: _Voice, source: str) -> Timeline:
    spans = []
    for index, (label, count) in enumerate(zip(labels, frames, strict=True)):
        name = full_context_phoneme(label)
        if name is None:
            raise SourceError(source, index + 1, 1, "expected a full-context label (p1^p2-p3+p4=p5/A:...)")
        spans.append((name, Fraction(count * voice.fperiod, voice.sample_rate)))
    return Timeline(spans, allow_empty=True)


def durations_one(text: str, *, voice: str | Path | None = None, speed: float = 1.0) -> Timeline:
    """The timeline Open JTalk would speak ``text`` with (one call: ``MAX_TEXT_CHARS`` at most)."""
    check_speed(speed)
    labels = labels_for(text)
    with _engine(voice) as engine:
        frames = engine.frames(labels, speed)
    return _timeline(labels, frames, engine, "<text>")


def time_labels(
    labels: list[str], *, voice: str | Path | None = None, speed: float = 1.0, source: str = "<labels>"
) -> Timeline:
    """Time untimed full-context labels with the HTS engine's durations."""
    check_speed(speed)
    for index, label in enumerate(labels):
        # The engine crashes (SIGSEGV) on a label it cannot parse: check each first.
        if not OPEN_JTALK_LABEL.match(label):
            raise SourceError(source, index + 1, 1, "expected an Open JTalk full-context label "
                              f"(p1^p2-p3+p4=p5/A:.../K:...), found {label[:40]!r}")
    with _engine(voice) as engine:
        frames = engine.frames(labels, speed)
    return _timeline(labels, frames, engine, source)


def synthesize_one(
    text: str, *, voice: str | Path | None = None, speed: float = 1.0, half_tone: float = 0.0
) -> tuple[Audio, Timeline]:
    """Speak ``text`` in one call of the engine: the audio and the timeline of exactly that audio."""
    check_speed(speed)
    check_half_tone(half_tone)
    labels = labels_for(text)
    with _engine(voice) as engine:
        frames = engine.frames(labels, speed)
        audio_engine = engine.audio_engine
        audio_engine.set_speed(speed)
        audio_engine.add_half_tone(half_tone)
        with captured():
            samples = audio_engine.synthesize(labels)
    expected = sum(frames) * engine.fperiod
    if len(samples) != expected:
        raise SynthesisError(
            f"Open JTalk's audio has {len(samples)} samples but its durations add up to {expected}"
        )
    return Audio.from_float(samples, engine.sample_rate), _timeline(labels, frames, engine, "<text>")
