"""How PodcastWorkflow deals a script's lines into speech activities (`speech_batches`)."""

from __future__ import annotations

import heapq
import math

import pytest

from podnex.providers import SPEECH_PROVIDERS
from workflows.podcast import SPEECH_ROUNDS, speech_batches, speech_batches_before
from workflows.types import PodcastInput


def most_lines_a_slot(batches: list[list[int]], concurrency: int) -> int:
    """The lines of the busiest slot when ``concurrency`` slots take the batches in order,
    each as soon as it is free, every line taking the same time (a cloud engine's case)."""
    slots = [0] * concurrency
    for batch in batches:
        heapq.heapreplace(slots, slots[0] + len(batch))
    return max(slots)


@pytest.mark.parametrize("total", [1, 7, 23, 55, 149, 400])
@pytest.mark.parametrize("concurrency", [1, 2, 4, 8])
@pytest.mark.parametrize("size", [1, 4, 8])
def test_every_line_once_in_small_enough_batches(total: int, concurrency: int, size: int) -> None:
    batches = speech_batches(total, concurrency, size)
    assert sorted(line for batch in batches for line in batch) == list(range(total))
    assert all(1 <= len(batch) <= size for batch in batches)
    # Small enough for each speech slot to run about SPEECH_ROUNDS batches in turn.
    assert max(map(len, batches)) <= max(1, math.ceil(total / (concurrency * SPEECH_ROUNDS)))
    # Fewer activities than lines as soon as batches can hold several lines.
    if size > 1 and total >= concurrency * SPEECH_ROUNDS * 2:
        assert len(batches) <= math.ceil(total / 2) + concurrency
    # No slot speaks more than its share, give or take a line a round.
    rounds = math.ceil(len(batches) / concurrency)
    assert most_lines_a_slot(batches, concurrency) <= math.ceil(total / concurrency) + rounds


@pytest.mark.parametrize("total", [1, 7, 23, 55, 149, 400])
@pytest.mark.parametrize("concurrency", [1, 2, 4, 8])
@pytest.mark.parametrize("size", [1, 4, 8])
def test_runs_from_before_keep_their_batches(total: int, concurrency: int, size: int) -> None:
    batches = speech_batches_before(total, concurrency, size)
    assert sorted(line for batch in batches for line in batch) == list(range(total))
    assert max(map(len, batches)) <= max(1, math.ceil(total / (concurrency * 3)))


def test_lines_are_dealt_so_the_start_is_spoken_first() -> None:
    batches = speech_batches(55, 8, 4)
    assert len(batches) == 16  # against 55 activities of one line each
    assert batches[:2] == [[0, 8, 16, 24], [1, 9, 17, 25]]
    # The first line of every batch of the first wave: the script's first eight lines.
    assert [batch[0] for batch in batches[:8]] == list(range(8))
    assert most_lines_a_slot(batches, 8) == 7  # 55 lines on 8 slots: 7 at most


def test_a_long_script_is_spread_evenly_over_the_slots() -> None:
    # LONG at espeak's rate, SPEECH_LINES_PER_ACTIVITY's default of 8: 24 activities, and
    # no slot speaks more than 19 of the 149 lines (the fewest possible; 21 as dealt before,
    # and 24 for three slots had the 149 lines gone out in 19 batches of 8).
    batches = speech_batches(149, 8, 8)
    assert len(batches) == 24
    assert most_lines_a_slot(batches, 8) == 19
    assert most_lines_a_slot(speech_batches_before(149, 8, 8), 8) == 21


def test_runs_from_before_deal_as_they_did() -> None:
    batches = speech_batches_before(55, 8, 4)
    assert len(batches) == 19
    assert batches[:2] == [[0, 8, 16], [1, 9, 17]]


def test_a_short_script_keeps_one_line_an_activity() -> None:
    assert speech_batches(10, 8, 4) == [[line] for line in range(10)]


def test_espeak_speaks_a_podcast_in_one_batch() -> None:
    """espeak-ng's declaration (256 lines an activity, one at a time, one round, each
    batch's lines spoken at once on every core): a SHORT script of 55 lines and a LONG one
    of 149 each in one activity, in the script's order."""
    espeak = SPEECH_PROVIDERS["espeak"]

    def deal(total: int) -> list[list[int]]:
        return speech_batches(
            total, espeak.activities_at_once, espeak.lines_per_activity, espeak.speech_rounds
        )

    assert deal(55) == [list(range(55))]
    assert deal(149) == [list(range(149))]
    # Past its batch size, in as few even batches as it allows.
    assert [len(batch) for batch in deal(600)] == [200, 200, 200]


def test_rounds_default_to_the_runs_before_them() -> None:
    """Runs whose input names no rounds (all before the field) deal as they did: two."""
    assert speech_batches(55, 1, 64) == [list(range(28)), list(range(28, 55))]
    assert speech_batches(55, 1, 64, 2) == speech_batches(55, 1, 64)
    assert (
        PodcastInput.model_validate(
            {
                "podcast_id": "p",
                "user_id": "u",
                "spec": {
                    "note_content": "Notes.",
                    "host_voice": "en-us",
                    "guest_voice": "en-gb",
                    "tts_provider": "espeak",
                },
            }
        ).speech_rounds
        == 2
    )
