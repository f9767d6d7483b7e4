"""Saying a sentence of the notes in the guest's own words, without a model.

The notes are written; an episode is spoken. These rules retell a sentence the way a
person explaining it would, keeping every fact, number, name and negation:

- written words and phrasing become spoken ones ("in order to" -> "to", "such as" ->
  "like", "requires" -> "needs", "e.g." -> "for example"), with contractions;
- a passive with a modal becomes active with "you" ("X can be configured with Y" -> "You
  can configure X with Y"), a passive with a named agent becomes active ("Python was
  created by Guido" -> "Guido created Python");
- a relative clause becomes its own sentence (", which is ..." -> ". That's ...");
- a changelog entry ("Fix X", "Added Y") is told as what the maintainers did;
- a sentence that opens with a condition, a purpose or a date becomes a question the
  host asks and the answer the guest gives ("If A, B." -> "What if A?" / "Then B.").

Every rule is a pattern over words, applied only where it matches cleanly; a rewrite that
would leave a hole (`podnex.script.notes.has_hole`) is not used.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from podnex.script.notes import has_hole

_Rule = tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]


def _rules(pairs: tuple[tuple[str, str], ...]) -> tuple[_Rule, ...]:
    """Compiled rules; a word boundary also stops at hyphens ("Rules-Requires-Root")."""
    return tuple(
        (re.compile(_hyphen_safe(pattern), re.IGNORECASE), spoken) for pattern, spoken in pairs
    )


def _hyphen_safe(pattern: str) -> str:
    if pattern.startswith(r"\b"):
        pattern = r"(?<![\w-])" + pattern[2:]
    if pattern.endswith(r"\b"):
        pattern = pattern[:-2] + r"(?![\w-])"
    return pattern


#: Written phrasing and its spoken equivalent (same meaning; no number, name or negation
#: is touched). Applied in order, case-insensitively, keeping a capital at the start.
_PHRASES = _rules(
    (
        (r"\bin order to\b", "to"),
        (r"\bso as to\b", "to"),
        (r"\bso that\b", "so"),
        (r"\bsuch as\b", "like"),
        (r"\be\.g\.,?", "for example,"),
        (r"\bi\.e\.,?", "meaning"),
        (r",? etc\.?(?=[\s,.;:!?]|$)", ", and so on"),
        (r"\band/or\b", "or"),
        (r"\bto/from\b", "to and from"),
        (r"\bvia\b", "through"),
        (r"\ba number of\b", "several"),
        (r"\ba large number of\b", "lots of"),
        (r"\bthe majority of\b", "most of"),
        (r"(?<!\ba )\bmultiple\b", "several"),
        (r"\bnumerous\b", "many"),
        (r"\bvarious\b", "different"),
        (r"\badditional\b", "extra"),
        (r"\bsufficient\b", "enough"),
        (r"\bentire\b", "whole"),
        (r"\bcurrently\b", "right now"),
        (r"\bapproximately\b", "about"),
        (r"\bfrequently\b", "often"),
        (r"\bimmediately\b", "right away"),
        (r"\binitially\b", "at first"),
        (r"\bprimarily\b", "mainly"),
        (r"\bparticularly\b", "especially"),
        (r"\bin particular\b", "especially"),
        (r"\bsubsequently\b", "later"),
        (r"\bsubsequent\b", "later"),
        (r"\bprior to\b", "before"),
        (r"\bupon\b", "on"),
        (r"\bwhilst\b", "while"),
        (r"\bamongst\b", "among"),
        (r"\bwhereas\b", "while"),
        (r"\bregarding\b", "about"),
        (r"\bwith respect to\b", "about"),
        (r"\bdue to\b", "because of"),
        (r"\bas well as\b", "and also"),
        (r"\bin addition to\b", "besides"),
        (r"\bin conjunction with\b", "together with"),
        (r"\bwhether or not\b", "whether"),
        (r"\bin the event that\b", "if"),
        (r"\bin case of doubt\b", "when in doubt"),
        (r"\bin this case\b", "then"),
        (r"\bin fact\b", "actually"),
        (r",? although\b", ", even though"),
        (r"^although\b", "Even though"),
        (r"^starting with ([^,]{3,40}),", r"From \1 on,"),
        (r"\butili[sz]e(s|d)?\b", r"use\1"),
        (r"\butili[sz]ing\b", "using"),
        (r"\bmake use of\b", "use"),
        (r"\bmakes use of\b", "uses"),
        (r"\bcommence(s|d)?\b", r"start\1"),
        (r"\bobtains\b", "gets"),
        (r"\bobtain\b", "get"),
        (r"\breceive(s)?\b", r"get\1"),
        (r"\brequires\b", "needs"),
        (r"\brequire\b", "need"),
        (r"\bmodif(?:y)\b", "change"),
        (r"\bmodifies\b", "changes"),
        (r"\bmodified\b", "changed"),
        (r"\bassist(s)?\b", r"help\1"),
        (r"\bdemonstrate(s)?\b", r"show\1"),
        (r"\bindicate(s)?\b", r"show\1"),
        (r"\bensures? that\b", "makes sure"),
        (r"\bensures\b", "makes sure of"),
        (r"\bensure\b", "make sure of"),
        (r"\battempts to\b", "tries to"),
        (r"\battempt to\b", "try to"),
        (r"\bprovides\b", "gives you"),
        (r"\benables you to\b", "lets you"),
        (r"\benable you to\b", "let you"),
        (r"\ballows you to\b", "lets you"),
        (r"\ballow you to\b", "let you"),
        (r"\ballows users to\b", "lets people"),
        (r"\ballows the user to\b", "lets you"),
        (r"\bthe user can\b", "you can"),
        (r"\busers can\b", "you can"),
        (r"\bone can\b", "you can"),
        (r"\bis able to\b", "can"),
        (r"\bare able to\b", "can"),
        (r"\bis capable of\b", "can handle"),
        (r"\bis designed to\b", "is meant to"),
        (r"\bare designed to\b", "are meant to"),
        (r"\bis intended (to|for)\b", r"is meant \1"),
        (r"\bare intended (to|for)\b", r"are meant \1"),
        (r"\bit is recommended to\b", "the advice is to"),
        (r"\bit's recommended to\b", "the advice is to"),
        (r"\bit is possible to\b", "you can"),
        (r"\bis responsible for\b", "takes care of"),
        (r"\bare responsible for\b", "take care of"),
        (r"\bcannot\b", "can't"),
        (r"\bcan not\b", "can't"),
        (r"\bhereby\s+", ""),
        (r"\bprovided,? however,? that\b", "as long as"),
        (r"\bprovided that\b", "as long as"),
        (r"\bin lieu of\b", "instead of"),
        (r"\bthereof\b", "of it"),
        (r"\bherein\b", "here"),
        (r"\bwhatsoever\b", "at all"),
        (r"\bshall not\b", "won't"),
        (r"\bshall\b", "will"),
        (r"\bpursuant to\b", "under"),
        (r"\bsubject to the terms and conditions of\b", "under the terms and conditions of"),
        (r"\bin the event that\b", "if"),
        (r"\bin the event\b", "if"),
        (r"\bas a result of\b", "because of"),
        (r"\barising out of\b", "coming from"),
        (r"\bin connection with\b", "connected with"),
        (r"\bwith regard to\b", "about"),
        (r"\bin all respects\b", "in every way"),
        (r"\bagrees to be bound by\b", "agrees to"),
        (r"\bbe deemed to\b", "be taken to"),
        (r"\bon an \"?as is\"? basis\b", "as is"),
        (r"\bby way of example, but not limitation,", "for example,"),
        (r"\b(is|are|be) retained\b", r"\1 kept"),
        (r"\bretains?\b", "keeps"),
        (r"\bbe located\b", "be found"),
        (r"\bsummari[sz]es\b", "sums up"),
        (r"\bsummari[sz]e\b", "sum up"),
        (r"\bincorporated into\b", "included in"),
        (r"^historically,\s*", "In the past, "),
        (r"^permission to (.{5,160}?) is granted\b", r"You're free to \1"),
        (r"^permission is granted to\b", "You're free to"),
        (r"^according to ([A-Z][^,]{1,40}), (?!however)", r"\1 says "),
        (r"\bnotwithstanding the foregoing,?", "even so,"),
        (r"\bnevertheless\b", "still"),
        (r"\bin accordance with\b", "following"),
        (r"\bto the extent\b", "as far as"),
        (r"\bhaving an office at\b", "with an office at"),
        (r"\bin order for\b", "for"),
        (r"\bsimilar to\b", "like"),
        (r"\bpermitted\b", "allowed"),
        (r"\bpermits\b", "allows"),
        (r"\bpermit\b", "allow"),
        (r"\bterminate(s|d)?\b", r"end\1"),
        (r"\bbrief\b", "short"),
        (r"\bcompletely\b", "fully"),
        (r"\bconsists of\b", "is made of"),
        (r"\bcontains\b", "has"),
        (r"\bprevious\b", "earlier"),
        (r"\bpreviously\b", "earlier"),
        (r"\bspecified\b", "given"),
        (r"\bthe above\b", "that"),
        (r"\bpertaining to\b", "about"),
        (r"\barising under\b", "coming up under"),
        (r"\bby clicking on\b", "by clicking"),
        (r"\bwill govern\b", "applies to"),
        (r"\b(will be|is) governed by\b", "falls under"),
        (r"\bagrees to the\b", "accepts the"),
        (r"(?<![\w'])(?<!the )(?<!The )Licensee\b", "the licensee"),
        (r"^the licensee\b", "The licensee"),
    )
)
#: Contractions a speaker makes (negations keep their "n't").
_CONTRACTIONS = _rules(
    (
        (r"\bit is\b", "it's"),
        (r"\bthat is\b(?!,)", "that's"),
        (r"\bthere is\b", "there's"),
        (r"\bhere is\b", "here's"),
        (r"\bwhat is\b", "what's"),
        (r"\bwho is\b", "who's"),
        (r"\bwhere is\b", "where's"),
        (r"\bdo not\b", "don't"),
        (r"\bdoes not\b", "doesn't"),
        (r"\bdid not\b", "didn't"),
        (r"\bis not\b", "isn't"),
        (r"\bare not\b", "aren't"),
        (r"\bwas not\b", "wasn't"),
        (r"\bwere not\b", "weren't"),
        (r"\bwill not\b", "won't"),
        (r"\bwould not\b", "wouldn't"),
        (r"\bshould not\b", "shouldn't"),
        (r"\bcould not\b", "couldn't"),
        (r"\bmust not\b", "mustn't"),
        (r"\bhave not\b", "haven't"),
        (r"\bhas not\b", "hasn't"),
        (r"\bhad not\b", "hadn't"),
        (r"\bneed not\b", "needn't"),
        (r"\b(you|we|they|it|that|there) will\b", r"\1'll"),
        (r"\b(you|we|they) are\b", r"\1're"),
        (r"\b(you|we|they|who) have\b(?! to\b)", r"\1've"),
        (r"\b(you|we|they) would\b", r"\1'd"),
        (r"\b(it|that|there) has been\b", r"\1's been"),
        (r"\blet us\b", "let's"),
        (r"\bI am\b", "I'm"),
    )
)
#: The notes' authors ("we", "our") as the guest, who tells what they wrote, says them;
#: a name said with its article ("PSF" -> "the PSF"). Case-sensitive.
_VOICE = tuple(
    (re.compile(pattern), spoken)
    for pattern, spoken in (
        (r"\bwe're\b", "they're"),
        (r"\bWe're\b", "They're"),
        (r"\bwe've\b", "they've"),
        (r"\bWe've\b", "They've"),
        (r"\bwe'll\b", "they'll"),
        (r"\bWe'll\b", "They'll"),
        (r"\bwe\b", "they"),
        (r"\bWe\b", "They"),
        (r"\bour\b", "their"),
        (r"\bOur\b", "Their"),
        (r"\bours\b", "theirs"),
        (r"(?<!let )\bus\b", "them"),
        (r"(?<![Tt]he )(?<![\w-])PSF\b(?![\w-])", "the PSF"),
        (r"^the PSF\b", "The PSF"),
    )
)
#: Sentence openers as said aloud.
_OPENERS = (
    (re.compile(r"^(?:Additionally|Furthermore|Moreover|In addition),?\s*"), "Also, "),
    (re.compile(r"^However,?\s+"), "But "),
    (re.compile(r"^(?:Therefore|Thus|Hence|Consequently),?\s*"), "So "),
    (re.compile(r"^For example,\s*"), "For instance, "),
    (re.compile(r"^Finally,\s*"), "And last, "),
    (re.compile(r"^(?:Please )?[Nn]ote that\s+"), ""),
    (re.compile(r"^It should be noted that\s+"), ""),
    (re.compile(r"^This means that\s+"), "In other words, "),
    (re.compile(r"^This means\s+"), "In other words, "),
    (re.compile(r"^Alternately,\s*|^Alternatively,\s*"), "Or, "),
)
_PARENTHETICAL = re.compile(r"\s*\([^()]{4,120}\)(?=[\s,.;:!?]|$)")

_DETERMINERS = frozenset(
    [
        "the",
        "a",
        "an",
        "this",
        "these",
        "that",
        "those",
        "each",
        "every",
        "all",
        "your",
        "its",
        "their",
        "some",
        "any",
        "our",
    ]
)
#: Capitalised first words kept as names after a verb.
_NAMES_KEPT = frozenset(["python", "i"])
_MODALS = {
    "can": "can",
    "may": "can",
    "must": "have to",
    "should": "should",
    "needs to": "need to",
    "need to": "need to",
    "has to": "have to",
    "have to": "have to",
}
_MODAL_PASSIVE = re.compile(
    r"^(?P<subject>[A-Za-z][\w'-]*(?: [\w'\"-]+){0,4}?) (?P<modal>can|may|must|should|needs to"
    r"|need to|has to|have to)(?P<neg> not)? (?:also )?be (?P<participle>[a-z]+)\b(?P<rest>.*)$"
)
_AGENT_PASSIVE = re.compile(
    r"^(?P<subject>[A-Z][\w'-]*(?: [\w'.-]+){0,4}?) (?P<aux>was|were|is|are) (?P<participle>"
    r"[a-z]+) (?P<middle>(?:(?:in|at|on|during) [\w ]{2,30}? )?)by (?P<agent>(?:the )?[A-Z]"
    r"[\w.'-]*(?: (?:van|de|der|von|[A-Z][\w.'-]*))*)(?P<rest>(?:[ ,.;:].*)?)$"
)
_USED_TO = re.compile(
    r"^(?P<subject>[A-Za-z][\w'-]*(?: [\w'\"-]+){0,4}?) (?:is|are) used (?P<purpose>to|for) "
    r"(?P<rest>.+)$"
)
_WHICH = re.compile(r", which (is|are|was|means|makes|has|lets|gives) ")
_CHANGELOG = re.compile(
    r"^(?P<verb>Fix|Fixed|Add|Added|Remove|Removed|Drop|Dropped|Update|Updated|Improve"
    r"|Improved|Deprecate|Deprecated|Replace|Replaced|Enable|Enabled|Bump|Bumped|Allow"
    r"|Allowed|Change|Changed|Increase|Increased|Use|Make|Apply|Applied|Support)"
    r" (?P<rest>[a-z0-9\"'].*)$"
)
_CHANGELOG_PAST = {
    "fix": "fixed",
    "add": "added",
    "remove": "removed",
    "drop": "dropped",
    "update": "updated",
    "improve": "improved",
    "deprecate": "deprecated",
    "replace": "replaced",
    "enable": "enabled",
    "bump": "bumped",
    "allow": "allowed",
    "change": "changed",
    "increase": "increased",
    "use": "used",
    "make": "made",
    "apply": "applied",
    "support": "added support for",
}
_CHANGELOG_LEADS = ("They {verb}", "This release {verb}", "They {verb}")


@lru_cache(maxsize=1)
def _lemmatiser() -> tuple[Callable[..., tuple[str, ...]], Callable[..., tuple[str, ...]]]:
    from lemminflect import getInflection, getLemma

    return getLemma, getInflection


def _verb_lemma(participle: str) -> str | None:
    """The base form of a past participle ("configured" -> "configure"), else None."""
    get_lemma, get_inflection = _lemmatiser()
    lemmas = get_lemma(participle, upos="VERB")
    if not lemmas:
        return None
    lemma = lemmas[0]
    if lemma == participle and participle not in ("set", "put", "run", "read", "cut", "split"):
        return None
    if participle not in get_inflection(lemma, tag="VBN"):
        return None
    return lemma


def _inflect(lemma: str, tag: str) -> str | None:
    forms = _lemmatiser()[1](lemma, tag=tag)
    return forms[0] if forms else None


def _subject_text(subject: str) -> str:
    """A sentence-initial subject as said after a verb ("The handle" -> "the handle")."""
    first, _, rest = subject.partition(" ")
    if first.lower() in _DETERMINERS or (
        rest and first[1:].islower() and rest.islower() and first.lower() not in _NAMES_KEPT
    ):
        return f"{first.lower()} {rest}".strip()
    return subject


def _plain_subject(subject: str) -> bool:
    words = subject.lower().split()
    return not any(
        word in ("that", "which", "if", "when", "who", "it", "this", "there") for word in words[1:]
    ) and words[0] not in ("it", "there", "this", "that", "what", "which", "no", "nothing")


def _active(sentence: str) -> str:
    """Passive voice made active where the rule is safe, else the sentence unchanged."""
    found = _MODAL_PASSIVE.match(sentence)
    if found and _plain_subject(found["subject"]):
        lemma = _verb_lemma(found["participle"])
        if lemma:
            modal = _MODALS[found["modal"]]
            negation = found["neg"] is not None
            if negation:
                modal = {"can": "can't", "should": "shouldn't", "have to": "mustn't"}.get(
                    modal, f"{modal} not"
                )
                if found["modal"] in ("needs to", "need to"):
                    modal = "don't need to"
            rest = found["rest"]
            return f"You {modal} {lemma} {_subject_text(found['subject'])}{rest}"
    found = _USED_TO.match(sentence)
    if found and _plain_subject(found["subject"]):
        return f"You use {_subject_text(found['subject'])} {found['purpose']} {found['rest']}"
    found = _AGENT_PASSIVE.match(sentence)
    if found and _plain_subject(found["subject"]):
        lemma = _verb_lemma(found["participle"])
        agent = found["agent"]
        if lemma and len(agent.split()) <= 4:
            past = found["aux"] in ("was", "were")
            tag = "VBD" if past else ("VBP" if agent.endswith("s") else "VBZ")
            verb = _inflect(lemma, tag)
            if verb:
                middle = found["middle"].strip()
                middle = f" {middle}" if middle else ""
                return f"{agent} {verb} {_subject_text(found['subject'])}{middle}{found['rest']}"
    return sentence


_RELATIVE_WHICH = re.compile(
    r"(?<=[a-z0-9] )(?P<before>[A-Za-z]+) which (?=(?:is|are|was|were|has|have|had|can|could"
    r"|will|would|may|might|must|should|does|do|did|contains|uses|runs|means|makes|allows"
    r"|lets|supports|stores|converts|returns|takes|gives|includes|became|becomes|holds"
    r"|handles|defines|creates|calls|needs|depends|terminates|stopped|compiles)\b)"
)
_NOT_BEFORE_THAT = frozenset(
    [
        "in",
        "of",
        "on",
        "at",
        "for",
        "by",
        "with",
        "to",
        "from",
        "about",
        "under",
        "through",
        "into",
        "know",
        "decide",
        "choose",
        "control",
        "determine",
        "see",
        "select",
        "specify",
        "show",
        "tell",
        "check",
        "ask",
        "matter",
        "and",
        "or",
        "but",
    ]
)


def _that(sentence: str) -> str:
    """A restrictive "which" said as "that" ("a converter which contains" -> "that")."""

    def swap(found: re.Match[str]) -> str:
        if found["before"].lower() in _NOT_BEFORE_THAT:
            return found.group(0)
        return f"{found['before']} that "

    return _RELATIVE_WHICH.sub(swap, sentence)


_PRONOUN_VERB = re.compile(
    r"^(?P<verb>is|are|was|were|has|have|can|will|may|must|should|does|do|[a-z]+s)\b"
)


def pronoun_start(sentence: str, named: str | None) -> str:
    """The sentence with its subject said as "It" or "They" when the host just named it.

    "Data converters are ..." after "Tell me about data converters." -> "They're ...".
    """
    if not named or any(ch.isdigit() for ch in named) or len(named) < 4:
        return sentence
    for prefix in ("", "The ", "the ", "A ", "An "):
        head = prefix + named
        if sentence.lower().startswith(head.lower() + " "):
            break
    else:
        return sentence
    rest = sentence[len(head) + 1 :]
    found = _PRONOUN_VERB.match(rest)
    if not found:
        return sentence
    verb = found["verb"]
    if verb in ("are", "were", "have", "do"):
        pronoun = "They"
    elif verb in ("is", "was", "has", "does") or (verb.endswith("s") and len(verb) > 3):
        pronoun = "It"
    else:
        pronoun = "They" if named.endswith("s") and not named.endswith("ss") else "It"
    if pronoun == "It" and named.endswith("s") and not named.endswith("ss") and verb == "is":
        return sentence
    text = f"{pronoun} {rest}"
    return _apply(_CONTRACTIONS, text.replace("They are ", "They're ").replace("It is ", "It's "))


def _which(sentence: str) -> str:
    """ ", which is X" -> ". That's X": a relative clause told as its own sentence."""
    found = _WHICH.search(sentence)
    if not found or found.start() < 20:
        return sentence
    verb = found.group(1)
    opener = {"is": "That's", "are": "Those are", "was": "That was"}.get(verb, f"That {verb}")
    return f"{sentence[: found.start()]}. {opener} {sentence[found.end() :]}"


_WORD_IN_LIST = r"[\w'/+-]+(?:\.[\w'/+-]+)*"
_ITEM = rf"(?=[A-Za-z0-9]){_WORD_IN_LIST}(?: {_WORD_IN_LIST}){{0,3}}"
_LIST = re.compile(
    rf"(?P<first>{_ITEM}), (?P<second>{_ITEM}), (?P<third>{_ITEM})(?P<more>(?:, {_ITEM})+),?"
    rf" (?P<joint>and|or) (?P<last>{_ITEM})(?=[,.;:!?]|$|\s(?:that|which|to)\b)"
)
#: Words that end the phrase before a list rather than start its first item.
_LIST_LEADS = frozenset(
    [
        "for",
        "with",
        "of",
        "to",
        "in",
        "on",
        "by",
        "from",
        "like",
        "as",
        "including",
        "is",
        "are",
        "was",
        "were",
        "be",
        "has",
        "have",
        "had",
        "offers",
        "offer",
        "supports",
        "support",
        "provides",
        "provide",
        "includes",
        "include",
        "contains",
        "contain",
        "adds",
        "add",
        "added",
        "gives",
        "give",
        "uses",
        "use",
        "lets",
        "let",
        "needs",
        "need",
        "features",
        "feature",
        "and",
        "or",
        "it",
        "they",
        "this",
        "that",
        "these",
        "those",
        "you",
        "we",
    ]
)
_NOT_ITEMS = frozenset(
    ["however", "that", "which", "provided", "if", "when", "then", "so", "but", "also", "as"]
)
_YEARS = re.compile(r"\b(?P<first>(?:19|20)\d\d)(?P<more>(?:, (?:19|20)\d\d){2,})\b")
_LIST_TAILS = ("among others", "and more", "and a few others")


def _years(found: re.Match[str]) -> str:
    years = [int(found["first"]), *(int(y) for y in found["more"].split(", ")[1:])]
    if years != list(range(years[0], years[0] + len(years))):
        return found.group(0)
    return f"every year from {years[0]} to {years[-1]}"


def _lists(sentence: str, key: int) -> str:
    """A list of five or more items told by its first three ("A, B, C, D, E and F" ->
    "things like A, B and C, among others"), and a run of years by its first and last:
    what a speaker does, since no listener keeps a long list."""
    sentence = _YEARS.sub(_years, sentence)
    found = _LIST.search(sentence)
    if not found:
        return sentence
    lead, first = [], found["first"].split(" ")
    while first and first[0].lower() in _LIST_LEADS:
        lead.append(first.pop(0))
    items = [" ".join(first), found["second"], found["third"]]
    others = [item for item in found["more"].split(", ") if item] + [found["last"]]
    if (
        found["joint"] != "and"
        or not items[0]
        or any(item.split(" ", 1)[0].lower() in _NOT_ITEMS for item in items + others)
        or any(word.lower() in ("and", "or") for item in items + others for word in item.split())
    ):
        return sentence
    tail = _LIST_TAILS[key % len(_LIST_TAILS)]
    told = f"things like {items[0]}, {items[1]} and {items[2]}, {tail}"
    head = sentence[: found.start()] + " ".join([*lead, ""])
    return f"{head}{told}{sentence[found.end() :]}"


_QUALIFIERS = (
    (re.compile(r", including(?: without limitation)? "), ". That includes "),
    (re.compile(r", excluding "), ". It leaves out "),
    (re.compile(r", such as "), ". For example, "),
    (re.compile(r", for example "), ". For example, "),
    (re.compile(r", unless "), ". Not if "),
    (re.compile(r", except "), ". The exception is "),
    (re.compile(r", where (?=[a-z])"), ". That's where "),
)


def _qualifiers(sentence: str) -> str:
    """A trailing qualifier said as its own sentence (", including X" -> ". That includes
    X"), when the sentence is long enough for a listener to need the break."""
    if len(sentence.split()) < 16:
        return sentence
    for pattern, opener in _QUALIFIERS:
        found = pattern.search(sentence)
        if found and found.start() >= 30 and len(sentence) - found.end() >= 12:
            sentence = f"{sentence[: found.start()]}{opener}{sentence[found.end() :]}"
    return sentence


def _changelog(sentence: str, key: int) -> str:
    """ "Fix X" / "Added Y" (a changelog entry) -> "They fixed X" / "This release added Y"."""
    found = _CHANGELOG.match(sentence)
    if not found:
        return sentence
    verb = found["verb"].lower()
    past = _CHANGELOG_PAST.get(verb, verb if verb.endswith("ed") else "")
    if not past:
        past = _CHANGELOG_PAST.get(verb.removesuffix("d").removesuffix("e") or verb, "")
    if not past:
        return sentence
    if verb == "support" and found["rest"].startswith("for "):
        past = "added support"
    lead = _CHANGELOG_LEADS[key % len(_CHANGELOG_LEADS)].format(verb=past)
    return f"{lead} {found['rest']}"


def _apply(rules: tuple[_Rule, ...], text: str) -> str:
    for pattern, spoken in rules:
        text = pattern.sub(lambda m, s=spoken: _keep_case(m, s), text)  # type: ignore[misc]
    return text


def _keep_case(match: re.Match[str], spoken: str | Callable[[re.Match[str]], str]) -> str:
    original = match.group(0)
    named_rule = any(ch.isupper() for ch in match.re.pattern.replace(r"\b", ""))
    if match.start() > 0 and original[:1].isupper() and original[1:2].islower() and not named_rule:
        return original  # a capitalised word mid-sentence is a name ("Provides-Extra")
    text = spoken(match) if callable(spoken) else match.expand(spoken)
    letters = [ch for ch in original if ch.isalpha()]
    if len(letters) > 1 and all(ch.isupper() for ch in letters):
        return text.upper()  # a shouted passage stays shouted, not half lower case
    if original[:1].isupper() and text[:1].islower() and match.start() == 0:
        return text[0].upper() + text[1:]
    return text


def respeak(sentence: str, key: int = 0) -> str:
    """A sentence of the notes as a person would say it: same facts, spoken words."""
    text = _PARENTHETICAL.sub("", sentence).strip()
    for pattern, opener in _OPENERS:
        text = pattern.sub(opener, text, count=1)
    text = _active(text)
    text = _changelog(text, key)
    text = _apply(_PHRASES, text)
    text = _apply(_CONTRACTIONS, text)
    text = _lists(text, key)
    for pattern, spoken in _VOICE:
        text = pattern.sub(spoken, text)
    text = _that(text)
    text = _which(text)
    text = _qualifiers(text)
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r",\s*,", ",", text)
    text = re.sub(r"\s{2,}", " ", text).strip()
    if text[:1].islower():
        text = text[0].upper() + text[1:]
    if not text or any(has_hole(piece) for piece in re.split(r"(?<=[.!?])\s+", text)):
        return sentence
    return text


# --------------------------------------------------------------------------- question and answer

_CONDITION = re.compile(
    r"^(?P<word>If|When|Whenever|Once) (?P<clause>[^,]{8,90}), (?P<rest>.{12,})$"
)
_PURPOSE = re.compile(r"^To (?P<verb>[a-z]+)(?P<clause>[^,]{2,60}), (?P<rest>.{12,})$")
_DATE = re.compile(
    r"^In (?P<date>(?:(?:January|February|March|April|May|June|July|August|September"
    r"|October|November|December) )?\d{4}), (?P<rest>.{12,})$"
)
_CONDITION_QUESTIONS = {
    "if": ("What if {clause}?", "And if {clause}?", "What happens if {clause}?"),
    "when": ("What happens when {clause}?", "And when {clause}?"),
    "whenever": ("And whenever {clause}?",),
    "once": ("And once {clause}?", "What happens once {clause}?"),
}


def _lower_start(text: str) -> str:
    word = text.split(" ", 1)[0]
    if len(word) > 1 and word[1:].islower() and word != "I":
        return text[0].lower() + text[1:]
    return text


def _upper_start(text: str) -> str:
    return text[0].upper() + text[1:] if text else text


def ask_and_answer(sentence: str, key: int = 0) -> tuple[str, str] | None:
    """A question the host can ask and the guest's answer, together the sentence's facts.

    "If the system supports SIGALRM, the signal method is used." -> ("What if the system
    supports SIGALRM?", "Then the signal method is used."). None when the sentence has no
    condition, purpose or date to ask about.
    """
    found = _CONDITION.match(sentence)
    if found:
        options = _CONDITION_QUESTIONS[found["word"].lower()]
        clause = _apply(_CONTRACTIONS, _lower_start(found["clause"]))
        question = options[key % len(options)].format(clause=clause)
        answer = f"Then {_lower_start(respeak(_upper_start(found['rest']), key))}"
        return _checked(question, answer)
    found = _PURPOSE.match(sentence)
    if found and not found["verb"].endswith(("ly", "ed")) and found["verb"] not in ("date", "be"):
        question = f"How do you {found['verb']}{found['clause']}?"
        return _checked(question, respeak(_upper_start(found["rest"]), key))
    found = _DATE.match(sentence)
    if found:
        question = f"What happened in {found['date']}?"
        return _checked(question, respeak(_upper_start(found["rest"]), key))
    return None


def _checked(question: str, answer: str) -> tuple[str, str] | None:
    if has_hole(question) or any(has_hole(p) for p in re.split(r"(?<=[.!?])\s+", answer)):
        return None
    return question, answer
