"""How long the silence before each line of an episode lasts, from the dialogue itself.

A listener hears a conversation's rhythm in its pauses: a quick reply follows at once, a
new speaker takes a breath, a new topic gets a beat of its own. `pauses` reads that from
the script's lines (who speaks, what, whether it asks), deterministically, so the same
script always sounds the same; the mixer (`podnex.audio`) leaves these silences.
"""

from __future__ import annotations

from collections.abc import Sequence

from podnex.script.types import ScriptLine

QUICK_REPLY_MS = 250
"""A short answer (a few words) or a reaction: said at once."""
SAME_SPEAKER_MS = 350
"""One speaker going on to a new line."""
TURN_MS = 550
"""The other speaker takes over."""
ANSWER_MS = 450
"""An answer to a question: a little quicker than a plain turn."""
NEW_TOPIC_MS = 850
"""The host moves the conversation on with a new question."""

_QUICK_WORDS = 4
_TOPIC_WORDS = 8


def pauses(lines: Sequence[ScriptLine]) -> list[int]:
    """The silence before each line in milliseconds (0 before the first)."""
    result: list[int] = []
    for index, line in enumerate(lines):
        if index == 0:
            result.append(0)
            continue
        previous = lines[index - 1]
        words = len(line.text.split())
        if line.speaker == previous.speaker:
            result.append(SAME_SPEAKER_MS)
        elif line.speaker == "host" and line.text.rstrip().endswith("?") and words >= _TOPIC_WORDS:
            result.append(NEW_TOPIC_MS)
        elif words <= _QUICK_WORDS or len(previous.text.split()) <= _QUICK_WORDS:
            result.append(QUICK_REPLY_MS)
        elif previous.text.rstrip().endswith("?"):
            result.append(ANSWER_MS)
        else:
            result.append(TURN_MS)
    return result
