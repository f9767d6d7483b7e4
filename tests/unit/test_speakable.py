"""Unit tests for speakable text: what each engine hears for numbers, symbols and shorthand."""

from __future__ import annotations

import re

import pytest

from podnex.speakable import speakable, spoken_word_count


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("It costs $9,000 a month.", "It costs nine thousand dollars a month."),
        ("Now $6,300.50.", "Now six thousand, three hundred dollars and fifty cents."),
        ("We raised $1.2M.", "We raised one point two million dollars."),
        ("About 30% less.", "About thirty percent less."),
        ("Reports took 40 s, now 2 s.", "Reports took forty seconds, now two seconds."),
        ("5 ms, 10 GB and 3x faster.", "five milliseconds, ten gigabytes and three times faster."),
        ("Released v1.2.3 today.", "Released version one point two point three today."),
        ("Python 3.11 is out.", "Python three point eleven is out."),
        ("On 2024-01-05 we met.", "On January fifth, twenty twenty four we met."),
        ("Due Jan 5, 2024.", "Due January fifth, twenty twenty four."),
        ("At 14:30 or 9:05.", "At fourteen thirty or nine oh five."),
        ("The 1st and 22nd runs.", "The first and twenty-second runs."),
        ("Pages 1-5.", "Pages one to five."),
        (
            "In 2023 we had 1500 users.",
            "In twenty twenty three we had one thousand, five hundred users.",
        ),
        ("Dr. Patel, e.g. the lead.", "Doctor Patel, for example, the lead."),
        ("C++ & C# -> done.", "C plus plus and C sharp to done."),
        ("It is -5 °C.", "It is minus five degrees Celsius."),
        ("Half: 1/2, always 24/7.", "Half: one half, always twenty-four seven."),
        ("See #42.", "See number forty-two."),
        ("Use Jinja2 with --format=json.", "Use Jinja two with format json."),
        ("Visit https://www.example.com/docs now.", "Visit example dot com now."),
    ],
)
def test_english_normalisation(text: str, spoken: str) -> None:
    assert speakable(text) == spoken


def test_no_digits_or_markup_survive() -> None:
    messy = "v2.0.0rc1 | `x` * 3 ~ 20 ms [a] {b} <c> 888619 50,000 3.14 1990s #7 w/ 2x"
    spoken = speakable(messy)
    assert not re.search(r"[\d`*|\[\]{}<>#~]", spoken), spoken


def test_other_languages_spell_numbers_in_their_language() -> None:
    assert speakable("Tenemos 25 personas", "Spanish") == "Tenemos veinticinco personas"
    assert speakable("Il y a 3 chats", "fr-FR") == "Il y a trois chats"
    assert speakable("Plain text", "xx") == "Plain text"


def test_spoken_word_count_counts_what_is_said() -> None:
    assert spoken_word_count("$9,000") == 3
    assert spoken_word_count("Hello there.") == 2
