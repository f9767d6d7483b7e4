"""How PodcastWorkflow deals a script's lines into speech activities (`speech_batches`)."""

from __future__ import annotations

import math

import pytest

from workflows.podcast import SPEECH_ROUNDS, SPEECH_ROUNDS_BEFORE, speech_batches


@pytest.mark.parametrize("total", [1, 7, 23, 55, 149, 400])
@pytest.mark.parametrize("concurrency", [1, 2, 4, 8])
@pytest.mark.parametrize("size", [1, 4, 8])
@pytest.mark.parametrize("rounds", [SPEECH_ROUNDS, SPEECH_ROUNDS_BEFORE])
def test_every_line_once_in_small_enough_batches(
    total: int, concurrency: int, size: int, rounds: int
) -> None:
    batches = speech_batches(total, concurrency, size, rounds)
    assert sorted(line for batch in batches for line in batch) == list(range(total))
    assert all(1 <= len(batch) <= size for batch in batches)
    # Small enough for each speech slot to run about `rounds` batches in turn.
    assert max(map(len, batches)) <= max(1, math.ceil(total / (concurrency * rounds)))
    # Fewer activities than lines as soon as batches can hold several lines.
    if size > 1 and total >= concurrency * rounds * 2:
        assert len(batches) <= math.ceil(total / 2) + concurrency


def test_lines_are_dealt_so_the_start_is_spoken_first() -> None:
    batches = speech_batches(55, 8, 4)
    assert len(batches) == 14  # against 55 activities of one line each
    assert batches[:2] == [[0, 8, 16, 24], [1, 9, 17, 25]]
    # The first line of every batch of the first wave: the script's first eight lines.
    assert [batch[0] for batch in batches[:8]] == list(range(8))


def test_runs_from_before_two_rounds_keep_their_batches() -> None:
    batches = speech_batches(55, 8, 4, SPEECH_ROUNDS_BEFORE)
    assert len(batches) == 19
    assert batches[:2] == [[0, 8, 16], [1, 9, 17]]


def test_a_long_script_takes_the_largest_batches() -> None:
    # LONG at espeak's rate, SPEECH_LINES_PER_ACTIVITY's default of 8: 19 activities.
    batches = speech_batches(149, 8, 8)
    assert len(batches) == 19
    assert max(map(len, batches)) == 8


def test_a_short_script_keeps_one_line_an_activity() -> None:
    assert speech_batches(10, 8, 4) == [[line] for line in range(10)]
