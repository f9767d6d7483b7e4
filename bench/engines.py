"""Speech engines for the benchmarks, swapped into the real worker's ``deps.engines``.

Both answer to the provider name ``espeak`` (a request's default ``ttsProvider``), so the
API, the workflow and the per-provider speech task queue run exactly as in production.

:class:`CloudLikeEngine` models a cloud text-to-speech API's latency. The model is a fixed
delay plus a delay per character of text::

    latency = 0.40 s + 5 ms * len(text)

It reproduces Deepgram's published worked example of a complete (non-streamed) request,
745 ms of total latency for the 70-character sentence "Welcome to Deepgram! We offer
essential building blocks for voice AI." (Text to Speech Latency,
https://developers.deepgram.com/docs/minimizing-text-to-speech-latency): 0.40 + 0.005 *
70 = 0.75 s. How the total splits between its fixed part (network, time to first byte)
and its per-character part (synthesis) is this benchmark's assumption. The audio itself is
real espeak-ng speech, made while the delay runs, so combine sees real lines.

:class:`ZeroCostEngine` answers at once with one pre-made, very short line per voice ("Hm.",
about half a second): speech costs nothing and adds little audio, while storage,
combine (of the lines and their pauses) and the orchestration around them run for real.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from podnex.speech.base import SpeechAudio
from podnex.speech.espeak import EspeakEngine

CLOUD_FIXED_SECONDS = 0.40
CLOUD_SECONDS_PER_CHAR = 0.005
CLOUD_SOURCE = "https://developers.deepgram.com/docs/minimizing-text-to-speech-latency"


def cloud_latency(text: str) -> float:
    """Seconds the modelled cloud API takes to return the whole audio of ``text``."""
    return CLOUD_FIXED_SECONDS + CLOUD_SECONDS_PER_CHAR * len(text)


class CloudLikeEngine:
    """Real espeak-ng audio, returned after the modelled cloud latency."""

    name = "espeak"
    lines_at_once = 1

    def __init__(self) -> None:
        self.inner = EspeakEngine()

    def voices(self) -> Mapping[str, str]:
        return self.inner.voices()

    async def synthesize(self, text: str, voice: str) -> SpeechAudio:
        audio, _ = await asyncio.gather(
            self.inner.synthesize(text, voice), asyncio.sleep(cloud_latency(text))
        )
        return audio


class RepeatableCloudEngine(CloudLikeEngine):
    """:class:`CloudLikeEngine` whose audio for a voice and text is made once and kept.

    espeak-ng's output varies slightly from call to call, so two podcasts of the same notes
    differ by a few samples; with the audio kept, the same notes give the same lines, and
    the published MP3s can be compared byte for byte (phase 5). The latency is modelled on
    every call all the same.
    """

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[tuple[str, str], SpeechAudio] = {}

    async def synthesize(self, text: str, voice: str) -> SpeechAudio:
        made = self._made.get((voice, text))
        if made is None:
            made = self._made[voice, text] = await super().synthesize(text, voice)
            return made
        await asyncio.sleep(cloud_latency(text))
        return made


class ZeroCostEngine:
    """The same short real line for every request of a voice, at no cost."""

    name = "espeak"
    lines_at_once = 1
    TEXT = "Hm."

    def __init__(self) -> None:
        self.inner = EspeakEngine()
        self._made: dict[str, SpeechAudio] = {}

    def voices(self) -> Mapping[str, str]:
        return self.inner.voices()

    async def synthesize(self, text: str, voice: str) -> SpeechAudio:
        made = self._made.get(voice)
        if made is None:
            made = self._made[voice] = await self.inner.synthesize(self.TEXT, voice)
        return made


ENGINES = {
    "espeak": EspeakEngine,
    "cloud": CloudLikeEngine,
    "cloud-repeatable": RepeatableCloudEngine,
    "zero": ZeroCostEngine,
}
"""The engines a benchmark phase can run the worker with, by the name `--engine` takes."""
