"""The espeak engine's process pool (``processes`` > 1): real espeak-ng in child processes."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from collections.abc import Iterator

import pytest

from podnex.speech import espeak
from podnex.speech.base import SpeechError
from podnex.speech.espeak import EspeakEngine
from tests.audio_analysis import decode_wav, mean_pitch_hz
from tests.unit.test_espeak import CONCURRENT_REQUESTS, SENTENCE

LONG = " ".join([SENTENCE] * 20)
"""About three minutes of speech, a few tenths of a second's work for a process."""
LONGER = " ".join([SENTENCE] * 40)


@pytest.fixture(autouse=True, scope="module")
def _stop_pools() -> Iterator[None]:
    yield
    espeak.shutdown()


async def spoken_by(engine: EspeakEngine, lines: list[tuple[str, str]]) -> Counter[int]:
    """Speak ``lines`` at once; how many of them each process spoke."""
    before = Counter(espeak.lines_by_process)
    audios = await asyncio.gather(*(engine.synthesize(text, voice) for voice, text in lines))
    assert all(audio.duration_seconds > 0 for audio in audios)
    return espeak.lines_by_process - before


async def pool_pids(engine: EspeakEngine) -> set[int]:
    """The pids of the engine's pool processes: four long lines at once keep both busy."""
    pids = set(await spoken_by(engine, [("host", LONG), ("guest", LONG)] * 2))
    assert len(pids) == 2
    return pids


async def test_lines_at_once_are_spoken_by_two_child_processes() -> None:
    main = sys.modules["__main__"]

    spoken = await spoken_by(EspeakEngine(processes=2), [("host", LONG), ("guest", LONG)] * 2)

    assert len(spoken) == 2
    assert os.getpid() not in spoken
    assert sum(spoken.values()) == 4
    # Hidden from the children while they started (`_SpawnProcess`), and back.
    assert sys.modules["__main__"] is main


async def test_the_pool_speaks_as_long_as_this_process() -> None:
    in_process = EspeakEngine()
    pool = EspeakEngine(processes=2)
    for voice in ("host", "guest"):
        alone = await in_process.synthesize(SENTENCE, voice)
        pooled = await pool.synthesize(SENTENCE, voice)

        assert pooled.wav[:4] == b"RIFF"
        assert pooled.sample_rate == alone.sample_rate
        assert pooled.duration_seconds == pytest.approx(alone.duration_seconds, rel=0.02)
        assert mean_pitch_hz(*decode_wav(pooled.wav)) == pytest.approx(
            mean_pitch_hz(*decode_wav(alone.wav)), rel=0.05
        )


async def test_many_lines_at_once_all_succeed() -> None:
    lines = [*CONCURRENT_REQUESTS, *CONCURRENT_REQUESTS[:4]]
    alone = [await EspeakEngine().synthesize(text, voice) for voice, text in lines]

    together = await asyncio.gather(
        *(EspeakEngine(processes=2).synthesize(text, voice) for voice, text in lines)
    )

    assert len(together) == 12
    for one, pooled in zip(alone, together, strict=True):
        assert pooled.duration_seconds == pytest.approx(one.duration_seconds, abs=0.03)


async def test_a_killed_child_fails_its_line_retryably_and_the_next_call_succeeds() -> None:
    engine = EspeakEngine(processes=2)
    pids = await pool_pids(engine)

    speaking = asyncio.create_task(engine.synthesize(LONGER, "host"))
    await asyncio.sleep(0.05)
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    with pytest.raises(SpeechError, match="stopped while speaking") as caught:
        await speaking

    assert caught.value.retryable is True
    audio = await engine.synthesize(SENTENCE, "guest")
    assert audio.duration_seconds > 0
    assert not pids & set(await pool_pids(engine))


async def test_a_cancelled_call_leaves_the_pool_working() -> None:
    engine = EspeakEngine(processes=2)
    pids = await pool_pids(engine)

    speaking = asyncio.create_task(engine.synthesize(LONGER, "host"))
    await asyncio.sleep(0.05)
    speaking.cancel()
    with pytest.raises(asyncio.CancelledError):
        await speaking

    assert await pool_pids(engine) == pids


async def test_shutdown_stops_the_children_and_a_later_call_starts_new_ones() -> None:
    engine = EspeakEngine(processes=2)
    pids = await pool_pids(engine)

    await asyncio.to_thread(espeak.shutdown)

    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not pids & set(await pool_pids(engine))


async def test_one_process_speaks_in_this_process() -> None:
    before = Counter(espeak.lines_by_process)

    audio = await EspeakEngine(processes=1).synthesize(SENTENCE, "host")

    assert audio.duration_seconds > 0
    assert espeak.lines_by_process == before


def test_processes_zero_is_one_a_core_and_negative_is_refused() -> None:
    assert EspeakEngine(processes=0).processes == (os.cpu_count() or 1)
    assert EspeakEngine().processes == 1
    with pytest.raises(ValueError, match="processes"):
        EspeakEngine(processes=-1)


KILLED_PARENT = """
import asyncio, os, signal
from podnex.speech import espeak
from podnex.speech.espeak import EspeakEngine
from tests.unit.test_espeak_pool import LONG

async def main():
    engine = EspeakEngine(processes=2)
    await asyncio.gather(*(engine.synthesize(LONG, voice) for voice in ("host", "guest") * 2))
    print(" ".join(map(str, espeak.lines_by_process)), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


async def test_children_exit_when_their_parent_is_killed() -> None:
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", KILLED_PARENT, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await parent.communicate()
    pids = {int(pid) for pid in out.split()}
    assert parent.returncode == -signal.SIGKILL
    assert len(pids) == 2

    alive = set(pids)
    for _ in range(100):  # each checks on its parent every second
        alive = {pid for pid in alive if _running(pid)}
        if not alive:
            break
        await asyncio.sleep(0.1)
    assert not alive


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (an orphan is reaped by init, not by us)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_warm_up_starts_every_process_before_the_first_line() -> None:
    """The worker warms its engines before it polls: the pool's processes all start then,
    not one by one as the first podcast's lines find none idle."""
    espeak.shutdown()
    engine = EspeakEngine(processes=3)

    assert await engine.warm_up() == 3

    processes = espeak._POOLS[3]._processes  # type: ignore[attr-defined]
    assert len(processes) == 3
    assert all(process.is_alive() for process in processes.values())
    assert os.getpid() not in {process.pid for process in processes.values()}
    # Speaking in this process: nothing to start.
    assert await EspeakEngine().warm_up() == 0
