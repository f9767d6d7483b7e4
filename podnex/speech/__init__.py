"""Speech engines, chosen per request by `ttsProvider`.

Each engine lives in its own module and implements `podnex.speech.base.SpeechEngine`;
`podnex.providers.SPEECH_PROVIDERS` declares each one (name, factory, limits, languages,
speaking rate) and TTS_PROVIDERS says which ones a deployment enables.
"""
