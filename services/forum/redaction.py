"""Removing personal contact details from posts, so members stay anonymous to each other.

Removed: phone numbers that are not known hotlines, e-mail addresses (also "name (at) host
(dot) com"), street addresses, and social-media handles and profile links. Each is replaced by
a neutral marker. Sobriety counts, dates, times, years, money, "24/7" and "12-step" stay.

The patterns lean towards removing: a missed phone number can out someone, a removed date costs
little. What was removed is not kept anywhere, not even in the result.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

RemovedKind = Literal["social", "email", "phone", "address"]

MARKERS: dict[RemovedKind, str] = {
    "social": "[social media handle removed]",
    "email": "[email address removed]",
    "phone": "[phone number removed]",
    "address": "[address removed]",
}


@dataclass(frozen=True)
class RedactionResult:
    text: str
    #: Each kind of detail removed, once, in the order social, email, phone, address.
    removed_kinds: tuple[RemovedKind, ...]


def redact_contact_details(text: str, allowed_numbers: Iterable[str]) -> RedactionResult:
    """Replace personal contact details in `text` with markers. Pure; never raises on any text.

    `allowed_numbers` are hotline numbers (or whole contact strings) to keep; they are compared
    by their digits, so "+44 808 2000 247" matches "0808 2000 247".
    """
    hotlines = _HotlineNumbers(allowed_numbers)
    # Links and e-mails go first: they hold "@" and digits the later passes would half-match.
    passes: tuple[tuple[RemovedKind, Callable[[str], tuple[str, int]]], ...] = (
        ("social", _redact_social),
        ("email", _redact_emails),
        ("phone", lambda t: _redact_phones(t, hotlines)),
        ("address", _redact_addresses),
    )
    removed: list[RemovedKind] = []
    for kind, redact in passes:
        text, count = redact(text)
        if count:
            removed.append(kind)
    return RedactionResult(text=text, removed_kinds=tuple(removed))


# --- shared -----------------------------------------------------------------------------------


def _substitute(
    pattern: re.Pattern[str], marker: str, text: str, keep: Callable[[re.Match[str]], bool] | None = None
) -> tuple[str, int]:
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        if keep is not None and keep(match):
            return match.group()
        count += 1
        return marker

    return pattern.sub(replace, text), count


# --- social media -----------------------------------------------------------------------------

# Sites whose every link points at a person or a private chat, and sites where only some paths do.
_PROFILE_SITES = (
    r"instagram\.com|instagr\.am|facebook\.com|fb\.com|fb\.me|m\.me|twitter\.com|x\.com|tiktok\.com|"
    r"snapchat\.com|t\.me|telegram\.me|discord\.gg|kik\.me|wa\.me|threads\.net|bsky\.app|linktr\.ee|"
    r"onlyfans\.com|twitch\.tv|vk\.com"
)
_PROFILE_PATHS = (
    r"youtube\.com/(?:@|c/|channel/|user/)|reddit\.com/(?:u|user)/|linkedin\.com/in/|"
    r"(?:discord|discordapp)\.com/(?:users|invite)/"
)
_SOCIAL_LINK = re.compile(
    rf"(?<![\w.@-])(?:https?://)?(?:[\w-]+\.)*(?:(?:{_PROFILE_SITES})/|{_PROFILE_PATHS})"
    r"[^\s<>\"']*[^\s<>\"'.,!?;:)\]]",
    re.IGNORECASE,
)
_PLATFORM = (
    r"(?:insta(?:gram)?|ig|snap(?:chat)?|telegram|discord|kik|tik\s?tok|twitter|fb|facebook|whats\s?app|"
    r"signal|wickr|threads|bluesky|bsky|reddit|skype|we\s?chat|viber)"
)
_HANDLE = r"@?[\w](?:[\w.-]{0,30}[\w])?(?:#\d{4})?"
_PLATFORM_HANDLE = re.compile(
    # "insta: name", "snap username = name"
    rf"\b{_PLATFORM}(?:\s+(?:handle|username|user\s?name|user|name|id|account|acct))?\s*[:=]\s*(?P<h1>{_HANDLE})"
    # "my discord is name"
    rf"|\bmy\s+{_PLATFORM}(?:\s+(?:handle|username|user\s?name|name|id|account|acct))?\s+is\s+(?P<h2>{_HANDLE})"
    # "add me on snap jane_doe99": without a colon, only a token that looks like a handle
    rf"|\b{_PLATFORM}\s+(?P<h3>@?(?=[\w.]*[^\W\d_])(?=[\w.]*[\d_])[\w](?:[\w.-]{{0,30}}[\w])?)",
    re.IGNORECASE,
)
_AT_HANDLE = re.compile(
    r"(?<![\w@.])@(?!\d{1,2}(?:[:.]\d{2})?\s?(?:am|pm|h)\b)(?=[\w.]*[^\W\d_])[\w](?:[\w.]{0,29}[\w])?",
    re.IGNORECASE,
)
_REDDIT_USER = re.compile(r"(?<![\w/])u/[\w-]{3,20}\b")

#: Words a handle pattern may catch that are ordinary talk ("insta: the worst", "@home").
_ORDINARY_WORDS = frozenset(
    "a all also always an and any at because but day do done everyone for gone has have he her here his home how i if in "
    "is it it's its just lol me meeting meetings my never night no noon not now of off ok on once one or our out "
    "please really same school she so still that the them then there they this to too us was we what when "
    "where who why work yes you your".split()
)


def _is_ordinary_word(handle: str) -> bool:
    return handle.lstrip("@").lower() in _ORDINARY_WORDS


def _platform_handle_is_ordinary(match: re.Match[str]) -> bool:
    handle = match.group("h1") or match.group("h2") or match.group("h3") or ""
    return _is_ordinary_word(handle)


def _redact_social(text: str) -> tuple[str, int]:
    marker = MARKERS["social"]
    total = 0
    for pattern, keep in (
        (_SOCIAL_LINK, None),
        (_PLATFORM_HANDLE, _platform_handle_is_ordinary),
        (_AT_HANDLE, lambda m: _is_ordinary_word(m.group())),
        (_REDDIT_USER, None),
    ):
        text, count = _substitute(pattern, marker, text, keep)
        total += count
    return text, total


# --- e-mail -----------------------------------------------------------------------------------

#: The local part never starts inside a run of name characters: scanning stays linear on long text.
_LOCAL_PART = r"(?<![\w.+-])[\w.+-]+"
_EMAIL = re.compile(rf"{_LOCAL_PART}@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{{2,}}\b")
_OBFUSCATED_EMAIL = re.compile(
    # "name (at) host (dot) com", "name [at] host.com"
    rf"{_LOCAL_PART}\s*[(\[{{]\s*at\s*[)\]}}]\s*[\w-]+(?:\s*(?:[(\[{{]\s*dot\s*[)\]}}]|\.)\s*[\w-]+)+"
    # "name at host dot com"
    rf"|{_LOCAL_PART}\s+at\s+[\w-]+(?:\s+dot\s+(?!dot\b)[a-z]{{2,6}})+\b"
    # "name at gmail.com"
    rf"|{_LOCAL_PART}\s+at\s+(?:gmail|googlemail|yahoo|hotmail|outlook|icloud|protonmail|proton|aol|live|msn|gmx|yandex)"
    r"\s*\.\s*[a-z]{2,}(?:\.[a-z]{2,})?\b",
    re.IGNORECASE,
)


def _redact_emails(text: str) -> tuple[str, int]:
    text, plain = _substitute(_EMAIL, MARKERS["email"], text)
    text, obfuscated = _substitute(_OBFUSCATED_EMAIL, MARKERS["email"], text)
    return text, plain + obfuscated


# --- phone numbers ----------------------------------------------------------------------------

#: Digit groups joined by a space, dot, dash or slash, with "(0)" or "(555)" groups; no line breaks.
_PHONE = re.compile(
    r"(?<![\w+.\-/])(?:\+[ \u00a0]?)?(?:\(\d{1,6}\)|\d+)"
    r"(?:[ \u00a0]?\(\d{1,6}\)|(?<=\))\d+|(?:[ \u00a0]?[.\-/][ \u00a0]?|[ \u00a0])\d+)*"
)
_MIN_PHONE_DIGITS = 7
#: Shorter numbers are matched with a known prefix only when long enough to be unambiguous.
_MIN_SUFFIX_MATCH_DIGITS = 9
_NUMERIC_DATE = re.compile(r"(\d{1,2})[./-](\d{1,2})[./-](\d{2}|\d{4})|(\d{4})[./-](\d{1,2})[./-](\d{1,2})")
_CLOCK_TIMES = re.compile(r"\d{1,2}[.:]\d{2}(?:\s?[-/]\s?\d{1,2}[.:]\d{2})*")
_CURRENCY_BEFORE = re.compile(r"[$€£¥₹₱]\s?$|\b(?:R\$|USD|EUR|GBP|MXN|INR|ZAR)\s?$", re.IGNORECASE)
_CURRENCY_AFTER = re.compile(
    r"^\s?(?:[$€£¥₹₱]|k\b|dollars?\b|euros?\b|pounds?\b|bucks\b|pesos?\b|rupees?\b|rand\b|reais\b|usd\b|eur\b|gbp\b)",
    re.IGNORECASE,
)
_VANITY_LETTERS = re.compile(r"^-?[A-Za-z]{2,}")
_THOUSANDS = re.compile(r"\d{1,3}(?:[ .,\u00a0]000)+")


class _HotlineNumbers:
    """Known hotline numbers by their significant digits (without trunk or international zeros)."""

    def __init__(self, numbers: Iterable[str]) -> None:
        forms: set[str] = set()
        for written in numbers:
            for match in _PHONE.finditer(written):
                forms.add(_significant_digits(match.group()))
            forms.add(_significant_digits(written))
        forms.discard("")
        self._forms = frozenset(forms)

    def contains(self, digits: str) -> bool:
        candidate = _significant_digits(digits)
        if candidate in self._forms:
            return True
        # "+1 800 ..." against "800 ...", "+44 808 ..." against "0808 ...": a country code at most differs.
        return any(
            min(len(candidate), len(known)) >= _MIN_SUFFIX_MATCH_DIGITS
            and abs(len(candidate) - len(known)) <= 3
            and (candidate.endswith(known) or known.endswith(candidate))
            for known in self._forms
        )

    def starts_with(self, digits: str) -> bool:
        candidate = _significant_digits(digits)
        return any(len(known) > len(candidate) and known.startswith(candidate) for known in self._forms)


def _significant_digits(written: str) -> str:
    return re.sub(r"\D", "", written).lstrip("0")


def _digit_count(written: str) -> int:
    return sum(char.isdigit() for char in written)


def _is_year(group: str) -> bool:
    return len(group) == 4 and group.isdigit() and 1900 <= int(group) <= 2099


def _is_numeric_date(candidate: str) -> bool:
    match = _NUMERIC_DATE.fullmatch(candidate)
    if match is None:
        return False
    if match.group(4):
        year, month, day = int(match.group(4)), int(match.group(5)), int(match.group(6))
        return 1900 <= year <= 2099 and 1 <= month <= 12 and 1 <= day <= 31
    first, second = int(match.group(1)), int(match.group(2))
    # Day-month or month-day: both at most 31 and one of them a month.
    return 1 <= first <= 31 and 1 <= second <= 31 and min(first, second) <= 12


def _is_clock_times(candidate: str) -> bool:
    if not _CLOCK_TIMES.fullmatch(candidate):
        return False
    pairs = re.findall(r"(\d{1,2})[.:](\d{2})", candidate)
    return all(int(hours) <= 24 and int(minutes) < 60 for hours, minutes in pairs)


def _is_money(text: str, start: int, end: int) -> bool:
    return bool(_CURRENCY_BEFORE.search(text[max(0, start - 5) : start]) or _CURRENCY_AFTER.search(text[end : end + 9]))


def _is_not_a_phone(candidate: str) -> bool:
    groups = re.findall(r"\d+", candidate)
    return (
        _digit_count(candidate) < _MIN_PHONE_DIGITS
        or all(_is_year(group) for group in groups)  # "2019-2024", "2015 2016 2017"
        or _is_numeric_date(candidate)
        or _is_clock_times(candidate)  # "18.30-20.00"
        or bool(_THOUSANDS.fullmatch(candidate))  # "1 000 000"
    )


def _is_date_or_year(token: str) -> bool:
    return _is_year(token) or _is_numeric_date(token)


def _phone_span(text: str, match: re.Match[str]) -> tuple[int, int]:
    """The match without dates or years standing apart at either end ("since 2019 555 1234")."""
    start = match.start()
    tokens = [(m.start() + start, m.end() + start) for m in re.finditer(r"[^ \u00a0]+", match.group())]
    while len(tokens) > 1 and _is_date_or_year(text[tokens[0][0] : tokens[0][1]]):
        tokens.pop(0)
    while len(tokens) > 1 and _is_date_or_year(text[tokens[-1][0] : tokens[-1][1]]):
        tokens.pop()
    return tokens[0][0], tokens[-1][1]


def _redact_phones(text: str, hotlines: _HotlineNumbers) -> tuple[str, int]:
    pieces: list[str] = []
    count = 0
    position = 0
    for match in _PHONE.finditer(text):
        start, end = _phone_span(text, match)
        candidate = text[start:end]
        if (
            _is_not_a_phone(candidate)
            or _is_money(text, start, end)
            or hotlines.contains(candidate)
            or (_VANITY_LETTERS.match(text[end:]) and hotlines.starts_with(candidate))  # "1-800-662-HELP"
        ):
            continue
        pieces.append(text[position:start])
        pieces.append(MARKERS["phone"])
        position = end
        count += 1
    pieces.append(text[position:])
    return "".join(pieces), count


# --- street addresses -------------------------------------------------------------------------

#: Words that never sit between a house number and a street type: "5 days on the road", "12 Step Way".
_NOT_STREET_WORDS = (
    r"(?:a|an|the|on|in|at|to|of|by|up|down|off|into|onto|over|along|across|around|through|past|from|for|"
    r"with|and|or|my|our|your|his|her|their|this|that|more|less|other|way|one|two|"
    r"days?|weeks?|months?|years?|hours?|minutes?|seconds?|steps?|miles?|kms?|times?|meetings?|people|kids?)\b"
)
_STREET_WORD = rf"(?!(?i:{_NOT_STREET_WORDS}))(?:\d+(?:st|nd|rd|th)|[^\W\d_][\w'.-]*)"
_ENGLISH_ADDRESS = re.compile(
    rf"\b\d{{1,5}}[A-Za-z]?,?\s+(?:{_STREET_WORD}\s+){{1,3}}"
    # Lower case only for "street" and abbreviations: "1 long road" and "2 way street" are talk.
    r"(?:(?i:street|st|ave|rd|ln|blvd|hwy|pkwy)\b\.?"
    r"|(?:Avenue|Road|Lane|Boulevard|Highway|Parkway|Terrace|Crescent|Way|Drive|Dr|Place|Pl|Close|Square|Circle)\b\.?)"
)
_NAME_AFTER_STREET_TYPE = r"(?:(?:de|del|da|do|dos|das|di|du|des|la|le|les|los|las)\s+|[dl]')*[^\W\d_][\w'.-]*"
_PREFIXED_ADDRESS = re.compile(
    # "Calle Mayor 12", "Rua Augusta, 1500", "Via Roma 10"
    r"\b(?:(?i:calle|c/|avenida|avda\.?|carrera|rua|travessa|viale|piazza|rue|allée|chemin|impasse|quai)"
    r"|Via|Plaza|Paseo|Camino|Corso|Av\.)"
    rf"\s+(?:{_NAME_AFTER_STREET_TYPE}\s+){{0,3}}{_NAME_AFTER_STREET_TYPE},?\s+(?:n[º°o]\.?\s*)?\d{{1,5}}[A-Za-z]?\b"
    # "10 rue de Rivoli", "12 Avenue des Champs"
    r"|\b\d{1,5}(?:\s?(?:bis|ter))?,?\s+(?:(?i:rue|allée|chemin|impasse|quai|calle|avenida)|Avenue|Boulevard|Place)"
    rf"\s+(?:{_NAME_AFTER_STREET_TYPE}\s+){{0,2}}{_NAME_AFTER_STREET_TYPE}"
)
_GERMAN_ADDRESS = re.compile(
    # "Hauptstraße 5", "Berliner Str. 12", "Am Waldweg 3a"
    r"\b(?:[A-ZÄÖÜ][^\W\d_]*[ -])?[^\W\d_]*(?i:straße|strasse|str\.|gasse|allee|weg|platz|damm)\s+\d{1,4}\s?[a-z]?\b"
)


def _redact_addresses(text: str) -> tuple[str, int]:
    total = 0
    for pattern in (_ENGLISH_ADDRESS, _PREFIXED_ADDRESS, _GERMAN_ADDRESS):
        text, count = _substitute(pattern, MARKERS["address"], text)
        total += count
    return text, total
