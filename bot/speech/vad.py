"""Frame-level voice activity: is this 20 ms of call audio speech?

Two engines behind one small protocol. ``webrtc`` (webrtcvad-wheels, a GMM in C) is the
default: ~10 us a frame and, measured on espeak-ng speech with line noise
(bench/vad.py, docs/performance.md), as accurate here as ``silero`` (its ONNX model, run
with onnxruntime), which costs ~50x more a frame. Both are blocking C calls: the turn
listener runs them in a worker pool, never on the event loop. One instance per call
(both keep state between frames).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import ClassVar, Literal, Protocol

from bot.errors import SpeechError

SAMPLE_RATE = 8000
FRAME_BYTES = 320  # 20 ms
VadEngine = Literal["webrtc", "silero"]


class Vad(Protocol):
    def speech(self, frame: bytes) -> float:
        """Speech likelihood of one 20 ms frame, 0-1."""
        ...


class WebRtcVad:
    """webrtcvad's detector; ``aggressiveness`` 0 (keeps most speech) to 3 (drops most noise)."""

    def __init__(self, aggressiveness: int = 2):
        try:
            import webrtcvad
        except ImportError as exc:  # pragma: no cover - a dependency
            raise SpeechError("webrtcvad-wheels is not installed") from exc
        self._vad = webrtcvad.Vad(aggressiveness)

    def speech(self, frame: bytes) -> float:
        return 1.0 if self._vad.is_speech(frame, SAMPLE_RATE) else 0.0


def silero_model_path() -> Path:
    """The ONNX model the silero-vad wheel ships."""
    # find_spec does not run the package, whose __init__ imports torch.
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise SpeechError("silero-vad is not installed (pip install silero-vad --no-deps)")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.onnx"
    if not path.is_file():
        raise SpeechError(f"silero-vad's model is missing: {path}")
    return path


class SileroVad:
    """Silero's model at 8 kHz: it judges 256-sample windows (32 ms) with 32 samples of
    context, so a 20 ms frame gets the likelihood of the last window that ended in it."""

    WINDOW = 256
    CONTEXT = 32
    _sessions: ClassVar[dict[Path, object]] = {}

    def __init__(self) -> None:
        import numpy as np
        try:
            import onnxruntime
        except ImportError as exc:  # pragma: no cover - optional
            raise SpeechError("onnxruntime is not installed") from exc
        path = silero_model_path()
        if path not in self._sessions:
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            self._sessions[path] = onnxruntime.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"])
        self._session = self._sessions[path]
        self._np = np
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)
        self._context = np.zeros(self.CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._last = 0.0

    def speech(self, frame: bytes) -> float:
        np = self._np
        samples = np.frombuffer(frame, dtype="<i2").astype(np.float32) / 32768.0
        self._pending = np.concatenate([self._pending, samples])
        while len(self._pending) >= self.WINDOW:
            window, self._pending = self._pending[: self.WINDOW], self._pending[self.WINDOW:]
            x = np.concatenate([self._context, window])[None, :]
            out, self._state = self._session.run(  # type: ignore[attr-defined]
                None, {"input": x, "state": self._state, "sr": self._sr})
            self._context = window[-self.CONTEXT:]
            self._last = float(out[0][0])
        return self._last


def make_vad(engine: VadEngine, aggressiveness: int = 2) -> Vad:
    if engine == "silero":
        return SileroVad()
    return WebRtcVad(aggressiveness)
