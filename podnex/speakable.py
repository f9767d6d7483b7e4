"""Text normalisation for speech: what a line of the script sounds like when read aloud.

The script keeps readable text ("$9,000", "v1.2.3", "40 ms", "2024-01-05"); the speech
step calls :func:`speakable` on each line right before synthesis, so every engine hears
the same words ("nine thousand dollars", "version one point two point three", "forty
milliseconds", "January fifth, twenty twenty-four"). Numbers are spelled with
``num2words``; the patterns around them (money, percentages, units, dates, times,
versions, ranges, ordinals, abbreviations and symbols) are recognised here.

English gets the full treatment. For another language (a name such as "Spanish" or a
BCP 47 tag such as "es-MX") plain numbers are spelled in that language when ``num2words``
knows it, and markup symbols are removed; the rest is left to the engine, which reads its
own language better than English rules would.
"""

from __future__ import annotations

import re

from num2words import CONVERTER_CLASSES, num2words

__all__ = ["speakable", "spoken_word_count"]

_LANGUAGE_NAMES = {
    "english": "en",
    "spanish": "es",
    "french": "fr",
    "german": "de",
    "italian": "it",
    "portuguese": "pt",
    "dutch": "nl",
    "polish": "pl",
    "russian": "ru",
    "swedish": "sv",
    "danish": "da",
    "norwegian": "no",
    "finnish": "fi",
    "czech": "cs",
    "turkish": "tr",
    "ukrainian": "uk",
    "japanese": "ja",
    "korean": "ko",
}

_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_MONTH_ABBREVIATIONS = {name[:3].lower(): name for name in _MONTHS} | {"sept": "September"}

_CURRENCIES = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "US$": ("US dollar", "US dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "¥": ("yen", "yen", "", ""),
    "₹": ("rupee", "rupees", "paisa", "paise"),
}
_CURRENCY_CODES = {
    "USD": ("US dollar", "US dollars", "cent", "cents"),
    "EUR": ("euro", "euros", "cent", "cents"),
    "GBP": ("pound", "pounds", "penny", "pence"),
    "CAD": ("Canadian dollar", "Canadian dollars", "cent", "cents"),
    "AUD": ("Australian dollar", "Australian dollars", "cent", "cents"),
    "JPY": ("yen", "yen", "", ""),
    "CHF": ("Swiss franc", "Swiss francs", "centime", "centimes"),
}
_SCALES = {
    "k": "thousand",
    "K": "thousand",
    "m": "million",
    "M": "million",
    "mn": "million",
    "b": "billion",
    "B": "billion",
    "bn": "billion",
    "T": "trillion",
    "thousand": "thousand",
    "million": "million",
    "billion": "billion",
    "trillion": "trillion",
}

#: Units after a number: the symbol (case-sensitive) -> (singular, plural).
_UNITS: dict[str, tuple[str, str]] = {
    "ms": ("millisecond", "milliseconds"),
    "µs": ("microsecond", "microseconds"),
    "us": ("microsecond", "microseconds"),
    "ns": ("nanosecond", "nanoseconds"),
    "s": ("second", "seconds"),
    "sec": ("second", "seconds"),
    "secs": ("second", "seconds"),
    "min": ("minute", "minutes"),
    "mins": ("minute", "minutes"),
    "h": ("hour", "hours"),
    "hr": ("hour", "hours"),
    "hrs": ("hour", "hours"),
    "B": ("byte", "bytes"),
    "KB": ("kilobyte", "kilobytes"),
    "kB": ("kilobyte", "kilobytes"),
    "KiB": ("kibibyte", "kibibytes"),
    "MB": ("megabyte", "megabytes"),
    "MiB": ("mebibyte", "mebibytes"),
    "GB": ("gigabyte", "gigabytes"),
    "GiB": ("gibibyte", "gibibytes"),
    "TB": ("terabyte", "terabytes"),
    "TiB": ("tebibyte", "tebibytes"),
    "Kb": ("kilobit", "kilobits"),
    "Mb": ("megabit", "megabits"),
    "Gb": ("gigabit", "gigabits"),
    "kbps": ("kilobit per second", "kilobits per second"),
    "Mbps": ("megabit per second", "megabits per second"),
    "Gbps": ("gigabit per second", "gigabits per second"),
    "Hz": ("hertz", "hertz"),
    "kHz": ("kilohertz", "kilohertz"),
    "MHz": ("megahertz", "megahertz"),
    "GHz": ("gigahertz", "gigahertz"),
    "mm": ("millimetre", "millimetres"),
    "cm": ("centimetre", "centimetres"),
    "km": ("kilometre", "kilometres"),
    "kg": ("kilogram", "kilograms"),
    "mg": ("milligram", "milligrams"),
    "lb": ("pound", "pounds"),
    "lbs": ("pound", "pounds"),
    "ft": ("foot", "feet"),
    "mph": ("mile per hour", "miles per hour"),
    "km/h": ("kilometre per hour", "kilometres per hour"),
    "°C": ("degree Celsius", "degrees Celsius"),
    "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"),
    "dB": ("decibel", "decibels"),
    "dBFS": ("decibel full scale", "decibels full scale"),
    "dBTP": ("decibel true peak", "decibels true peak"),
    "LUFS": ("LUFS", "LUFS"),
    "LU": ("loudness unit", "loudness units"),
    "px": ("pixel", "pixels"),
    "x": ("times", "times"),
    "\u00d7": ("times", "times"),
    "wpm": ("word per minute", "words per minute"),
    "rps": ("request per second", "requests per second"),
    "fps": ("frame per second", "frames per second"),
    "GW": ("gigawatt", "gigawatts"),
    "MW": ("megawatt", "megawatts"),
    "kW": ("kilowatt", "kilowatts"),
    "kWh": ("kilowatt hour", "kilowatt hours"),
    "W": ("watt", "watts"),
    "V": ("volt", "volts"),
}

_ABBREVIATIONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), spoken)
    for pattern, spoken in (
        (r"\be\.\s?g\.(?:,)?", "for example,"),
        (r"\bi\.\s?e\.(?:,)?", "that is,"),
        (r"\betc\.(?=\s+[A-Z])", "et cetera."),
        (r"\betc\.?", "et cetera"),
        (r"\bvs\.?(?=\s)", "versus"),
        (r"\bapprox\.", "approximately"),
        (r"\bcf\.", "compare"),
        (r"\bw/o\b", "without"),
        (r"\bw/(?=\s)", "with"),
        (r"\bDr\.(?=\s+[A-Z])", "Doctor"),
        (r"\bMr\.(?=\s+[A-Z])", "Mister"),
        (r"\bMrs\.(?=\s+[A-Z])", "Missus"),
        (r"\bMs\.(?=\s+[A-Z])", "Miz"),
        (r"\bProf\.(?=\s+[A-Z])", "Professor"),
        (r"\bSt\.(?=\s+[A-Z])", "Saint"),
        (r"\b[Nn]o\.(?=\s?\d)", "number"),
        (r"#(?=\d)", "number "),
        (r"(?:(?<=\s)|^)[-\u2212](?=\d)", "minus "),
        (r"\b(?:[Aa]\.[Mm]\.|AM)(?=[\s,.;!?]|$)", "A M"),
        (r"\b(?:[Pp]\.[Mm]\.|PM)(?=[\s,.;!?]|$)", "P M"),
        (r"\bJan\.(?=\s)", "January"),
        (r"\bFeb\.(?=\s)", "February"),
        (r"\bAug\.(?=\s)", "August"),
        (r"\bSept?\.(?=\s)", "September"),
        (r"\bOct\.(?=\s)", "October"),
        (r"\bNov\.(?=\s)", "November"),
        (r"\bDec\.(?=\s)", "December"),
    )
)

_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_URL = re.compile(r"\b(?:https?://|ftp://|www\.)[^\s<>\"']*[^\s<>\"'.,;:!?)\]]", re.IGNORECASE)
_DOMAIN = re.compile(r"\b[\w-]+(?:\.[\w-]+)*\.(?:com|org|net|io|dev|ai|app)\b", re.IGNORECASE)
_EMAIL = re.compile(r"\b([\w.+-]+)@([\w-]+(?:\.[\w-]+)+)\b")
_ISO_DATE = re.compile(
    r"\b(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::\d{2}(?:\.\d+)?)?Z?)?\b"
)
_MONTH_NAMES = "|".join(_MONTHS) + r"|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?"
_MONTH_DAY = re.compile(rf"\b({_MONTH_NAMES})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?")
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTH_NAMES})\b(?:,?\s+(\d{{4}}))?")
_MONTH_YEAR = re.compile(rf"\b({_MONTH_NAMES})\s+(\d{{4}})\b")
_TIME = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)(?::[0-5]\d)?\b(\s*(?:A M|P M))?")
_MONEY = re.compile(
    r"(?<![\w$€£¥₹])(US\$|[$€£¥₹])\s?(" + _NUMBER + r")(?:\s?(thousand|million|billion|trillion"
    r"|bn|mn|[kKmMbBT])\b)?"
)
_MONEY_CODE = re.compile(
    r"\b(USD|EUR|GBP|CAD|AUD|JPY|CHF)\s?(" + _NUMBER + r")(?:\s?(thousand|million|billion"
    r"|[kKmMbB])\b)?|\b(" + _NUMBER + r")\s?(USD|EUR|GBP|CAD|AUD|JPY|CHF)\b"
)
_PERCENT = re.compile(r"([+-]?)(" + _NUMBER + r")\s?(%|per ?cent\b)")
_VERSION = re.compile(
    r"(?<![\w.])([vV](?:ersion)?\s?)?(\d+(?:\.\d+){2,})"
    r"(?:[-.]?((?:rc|a|b|alpha|beta|dev|post)\d*))?(?![\w])"
)
_SHORT_VERSION = re.compile(r"(?<![\w.])[vV](\d+(?:\.\d+)?)(?![\w]|\.\d)")
_NAMED_VERSION = re.compile(r"\b((?:[A-Z][\w+-]*|version|release)\s)(\d+\.\d+)(?![\d.]*\d)")
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b")
_UNIT_NAMES = "|".join(sorted((re.escape(u) for u in _UNITS), key=len, reverse=True))
_UNIT = re.compile(r"(?<![\w.])(" + _NUMBER + r")\s?(" + _UNIT_NAMES + r")(?![\w/])")
_SCALED = re.compile(r"(?<![\w.])(" + _NUMBER + r")([kKM]|bn)(?![\w])")
_RANGE = re.compile(
    r"(?<![\w.,-])(" + _NUMBER + r")\s?(?:-|\u2013|—|\.\.)\s?(" + _NUMBER + r")(?![\w.]\d)"
)
_FRACTION = re.compile(r"(?<![\w./])(\d{1,3})/(\d{1,3})(?![\w/])")
_NUMBER_TOKEN = re.compile(r"(?<![\w])([-+\u2212]?)(" + _NUMBER + r")(?![\w])")
_LONG_DIGITS = re.compile(r"(?<![\w.,])\d{7,}(?![\w.,]\d)")
_YEAR_CONTEXT = re.compile(
    r"(?:\b(?:in|since|by|from|until|till|of|during|after|before|around|year|early|late|mid|"
    r"to|and|through)\s+|[,(]\s*|^)$",
    re.IGNORECASE,
)
#: Digits left inside a word once every number pattern is spoken ("Jinja2", "utempter.3").
_ATTACHED_DIGITS = re.compile(r"\d+(?:\.\d+)?")
_ARROWS = re.compile(r"\s*(?:-+>|=+>|→|⇒)\s*")
_SYMBOLS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), spoken)
    for pattern, spoken in (
        (r"\bC\+\+", "C plus plus"),
        (r"\bC#", "C sharp"),
        (r"\bF#", "F sharp"),
        (r"\.NET\b", "dot net"),
        (r"\bNode\.js\b", "Node J S"),
        (r"(?<=\w)\.js\b", " J S"),
        (r"(?<=\w)\.py\b", " dot py"),
        (r"\s&\s|&", " and "),
        (r"(?<=\s)\+(?=\s)", " plus "),
        (r"(?<=\s)=(?=\s)", " equals "),
        (r"(?<![\w-])--?(?=[A-Za-z])", ""),
        (r"=", " "),
        (r"(?<=\s)<=(?=\s)|≤", " at most "),
        (r"(?<=\s)>=(?=\s)|≥", " at least "),
        (r"(?<=\s)<(?=\s)", " less than "),
        (r"(?<=\s)>(?=\s)", " greater than "),
        (r"±", " plus or minus "),
        (r"~(?=\s?\d)|≈", " about "),
        (r"(?<=\s)@(?=\s)", " at "),
        (r"#(?=\d)", "number "),
        (r"(?<=[A-Za-z])/(?=[A-Za-z])", " "),
        (r"…", "..."),
        (r"[“”„]", '"'),
        (r"[\u2018\u2019\u201a]", "'"),
        (r"\s[\u2013—]\s|[\u2013—]", ", "),
        (r"[*_`|\\^{}\[\]<>#~@]", " "),
    )
)
_SPACE = re.compile(r"[ \t\u00a0]+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?])")
_DOUBLE_COMMA = re.compile(r",\s*,+")


def speakable(text: str, language: str | None = None) -> str:
    """Return ``text`` as it should be read aloud: numbers, symbols and shorthand in words.

    ``language`` is a name ("Spanish") or a BCP 47 tag ("es-MX"); None means English.
    The result never contains markup symbols or digits in English.
    """
    code = _language_code(language)
    if code != "en":
        return _tidy(_spell_numbers(_strip_symbols(text), code))
    text = _URL.sub(lambda m: _spoken_url(m.group()), text)
    text = _DOMAIN.sub(lambda m: _dotted(m.group()), text)
    text = _EMAIL.sub(lambda m: f"{_dotted(m.group(1))} at {_dotted(m.group(2))}", text)
    text = _ARROWS.sub(" to ", text)
    for pattern, spoken in _ABBREVIATIONS:
        text = pattern.sub(spoken, text)
    text = _ISO_DATE.sub(_iso_date, text)
    text = _MONTH_DAY.sub(_month_day, text)
    text = _DAY_MONTH.sub(_day_month, text)
    text = _MONTH_YEAR.sub(lambda m: f"{_month(m.group(1))} {_year(int(m.group(2)))}", text)
    text = _TIME.sub(_time, text)
    text = _MONEY.sub(_money, text)
    text = _MONEY_CODE.sub(_money_code, text)
    text = _PERCENT.sub(_percent, text)
    text = _VERSION.sub(_version, text)
    text = _NAMED_VERSION.sub(lambda m: m.group(1) + _version_number(m.group(2)), text)
    text = _SHORT_VERSION.sub(_short_version, text)
    text = _ORDINAL.sub(lambda m: num2words(int(m.group(1)), to="ordinal"), text)
    text = _FRACTION.sub(_fraction, text)
    text = _RANGE.sub(lambda m: f"{m.group(1)} to {m.group(2)}", text)
    text = _UNIT.sub(_unit, text)
    text = _SCALED.sub(lambda m: f"{_number(m.group(1))} {_SCALES[m.group(2)]}", text)
    text = _LONG_DIGITS.sub(lambda m: _digits(m.group()), text)
    text = _replace_numbers(text)
    text = _ATTACHED_DIGITS.sub(lambda m: f" {_number(m.group())} ", text)
    text = _strip_symbols(text)
    return _tidy(text)


def spoken_word_count(text: str, language: str | None = None) -> int:
    """How many words ``text`` has once made speakable (what an engine actually says)."""
    return len(speakable(text, language).split())


# --------------------------------------------------------------------------- helpers


def _language_code(language: str | None) -> str:
    """The num2words code for a language name or tag; "en" for None or unknown English."""
    if not language:
        return "en"
    lowered = language.strip().lower()
    if lowered in _LANGUAGE_NAMES:
        return _LANGUAGE_NAMES[lowered]
    tag = lowered.replace("-", "_")
    primary = tag.split("_")[0]
    if primary == "en":
        return "en"
    for candidate in (tag[:2] + tag[2:].upper(), primary):
        if candidate in CONVERTER_CLASSES:
            return candidate
    return primary


def _tidy(text: str) -> str:
    text = _DOUBLE_COMMA.sub(",", _SPACE.sub(" ", text))
    return _SPACE_BEFORE_PUNCT.sub(r"\1", text).strip()


def _strip_symbols(text: str) -> str:
    for pattern, spoken in _SYMBOLS:
        text = pattern.sub(spoken, text)
    return text


def _spell_numbers(text: str, code: str) -> str:
    """Spell plain numbers in another language, when num2words knows it."""
    if code not in CONVERTER_CLASSES:
        return text

    def spell(match: re.Match[str]) -> str:
        try:
            return str(num2words(_parse(match.group(2)), lang=code))
        except (NotImplementedError, OverflowError, ValueError):
            return match.group()

    return _NUMBER_TOKEN.sub(spell, text)


def _parse(number: str) -> int | float:
    plain = number.replace(",", "")
    return float(plain) if "." in plain else int(plain)


def _cardinal(value: int) -> str:
    return str(num2words(value))


def _number(number: str) -> str:
    """A number as words: "9,000" -> "nine thousand", "3.05" -> "three point zero five"."""
    plain = number.replace(",", "")
    whole, _, fraction = plain.partition(".")
    spoken = _cardinal(int(whole)) if len(whole) < 16 else _digits(whole)
    if fraction:
        spoken += " point " + _digits(fraction)
    return spoken


_DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def _digits(digits: str) -> str:
    return " ".join(_DIGIT_WORDS[int(d)] for d in digits if d.isdigit())


def _year(year: int) -> str:
    return str(num2words(year, to="year")).replace("-", " ") if year >= 1000 else _cardinal(year)


def _month(name: str) -> str:
    key = name.rstrip(".").lower()
    return _MONTH_ABBREVIATIONS.get(key[:4] if key.startswith("sept") else key[:3], name)


def _day(day: int) -> str:
    return str(num2words(day, to="ordinal"))


def _iso_date(match: re.Match[str]) -> str:
    year, month, day = int(match.group(1)), int(match.group(2)), int(match.group(3))
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return match.group()
    spoken = f"{_MONTHS[month - 1]} {_day(day)}, {_year(year)}"
    if match.group(4):
        spoken += " at " + _clock(int(match.group(4)), int(match.group(5)))
    return spoken


def _month_day(match: re.Match[str]) -> str:
    day = int(match.group(2))
    if not 1 <= day <= 31:
        return match.group()
    spoken = f"{_month(match.group(1))} {_day(day)}"
    return spoken + (f", {_year(int(match.group(3)))}" if match.group(3) else "")


def _day_month(match: re.Match[str]) -> str:
    day = int(match.group(1))
    if not 1 <= day <= 31:
        return match.group()
    spoken = f"{_month(match.group(2))} {_day(day)}"
    return spoken + (f", {_year(int(match.group(3)))}" if match.group(3) else "")


def _clock(hours: int, minutes: int) -> str:
    if minutes == 0:
        return f"{_cardinal(hours)} hundred" if hours >= 13 or hours == 0 else _cardinal(hours)
    if minutes < 10:
        return f"{_cardinal(hours)} oh {_cardinal(minutes)}"
    return f"{_cardinal(hours)} {_cardinal(minutes)}"


def _time(match: re.Match[str]) -> str:
    hours, minutes = int(match.group(1)), int(match.group(2))
    suffix = match.group(3) or ""
    if suffix and minutes == 0:
        return f"{_cardinal(hours)}{suffix}"
    return _clock(hours, minutes) + suffix


def _amount(number: str, scale: str | None, names: tuple[str, str, str, str]) -> str:
    singular, plural, cent, cents = names
    if scale:
        return f"{_number(number)} {_SCALES[scale]} {plural}"
    plain = number.replace(",", "")
    whole, _, fraction = plain.partition(".")
    units = int(whole)
    spoken = f"{_cardinal(units)} {singular if units == 1 else plural}"
    if fraction and cent and len(fraction) == 2 and int(fraction):
        hundredths = int(fraction)
        spoken += f" and {_cardinal(hundredths)} {cent if hundredths == 1 else cents}"
    elif fraction and int(fraction):
        spoken = f"{_number(plain)} {plural}"
    return spoken


def _money(match: re.Match[str]) -> str:
    return _amount(match.group(2), match.group(3), _CURRENCIES[match.group(1)])


def _money_code(match: re.Match[str]) -> str:
    if match.group(1):
        return _amount(match.group(2), match.group(3), _CURRENCY_CODES[match.group(1)])
    return _amount(match.group(4), None, _CURRENCY_CODES[match.group(5)])


def _percent(match: re.Match[str]) -> str:
    sign = {"+": "plus ", "-": "minus "}.get(match.group(1), "")
    return f"{sign}{_number(match.group(2))} percent"


def _version_number(version: str) -> str:
    parts = []
    for part in version.split("."):
        parts.append(_digits(part) if len(part) > 1 and part.startswith("0") else _number(part))
    return " point ".join(parts)


_PRERELEASE = {"rc": "release candidate", "a": "alpha", "b": "beta", "dev": "dev", "post": "post"}


def _version(match: re.Match[str]) -> str:
    spoken = _version_number(match.group(2))
    if match.group(1):
        spoken = "version " + spoken
    tag = match.group(3)
    if tag:
        name = re.match(r"[a-z]+", tag)
        number = tag[name.end() :] if name else ""
        label = _PRERELEASE.get(name.group(), name.group()) if name else tag
        spoken += f" {label}" + (f" {_number(number)}" if number else "")
    return spoken


def _short_version(match: re.Match[str]) -> str:
    return "version " + _version_number(match.group(1))


def _fraction(match: re.Match[str]) -> str:
    top, bottom = int(match.group(1)), int(match.group(2))
    if (top, bottom) == (24, 7):
        return "twenty-four seven"
    if bottom == 2 and top == 1:
        return "one half"
    if bottom in (2, 3, 4) and 0 < top < bottom:
        name = {2: "half", 3: "third", 4: "quarter"}[bottom]
        return f"{_cardinal(top)} {name}{'s' if top > 1 else ''}"
    return f"{_cardinal(top)} out of {_cardinal(bottom)}"


def _unit(match: re.Match[str]) -> str:
    number, unit = match.group(1), match.group(2)
    singular, plural = _UNITS[unit]
    if unit in ("x", "\u00d7"):
        return f"{_number(number)} times"
    return f"{_number(number)} {singular if number == '1' else plural}"


def _replace_numbers(text: str) -> str:
    """Spell every number left: years in context as years, others as cardinals."""
    parts: list[str] = []
    position = 0
    for match in _NUMBER_TOKEN.finditer(text):
        parts.append(text[position : match.start()])
        sign, number = match.group(1), match.group(2)
        before = text[max(0, match.start() - 12) : match.start()]
        spoken: str
        if not sign and re.fullmatch(r"1[1-9]\d\d|20\d\d", number) and _YEAR_CONTEXT.search(before):
            spoken = _year(int(number))
        else:
            spoken = _number(number)
            if sign in ("-", "\u2212") and (match.start() == 0 or text[match.start() - 1] in " (["):
                spoken = "minus " + spoken
            elif sign == "+":
                spoken = "plus " + spoken
            elif sign:
                spoken = " " + spoken
        parts.append(spoken)
        position = match.end()
    parts.append(text[position:])
    return "".join(parts)


def _dotted(text: str) -> str:
    return " dot ".join(part for part in re.split(r"\.", text) if part)


def _spoken_url(url: str) -> str:
    host = re.sub(r"^(?:https?|ftp)://", "", url, flags=re.IGNORECASE)
    host = host.split("/", 1)[0].split("?", 1)[0]
    host = re.sub(r"^www\.", "", host, flags=re.IGNORECASE)
    return _dotted(host)
