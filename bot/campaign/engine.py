"""The call machinery a process shares between its campaigns: one Controller (one AMI link, one
FastAGI server), one Vosk model per model a script names (bot.speech.models), and one prompt
synthesizer per speaking rate. `collbot run` and
`collbot serve` both place their calls through it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path

from bot.campaign.load import Governor, ramp, thresholds
from bot.campaign.runner import CampaignRunner, Clock, Progress
from bot.campaign.spec import Campaign, Round, script_for
from bot.config import Settings
from bot.controller import Controller
from bot.dialogue.compiler import CompiledScript
from bot.domain import CallResult, Debtor, Outcome
from bot.metrics import REGISTRY
from bot.phone import normalize
from bot.speech.models import Recognizers, model_dir_for
from bot.speech.pressure import RECOGNITION_WAIT
from bot.speech.tts import Synthesizer
from bot.store.repo import Store


def normalizer(settings: Settings) -> Callable[[str], str]:
    return lambda raw: normalize(raw, default_region=settings.dial.default_region,
                                 allowed_countries=settings.dial.allowed_countries)


class CallEngine:
    """Use as ``async with CallEngine(settings, store) as engine``; then ``engine.runner(...)``."""

    def __init__(self, settings: Settings, store: Store):
        self.settings = settings
        self.store = store
        self._stack = AsyncExitStack()
        self._synth_stack = AsyncExitStack()
        self._synths: dict[int, Synthesizer] = {}
        self._controller: Controller | None = None
        self.models = Recognizers(settings)
        self.governor: Governor | None = None

    @property
    def controller(self) -> Controller:
        if self._controller is None:
            raise RuntimeError("the call engine is not started")
        return self._controller

    async def __aenter__(self) -> CallEngine:
        s = self.settings
        try:
            await self._stack.enter_async_context(self._synth_stack)  # closed last: after the controller
            await self._stack.enter_async_context(self.models)
            recognizer = await self.models.get(model_dir_for(s, None))
            self._controller = await self._stack.enter_async_context(Controller(
                s, self.store, script=None, recognizer=recognizer, synth=await self._synth(s.tts.rate)))
            if s.governor.enabled:
                self.governor = await self._stack.enter_async_context(self._governor(self._controller))
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    def _governor(self, controller: Controller) -> Governor:
        """One per process: every campaign's calls share the same CPU, recognizer and Asterisk."""
        g = self.settings.governor
        return Governor(
            thresholds(g), interval_s=g.sample_s, warn_after_s=g.warn_after_s,
            recognition_queue=lambda: int(REGISTRY.get_sample_value("collbot_recognition_queue_depth") or 0),
            recognition_wait=RECOGNITION_WAIT.value,
            synthesis_queue=lambda: sum(synth.queued for synth in self._synths.values()),
            asterisk_calls=controller.ami.current_calls if g.max_asterisk_calls else None,
            asterisk_every_s=g.asterisk_poll_s, ramp=ramp(g),
            in_flight=lambda: int(REGISTRY.get_sample_value("collbot_calls_in_flight") or 0))

    async def _synth(self, rate: int) -> Synthesizer:
        synth = self._synths.get(rate)
        if synth is None:
            s = self.settings
            synth = await self._synth_stack.enter_async_context(Synthesizer(
                s.tts_cache_dir(), rate=rate, workers=s.tts.workers, shape=s.prompt_shape()))
            self._synths[rate] = synth
        return synth

    async def runner(self, campaign: Campaign, scripts: dict[Path, CompiledScript], *,
                     on_progress: Callable[[Progress], None] | None = None, clock: Clock | None = None,
                     ) -> CampaignRunner:
        """A runner for ``campaign`` whose calls go through this engine (scripts already checked)."""
        controller = self.controller
        synths = {path: await self._synth(compiled.script.rate or self.settings.tts.rate)
                  for path, compiled in scripts.items()}
        recognizers = {path: await self.models.get(model_dir_for(self.settings, compiled.script.asr_model,
                                                                 script=path))
                       for path, compiled in scripts.items()}

        async def place(attempt_id: str, debtor: Debtor, rnd: Round) -> tuple[CallResult, Outcome | None]:
            path = script_for(campaign, rnd.script, debtor.language)
            if path is None:  # the runner skips such debtors before claiming; never the wrong script
                raise ValueError(f"no script for language {debtor.language!r}")
            report = await controller.call(debtor, attempt_id=attempt_id, script=scripts[path], synth=synths[path],
                                           recognizer=recognizers[path], ring_timeout_s=rnd.ring_timeout_s,
                                           caller_id=rnd.caller_id)
            return report.result, report.outcome

        return CampaignRunner(campaign, self.store, place=place, normalize=normalizer(self.settings),
                              clock=clock, on_progress=on_progress, asterisk=controller.ami,
                              ready=lambda: controller.ami.connected, controller=self.settings.controller.name(),
                              lease=dt.timedelta(seconds=self.settings.controller.lease_s),
                              exclusive=self.settings.database.url.startswith("sqlite"),
                              governor=self.governor)
