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
