"""Notes for the benchmarks: a long, plain Markdown document, the same on every run.

Long enough that the offline writer reaches its full word targets (750 words for SHORT,
2,250 for LONG), so the benchmarked podcasts have the length real ones have.
"""

from __future__ import annotations

_TOPICS = [
    ("Tides", "the moon", "coastal towns", "fishing boats", "harbour walls"),
    ("Bees", "pollen", "flower meadows", "orchard farmers", "wild hives"),
    ("Bridges", "steel cables", "river crossings", "city planners", "heavy trucks"),
    ("Volcanoes", "magma", "island chains", "mountain villages", "ash clouds"),
    ("Libraries", "old manuscripts", "reading rooms", "local schools", "digital archives"),
    ("Rivers", "melting snow", "farm valleys", "canal builders", "spring floods"),
    ("Forests", "fungal networks", "northern slopes", "park rangers", "summer fires"),
    ("Comets", "frozen dust", "the outer planets", "amateur astronomers", "long orbits"),
    ("Bread", "wild yeast", "village bakeries", "grain growers", "stone ovens"),
    ("Glaciers", "compressed snow", "high valleys", "climate scientists", "meltwater lakes"),
    ("Lighthouses", "lens makers", "rocky headlands", "ship captains", "winter storms"),
    ("Coral reefs", "tiny polyps", "warm shallows", "marine biologists", "bleaching events"),
]

_SENTENCES = [
    "{topic} depend on {a} far more than most people expect.",
    "Researchers who study {b} have measured this effect for more than forty years.",
    "For {c}, the practical consequence is a daily routine built around it.",
    "One surprising detail is how {d} change the pattern from one season to the next.",
    "A common mistake is to treat {topic_l} as a single thing rather than a system.",
    "The best evidence comes from long records kept by {c} in small notebooks.",
    "When {a} shifts even a little, the whole picture around {b} shifts with it.",
    "Modern sensors now let anyone compare old records of {topic_l} with live measurements.",
    "The open question is whether {d} will matter more or less in the coming decades.",
]


def bench_notes() -> str:
    """About 12,000 characters of notes in twelve sections of nine sentences each."""
    parts = ["# A field guide to everyday systems", ""]
    for topic, a, b, c, d in _TOPICS:
        parts += [f"## {topic}", ""]
        fields = {"topic": topic, "topic_l": topic.lower(), "a": a, "b": b, "c": c, "d": d}
        parts += [sentence.format(**fields) for sentence in _SENTENCES]
        parts.append("")
    return "\n".join(parts)
