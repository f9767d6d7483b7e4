"""Speech through ElevenLabs' text-to-speech API, with its official SDK (``elevenlabs``).

`POST /v1/text-to-speech/{voice_id}?output_format=...` with ``xi-api-key`` auth and a JSON
body (``text``, ``model_id``, stitching fields), answered with audio bytes. The SDK's own
retries are off for every request (``max_retries=0``): Temporal's retry policy is the only
retry loop. Failures keep ElevenLabs' own ``detail.status`` and ``detail.message``:
429 ``too_many_concurrent_requests`` and ``system_busy`` (and 5xx) are retryable after the
response's ``Retry-After``; ``quota_exceeded``, an unknown voice, a bad key are not.

A line longer than the model's per-request character limit is cut at sentence boundaries
(`split_text`) and the pieces are stitched: each request carries the pieces before and after
it (``previous_text``/``next_text``) and the ids of the requests already made for the line
(``previous_request_ids``, from the ``request-id`` response header), so the joined audio
sounds like one take. Whatever ``output_format`` is asked for (MP3, PCM, WAV, mu-law,
Opus) is decoded and checked by `podnex.speech.decoding`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import httpx
from elevenlabs.client import AsyncElevenLabs
from elevenlabs.core.api_error import ApiError

from podnex.speech.base import (
    SpeechAudio,
    SpeechError,
    Voice,
    checked_request,
    split_text,
    voice_names,
)
from podnex.speech.decoding import decoded_and_checked, speech_from_pcm
from podnex.speech.failures import plain_message, status_failure, transport_failure

PROVIDER = "ElevenLabs"

MODEL_MAX_INPUT_CHARS: Mapping[str, int] = MappingProxyType(
    {
        "eleven_v3": 5_000,
        "eleven_multilingual_v2": 10_000,
        "eleven_multilingual_v1": 10_000,
        "eleven_monolingual_v1": 10_000,
        "eleven_english_sts_v2": 10_000,
        "eleven_flash_v2_5": 40_000,
        "eleven_turbo_v2_5": 40_000,
        "eleven_flash_v2": 30_000,
        "eleven_turbo_v2": 30_000,
    }
)
"""ElevenLabs' documented per-request character limit of each model."""

DEFAULT_MAX_INPUT_CHARS = 5_000
"""The limit used for a model not in `MODEL_MAX_INPUT_CHARS` (the smallest documented)."""

MAX_STITCHED_REQUESTS = 3
"""ElevenLabs takes at most three ``previous_request_ids``."""

RETRYABLE_CODES = frozenset({"too_many_concurrent_requests", "system_busy"})

ELEVENLABS_VOICES: tuple[Voice, ...] = (
    Voice("brian", "nPczCjzI2devNBz1zQrb", "Brian: deep, resonant narrator", "male", "American",
          ("host", "male")),
    Voice("sarah", "EXAVITQu4vr4xnSDxMaL", "Sarah: soft, confident", "female", "American",
          ("guest", "female")),
    Voice("aria", "9BWtsMINqrJLrRacOk9x", "Aria: expressive, husky", "female", "American"),
    Voice("roger", "CwhRBWXzGAHq8TQ4Fs17", "Roger: confident, casual", "male", "American"),
    Voice("laura", "FGY2WhTYpPnrIDTdsKH5", "Laura: upbeat", "female", "American"),
    Voice("charlie", "IKne3meq5aSn9XLyUdCD", "Charlie: natural, conversational", "male",
          "Australian"),
    Voice("george", "JBFqnCBsd6RMkjVDRZzb", "George: warm storyteller", "male", "British"),
    Voice("callum", "N2lVS1w4EtoT3dr4eOWO", "Callum: intense, husky", "male", "Transatlantic"),
    Voice("river", "SAz9YHcvj6GT2YYXdXww", "River: relaxed, neutral", None, "American"),
    Voice("liam", "TX3LPaxmHKxFdv7VOQHJ", "Liam: articulate", "male", "American"),
    Voice("charlotte", "XB0fDUnXU5powFXDhCwa", "Charlotte: sensual, calm", "female", "Swedish"),
    Voice("alice", "Xb7hH8MSUJpSbSDYk0k2", "Alice: confident news voice", "female", "British"),
    Voice("matilda", "XrExE9yKIg1WjnnlVkGX", "Matilda: friendly, warm", "female", "American"),
    Voice("will", "bIHbv24MWmeRgasZH58o", "Will: friendly, young", "male", "American"),
    Voice("jessica", "cgSgspJ2msm6clMCkdW9", "Jessica: expressive, young", "female", "American"),
    Voice("eric", "cjVigY5qzO86Huf0OWal", "Eric: friendly, middle-aged", "male", "American"),
    Voice("chris", "iP95p4xoKVk53GoZ742B", "Chris: casual", "male", "American"),
    Voice("daniel", "onwK4e9ZLuTAKqWW03F9", "Daniel: authoritative news voice", "male",
          "British"),
    Voice("lily", "pFZP5JQG7iQjIQuC4Bku", "Lily: warm narrator", "female", "British"),
    Voice("bill", "pqHfZKP75CvOlQylNhV4", "Bill: trustworthy, older", "male", "American"),
)  # fmt: skip
"""ElevenLabs' premade voices (in every account), by name; roles are aliases."""


def decoder_for(output_format: str) -> tuple[str, tuple[str, ...]]:
    """ffmpeg's input format and options for an ElevenLabs ``output_format``."""
    codec, _, rest = output_format.partition("_")
    rate = rest.split("_")[0]
    raw = ("-ar", rate, "-ac", "1")
    decoders: dict[str, tuple[str, tuple[str, ...]]] = {
        "mp3": ("mp3", ()),
        "wav": ("wav", ()),
        "opus": ("ogg", ()),
        "pcm": ("s16le", raw),
        "ulaw": ("mulaw", raw),
        "alaw": ("alaw", raw),
    }
    if codec not in decoders:
        raise ValueError(f"unsupported ElevenLabs output format {output_format!r}")
    return decoders[codec]


class ElevenLabsSpeechEngine:
    """Speech engine for ElevenLabs.

    Voices: the premade voices by name (``brian``, ``sarah``...) and by id; ``host`` and
    ``male`` are Brian, ``guest`` and ``female`` Sarah. The multilingual models speak the
    language of the text they get.
    """

    name = "elevenlabs"
    lines_at_once = 1  # its parallelism is in the speech activities

    def __init__(
        self,
        client: AsyncElevenLabs,
        *,
        model_id: str,
        output_format: str = "mp3_44100_128",
        max_input_chars: int | None = None,
        stitching: bool = True,
        catalogue: Sequence[Voice] = ELEVENLABS_VOICES,
    ) -> None:
        self.client = client
        self.model_id = model_id
        self.output_format = output_format
        self._decoder = decoder_for(output_format)
        self.max_input_chars = max_input_chars or MODEL_MAX_INPUT_CHARS.get(
            model_id, DEFAULT_MAX_INPUT_CHARS
        )
        self.stitching = stitching
        self._catalogue = tuple(catalogue)
        self._voices: Mapping[str, str] = MappingProxyType(
            {
                **voice_names(self._catalogue),
                **{voice.engine_id: voice.engine_id for voice in self._catalogue},
            }
        )

    def voices(self) -> Mapping[str, str]:
        """Voice names, roles and ElevenLabs voice ids, mapped to the voice ids."""
        return self._voices

    def catalogue(self) -> Sequence[Voice]:
        return self._catalogue

    async def synthesize(self, text: str, voice: str) -> SpeechAudio:
        """Speak ``text`` with ``voice``: split at the model's limit, pieces stitched."""
        voice_id = checked_request(self._voices, voice, text)
        pieces = split_text(text, self.max_input_chars)
        pcm = bytearray()
        request_ids: list[str] = []
        for index, piece in enumerate(pieces):
            context: dict[str, Any] = {}
            if self.stitching and len(pieces) > 1:
                if index > 0:
                    context["previous_text"] = pieces[index - 1]
                if index + 1 < len(pieces):
                    context["next_text"] = pieces[index + 1]
                if request_ids:
                    context["previous_request_ids"] = request_ids[-MAX_STITCHED_REQUESTS:]
            audio, request_id = await self._speak(piece, voice_id, context)
            pcm += audio
            if request_id:
                request_ids.append(request_id)
        return speech_from_pcm(bytes(pcm))

    async def _speak(
        self, text: str, voice_id: str, context: Mapping[str, Any]
    ) -> tuple[bytes, str | None]:
        """One request: its checked PCM and ElevenLabs' id for it (for stitching)."""
        try:
            async with self.client.text_to_speech.with_raw_response.convert(
                voice_id,
                text=text,
                model_id=self.model_id,
                output_format=self.output_format,  # type: ignore[arg-type]
                request_options={"max_retries": 0},
                **context,
            ) as response:
                data = b"".join([chunk async for chunk in response.data])
                request_id = response.headers.get("request-id")
        except ApiError as exc:
            raise describe_api_error(exc) from None
        except httpx.HTTPError as exc:
            raise transport_failure(PROVIDER, exc) from None
        fmt, options = self._decoder
        return await decoded_and_checked(data, fmt, text, options), request_id


def describe_api_error(exc: ApiError) -> SpeechError:
    """An SDK error response as a `SpeechError` with ElevenLabs' status code and message.

    ElevenLabs answers ``{"detail": {"status": "<code>", "message": "<words>"}}`` (newer
    responses say ``code`` as well); validation errors (422) carry a list of problems.
    """
    code, message = "", ""
    body = exc.body
    detail = body.get("detail") if isinstance(body, Mapping) else body
    if isinstance(detail, Mapping):
        code = str(detail.get("status") or detail.get("code") or "")
        message = str(detail.get("message") or "")
    elif isinstance(detail, list) and detail and isinstance(detail[0], Mapping):
        first = detail[0]
        where = ".".join(str(part) for part in first.get("loc", []))
        message = f"{where}: {first.get('msg', '')}" if where else str(first.get("msg", ""))
    elif isinstance(detail, str):
        message = plain_message(detail)
    raw = body if isinstance(body, str) else repr(body)
    return status_failure(
        PROVIDER,
        exc.status_code or 0,
        exc.headers or {},
        code=code,
        message=message,
        raw=raw,
        retryable_codes=RETRYABLE_CODES,
    )
