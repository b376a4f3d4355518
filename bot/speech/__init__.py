"""Speech: prompt synthesis (espeak-ng via pyttsx3), recognition (Vosk) and turn endpointing.

Submodules are imported directly (``bot.speech.asr``, ``bot.speech.tts``, ``bot.speech.endpoint``)
so that importing one does not load the others' engines.
"""
