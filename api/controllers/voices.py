"""/api/v1/voices: the voices each enabled speech engine offers, for `hostVoice` and
`guestVoice`."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get

from api.openapi import AUTHENTICATED, error_responses
from api.schemas import EngineVoicesOut, Envelope, VoiceOut
from api.state import state_of


class VoiceController(Controller):
    path = "/api/v1/voices"
    tags = ["voices"]
    security = [{"BearerAuth": []}]

    @get(
        "/",
        operation_id="listVoices",
        summary="Voices of each speech engine",
        description="Each enabled engine (`ttsProvider`) with its voices: the name to use "
        "in `hostVoice`/`guestVoice`, other names of the same voice, gender and accent. "
        "Host and guest must be different voices.",
        responses=error_responses(*AUTHENTICATED),
    )
    async def list_voices(self, request: Request[Any, Any, Any]) -> Envelope[list[EngineVoicesOut]]:
        state = state_of(request)
        return Envelope(
            data=[
                EngineVoicesOut(
                    tts_provider=name,
                    default=name == state.settings.default_tts_provider,
                    voices=[VoiceOut.of(voice) for voice in engine.catalogue()],
                )
                for name, engine in state.engines.items()
            ]
        )
