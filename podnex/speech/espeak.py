"""Offline speech with espeak-ng, loaded from the ``espeakng-loader`` wheel through ctypes.

libespeak-ng keeps its state (current voice, rate, output callback) in process-wide
globals, so one process speaks one line at a time. An engine speaks where its
``processes`` say:

- ``processes=1`` (the constructor's default, so tests and tools that make a line need no
  child process): in this process, in a worker thread, every call serialised by
  :data:`_LOCK`;
- more (the worker's ``ESPEAK_PROCESSES``, 0 = one a core): in a pool of that many child
  processes, started with ``spawn`` (never ``fork``: the worker runs Temporal's threads).
  Each child initialises the library once and keeps it; the pool is made on first use and
  shared by every engine of the process that asks for that many; :meth:`EspeakEngine.warm_up`
  starts all of its processes at once (the worker does before it polls, so its first
  podcast waits for none). A child that dies fails
  the lines it had (a retryable `SpeechError`) and the next call gets a new pool; a
  cancelled call leaves its child to finish the line, whose audio is dropped.
  :func:`shutdown` stops the pools (the worker calls it as it stops; an interpreter that
  exits normally stops them itself); a child whose parent is gone exits by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import multiprocessing.context
import os
import signal
import sys
import threading
import time
import types
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import espeakng_loader

from podnex.speech.base import (
    SpeechAudio,
    SpeechError,
    Voice,
    checked_request,
    pcm_to_wav,
    voice_names,
)

ESPEAK_WORDS_PER_MINUTE = 175
"""Default speaking rate, in words per minute (espeak-ng's rate setting)."""
ESPEAK_SPOKEN_WORDS_PER_MINUTE = 160
"""Words of speakable text actually spoken a minute at the default rate, pauses between
lines not included: measured on offline-writer scripts of three kinds of notes (159, 159
and 177 words a minute: long technical words slow it down), rounded down."""

_MIN_WORDS_PER_MINUTE = 80
_MAX_WORDS_PER_MINUTE = 450

# Constants from espeak-ng's speak_lib.h.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_EE_OK = 0
_ESPEAK_RATE = 1
_POS_CHARACTER = 1
_CHARS_UTF8 = 1

_BUFFER_LENGTH_MS = 500
_SAMPLE_WIDTH_BYTES = 2

CATALOGUE: tuple[Voice, ...] = (
    Voice(
        "us-male",
        "en-us",
        "American English, male (about 100 Hz)",
        "male",
        "American",
        ("host", "male"),
    ),
    Voice(
        "us-female",
        "en-us+f3",
        "American English, female (about 205 Hz)",
        "female",
        "American",
        ("guest", "female"),
    ),
    Voice("uk-male", "en-gb-x-rp", "British English (RP), male (about 100 Hz)", "male", "British"),
    Voice(
        "uk-female",
        "en-gb-x-rp+f4",
        "British English (RP), female (about 175 Hz)",
        "female",
        "British",
    ),
    Voice(
        "scottish-male",
        "en-gb-scotland",
        "Scottish English, male (about 100 Hz)",
        "male",
        "Scottish",
    ),
    Voice(
        "scottish-female",
        "en-gb-scotland+f5",
        "Scottish English, female (about 200 Hz)",
        "female",
        "Scottish",
    ),
)
"""espeak-ng's voices podnex offers (pitches measured on these machines)."""
_VOICES: Mapping[str, str] = voice_names(CATALOGUE)

# int SynthCallback(short *wav, int numsamples, espeak_EVENT *events)
_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p)

_LOCK = threading.Lock()
"""Serialises every call into this process's libespeak-ng, which is not thread-safe."""


class _Library:
    """The initialised libespeak-ng of this process. Use only while holding :data:`_LOCK`."""

    def __init__(self) -> None:
        try:
            lib = ctypes.CDLL(espeakng_loader.get_library_path())
        except OSError as exc:
            raise SpeechError(f"cannot load libespeak-ng: {exc}", retryable=False) from exc
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,  # text
            ctypes.c_size_t,  # size
            ctypes.c_uint,  # position
            ctypes.c_int,  # position_type
            ctypes.c_uint,  # end_position
            ctypes.c_uint,  # flags
            ctypes.c_void_p,  # unique_identifier
            ctypes.c_void_p,  # user_data
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.argtypes = []
        lib.espeak_Synchronize.restype = ctypes.c_int

        data_path = espeakng_loader.get_data_path().encode()
        sample_rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, _BUFFER_LENGTH_MS, data_path, _INITIALIZE_DONT_EXIT
        )
        if sample_rate <= 0:
            raise SpeechError(f"espeak_Initialize failed (returned {sample_rate})", retryable=False)
        self.sample_rate = sample_rate
        self._lib = lib
        self._chunks: list[bytes] = []
        # The library keeps only a C pointer: this reference keeps the trampoline alive.
        self._callback = _SynthCallback(self._collect)
        lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav: int | None, num_samples: int, _events: int | None) -> int:
        """Receive a block of samples from espeak-ng; returning 0 asks it to continue."""
        if wav and num_samples > 0:
            self._chunks.append(ctypes.string_at(wav, num_samples * _SAMPLE_WIDTH_BYTES))
        return 0

    def synthesize(self, text: str, voice_id: str, words_per_minute: int) -> bytes:
        """Speak ``text`` and return its samples as native-order 16-bit PCM."""
        _check(self._lib.espeak_SetVoiceByName(voice_id.encode()), f"set voice {voice_id!r}")
        _check(
            self._lib.espeak_SetParameter(_ESPEAK_RATE, words_per_minute, 0),
            f"set rate {words_per_minute}",
        )
        encoded = text.encode()
        self._chunks = []
        try:
            _check(
                self._lib.espeak_Synth(
                    encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
                ),
                "synthesise",
            )
            _check(self._lib.espeak_Synchronize(), "synchronise")
            return b"".join(self._chunks)
        finally:
            self._chunks = []


def _check(code: int, action: str) -> None:
    if code != _EE_OK:
        raise SpeechError(f"espeak-ng could not {action} (error {code})", retryable=False)


_library: _Library | None = None


def _get_library() -> _Library:
    """Return the process's library, initialising it on first use. Hold :data:`_LOCK`."""
    global _library
    if _library is None:
        _library = _Library()
    return _library


class EspeakEngine:
    """Speech engine backed by the bundled espeak-ng: offline, fast, robotic but clear.

    Six voices (`CATALOGUE`): American, British and Scottish English, male and female;
    ``host``/``male`` are the American male voice (``en-us``, about 100 Hz),
    ``guest``/``female`` its female variant (``en-us+f3``, about 205 Hz).

    ``processes`` is how many lines it speaks at once (its ``lines_at_once``): 1 (the
    default) in this process, more in a shared pool of child processes, 0 one process a
    core (see the module's doc).
    """

    name = "espeak"

    def __init__(
        self, words_per_minute: int = ESPEAK_WORDS_PER_MINUTE, *, processes: int = 1
    ) -> None:
        if not _MIN_WORDS_PER_MINUTE <= words_per_minute <= _MAX_WORDS_PER_MINUTE:
            raise ValueError(
                f"words_per_minute must be between {_MIN_WORDS_PER_MINUTE} and "
                f"{_MAX_WORDS_PER_MINUTE}, got {words_per_minute}"
            )
        if processes < 0:
            raise ValueError(f"processes must be 0 (one a core) or more, got {processes}")
        self.words_per_minute = words_per_minute
        self.processes = processes or os.cpu_count() or 1
        self.lines_at_once = self.processes

    def voices(self) -> Mapping[str, str]:
        """Map the public voice names to espeak-ng voice names."""
        return _VOICES

    def catalogue(self) -> Sequence[Voice]:
        return CATALOGUE

    async def synthesize(self, text: str, voice: str) -> SpeechAudio:
        """Speak ``text`` with the public voice ``voice``, in a worker thread of this
        process (``processes=1``) or in a child process of the pool."""
        voice_id = checked_request(_VOICES, voice, text)
        if self.processes == 1:
            return await asyncio.to_thread(self._synthesize_blocking, text, voice_id)
        pcm, sample_rate = await _speak_in_pool(
            self.processes, text, voice_id, self.words_per_minute
        )
        return _audio(pcm, sample_rate)

    async def warm_up(self) -> int:
        """Start the pool's processes now rather than at the first lines (each spawns a
        Python and loads the library: a few hundred milliseconds a process); how many
        answered. Nothing to start when it speaks in this process."""
        if self.processes == 1:
            return 0
        loop = asyncio.get_running_loop()
        pool = _pool(self.processes)
        # Submitted together: the pool spawns a process for each job that finds none idle.
        try:
            answered = await asyncio.gather(
                *(loop.run_in_executor(pool, _ready) for _ in range(self.processes))
            )
        except BrokenProcessPool:
            _drop_pool(self.processes, pool)  # the first lines make another, or fail
            return 0
        return len(answered)

    def _synthesize_blocking(self, text: str, voice_id: str) -> SpeechAudio:
        with _LOCK:
            library = _get_library()
            pcm = library.synthesize(text, voice_id, self.words_per_minute)
        return _audio(pcm, library.sample_rate)


def _audio(pcm: bytes, sample_rate: int) -> SpeechAudio:
    """The WAV of a line's samples; no samples is a retryable failure."""
    if not pcm:
        raise SpeechError("espeak-ng produced no audio", retryable=True)
    frames = len(pcm) // _SAMPLE_WIDTH_BYTES
    return SpeechAudio(
        wav=pcm_to_wav(pcm, sample_rate),
        sample_rate=sample_rate,
        duration_seconds=frames / sample_rate,
    )


# -- the process pool -------------------------------------------------------------------------

_POOLS: dict[int, ProcessPoolExecutor] = {}
"""This process's pools, by their number of processes."""
_POOLS_LOCK = threading.Lock()

lines_by_process: Counter[int] = Counter()
"""How many lines each pool process (by pid) has spoken: for diagnostics and the tests."""

_PARENT_CHECK_SECONDS = 1.0


class _SpawnProcess(multiprocessing.context.SpawnProcess):
    """A spawned child that does not run the parent's main script.

    multiprocessing makes a spawned child run the parent's ``__main__`` script again (as
    ``__mp_main__``) so that functions defined there can be unpickled. The pool's children
    run only this module's functions, and the worker's script imports Temporal, SQLAlchemy
    and the rest of podnex (about 90 MB a process), so the main module is hidden while a
    child starts: the child is then told of no main script to run.
    """

    _hiding = threading.Lock()
    """Children started at once by two threads must not hide and restore in turn."""

    def start(self) -> None:
        with self._hiding:
            main = sys.modules["__main__"]
            sys.modules["__main__"] = types.ModuleType("__main__")
            try:
                super().start()
            finally:
                sys.modules["__main__"] = main


class _SpawnContext(multiprocessing.context.SpawnContext):
    Process = _SpawnProcess  # type: ignore[assignment]


def _pool(size: int) -> ProcessPoolExecutor:
    """The pool of ``size`` processes, made on first use."""
    with _POOLS_LOCK:
        pool = _POOLS.get(size)
        if pool is None:
            pool = _POOLS[size] = ProcessPoolExecutor(
                size,
                mp_context=_SpawnContext(),
                initializer=_start_child,
                initargs=(os.getpid(),),
            )
        return pool


def _drop_pool(size: int, pool: ProcessPoolExecutor) -> None:
    """Forget a broken pool (unless already replaced), so that the next call makes another."""
    with _POOLS_LOCK:
        if _POOLS.get(size) is pool:
            del _POOLS[size]
    pool.shutdown(wait=False, cancel_futures=True)


async def _speak_in_pool(
    size: int, text: str, voice_id: str, words_per_minute: int
) -> tuple[bytes, int]:
    """Speak a line in a child process of the pool of ``size``: its samples and rate."""
    loop = asyncio.get_running_loop()
    pool = _pool(size)
    try:
        try:
            running = loop.run_in_executor(pool, _speak, text, voice_id, words_per_minute)
        except BrokenProcessPool:
            # Broken by an earlier line whose caller has not dropped it yet: this line was
            # never sent, so it gets a new pool.
            _drop_pool(size, pool)
            pool = _pool(size)
            running = loop.run_in_executor(pool, _speak, text, voice_id, words_per_minute)
        pcm, sample_rate, pid = await running
    except BrokenProcessPool as exc:
        _drop_pool(size, pool)
        raise SpeechError(
            f"an espeak-ng process stopped while speaking ({exc})", retryable=True
        ) from exc
    lines_by_process[pid] += 1
    return pcm, sample_rate


def shutdown() -> None:
    """Stop this process's pools: lines being spoken finish, lines waiting are cancelled.
    A later call makes a new pool."""
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
        _POOLS.clear()
    for pool in pools:
        pool.shutdown(wait=True, cancel_futures=True)


def _start_child(parent: int) -> None:
    """Initialiser of a pool process: initialise the library once, leave Ctrl-C to the
    parent (which stops the pool), and exit when the parent is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(
        target=_exit_with_parent, args=(parent,), name="espeak-parent", daemon=True
    ).start()
    # A library that cannot load is reported by the first line, not retryable.
    with contextlib.suppress(SpeechError), _LOCK:
        _get_library()


def _exit_with_parent(parent: int) -> None:
    """Exit once the parent has died (killed, or left without stopping its pool)."""
    while os.getppid() == parent:
        time.sleep(_PARENT_CHECK_SECONDS)
    os._exit(0)


def _ready() -> int:
    """In a pool process, for `EspeakEngine.warm_up`: its pid (the library is loaded by
    the process's initialiser)."""
    return os.getpid()


def _speak(text: str, voice_id: str, words_per_minute: int) -> tuple[bytes, int, int]:
    """In a pool process: a line's samples, the sample rate and this process's pid."""
    with _LOCK:
        library = _get_library()
        pcm = library.synthesize(text, voice_id, words_per_minute)
    return pcm, library.sample_rate, os.getpid()
