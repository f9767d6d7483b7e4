"""The guest's retelling keeps facts, numbers, names and negations (podnex.script.paraphrase)."""

from __future__ import annotations

from podnex.script.paraphrase import ask_and_answer, pronoun_start, respeak


def test_passive_with_a_modal_is_said_actively() -> None:
    assert respeak("A string can be used instead of the method reference.") == (
        "You can use a string instead of the method reference."
    )
    assert respeak("Datetime values should not be passed to the client.").startswith(
        "You shouldn't pass datetime values"
    )


def test_numbers_names_and_negations_survive() -> None:
    said = respeak("PSF shall not be liable for 3 releases of Rules-Requires-Root in 2001.")
    assert "won't" in said and "3" in said and "2001" in said and "Rules-Requires-Root" in said


def test_changelog_entries_are_told_as_what_was_done() -> None:
    assert respeak("Bump to std version 4.6.2.", 0) == "They bumped to std version 4.6.2."
    assert "support for for" not in respeak("Support for Python 3.12.", 1)


def test_a_condition_becomes_a_question_and_its_answer() -> None:
    asked = ask_and_answer("If there are multiple arguments, only the plain form can be used.")
    assert asked is not None
    question, answer = asked
    assert question.endswith("?") and "several arguments" not in question
    assert answer == "Then you can use only the plain form."


def test_the_subject_just_named_is_said_as_a_pronoun() -> None:
    assert pronoun_start("Data converters are used everywhere.", "data converters") == (
        "They're used everywhere."
    )
    assert pronoun_start("Finding 3 says so.", "Finding 3") == "Finding 3 says so."


def test_a_long_list_is_told_by_its_first_items() -> None:
    said = respeak(
        "It offers data validation, dependency injection, ORM integration, a plugin API, "
        "middleware, and caching.",
        0,
    )
    assert said == (
        "It offers things like data validation, dependency injection and ORM integration, "
        "among others."
    )
    # Three items, an "or" list, or a list with a clause inside are said as written.
    short = "It reads JSON, YAML and TOML files."
    assert respeak(short) == short
    either = "You can pick one of red, green, blue, cyan, or magenta."
    assert respeak(either) == either


def test_a_run_of_years_is_said_by_its_ends() -> None:
    said = respeak("Copyright 2001, 2002, 2003, 2004 the Foundation.")
    assert "every year from 2001 to 2004" in said
    gaps = "Releases came out in 2001, 2005, 2019 and 2020."
    assert "every year" not in respeak(gaps)


def test_a_long_sentence_tells_its_qualifier_separately() -> None:
    said = respeak(
        "This agreement falls under the federal intellectual property law of the United "
        "States, including the federal copyright law."
    )
    assert said.endswith(". That includes the federal copyright law.")
    short = "It runs everywhere, including Windows."
    assert respeak(short) == short


def test_licence_phrasing_is_said_plainly() -> None:
    assert (
        respeak(
            "Permission to use and copy this software is hereby granted, provided that the "
            "notice is kept."
        )
        == "You're free to use and copy this software, as long as the notice is kept."
    )
    assert respeak("According to Richard Stallman, 1.6.1 is not GPL-compatible.") == (
        "Richard Stallman says 1.6.1 isn't GPL-compatible."
    )
