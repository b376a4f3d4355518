"""Understanding what a customer said: from heard text to an intent, no_match or no_input.

Entry point (pure; used by the dialogue and by bench/understanding.py)::

    step = StepModel("ko", [IntentSpec("promise", Kind.PROMISE, ["내일 낼게요"], {"promise_date": "date"})])
    understand("모레 낼게요", 0.8, step, today)  # -> Understanding(result=INTENT, intent='promise', slots=...)

``bot.dialogue.listening.step_models(script)`` builds the StepModel of every listen step of
a checked script. Imports neither panoramisk nor SQLAlchemy.
"""

from .model import IntentSpec, Policy, StepModel, kind_scores, understand
from .result import Kind, Result, Understanding

__all__ = ["IntentSpec", "Kind", "Policy", "Result", "StepModel", "Understanding", "kind_scores", "understand"]
