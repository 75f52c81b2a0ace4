"""Removing personal contact details from posts, so members stay anonymous to each other.

Removed: phone numbers that are not known hotlines, e-mail addresses (also "name (at) host
(dot) com" and "jane dot doe at gmail dot com"), street addresses, and social-media handles and
profile links. Each is replaced by a neutral marker. Sobriety counts, dates, times, years, money,
"24/7" and "12-step" stay.

The patterns lean towards removing: a missed phone number can out someone, a removed date costs
little. What was removed is not kept anywhere, not even in the result.

Every pattern is an RE2 expression, so matching is linear in the length of the text whatever the
text is: this runs on untrusted input before any other limit. RE2 has no lookarounds, and its
`\\w`, `\\d`, `\\s` and `\\b` are ASCII-only, hence the conventions below:
- `\\w`, `\\d`, `\\s` are spelled as the Unicode classes Python's `re` would use (`_W`, `_D`, `_S`);
- a lookbehind for one character becomes a consumed prefix `(?:^|[^...])` and the replaced part
  is the group `m`; a lookahead becomes a check in Python on a bounded slice after the match;
- `\\b` stays RE2's ASCII one, only next to ASCII keywords and digits, where it can only find
  more boundaries than Python's (next to a non-ASCII letter), i.e. err towards removing.
Text is put through `normalize_text` first, so zero-width characters, fullwidth forms and odd
spaces cannot split a detail into pieces no pattern sees.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import re2

from services.common.normalize import normalize_text

RemovedKind = Literal["social", "email", "phone", "address"]

MARKERS: dict[RemovedKind, str] = {
    "social": "[social media handle removed]",
    "email": "[email address removed]",
    "phone": "[phone number removed]",
    "address": "[address removed]",
}


@dataclass(frozen=True)
class RedactionResult:
    #: The normalized text with details replaced: the text to store, send and show.
    text: str
    #: Each kind of detail removed, once, in the order social, email, phone, address.
    removed_kinds: tuple[RemovedKind, ...]


def redact_contact_details(text: str, allowed_numbers: Iterable[str]) -> RedactionResult:
    """Normalize `text` and replace personal contact details in it with markers.

    Pure; never raises on any text; runs in time linear in len(text) (CPU-bound: call it off the
    event loop, see `redact_off_loop`). `allowed_numbers` are hotline numbers (or whole contact
    strings) to keep; they are compared by their digits, so "+44 808 2000 247" matches
    "0808 2000 247".
    """
    hotlines = _hotlines(allowed_numbers if isinstance(allowed_numbers, frozenset) else frozenset(allowed_numbers))
    text = normalize_text(text)
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


class RedactionTimedOut(Exception):
    """Redaction did not finish within its deadline (the text workers are busy). Nothing was
    redacted; the caller must not store or send the text, and may ask the client to retry."""


async def redact_off_loop(
    texts: Sequence[str], allowed_numbers: Iterable[str], *, timeout_s: float, executor: Executor | None = None
) -> list[RedactionResult]:
    """`redact_contact_details` for each text, in a worker thread, never blocking the event loop.

    Raises RedactionTimedOut after `timeout_s`. The worker cannot be interrupted and finishes in
    the background (linear time, so soon); its result is then dropped.
    """
    allowed = tuple(allowed_numbers)

    def work() -> list[RedactionResult]:
        return [redact_contact_details(text, allowed) for text in texts]

    loop = asyncio.get_running_loop()
    try:
        return await asyncio.wait_for(loop.run_in_executor(executor, work), timeout_s)
    except TimeoutError as exc:
        raise RedactionTimedOut(f"redaction took longer than {timeout_s} s") from exc


# --- shared -----------------------------------------------------------------------------------

#: Python's `\w` (str.isalnum() or "_"), `\d` (decimal digits), letters `[^\W\d_]` and `\s`, as
#: RE2 class contents.
_W = r"\pL\pN_"
_D = r"\p{Nd}"
_L = r"\pL\p{Nl}\p{No}"
_S = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"


#: RE2's DFA state cache per pattern (default 8 MiB). The larger patterns (Unicode classes inside
#: repetitions) overflow the default on hostile text, and RE2 then falls back to its NFA: still
#: linear, but several times slower, with an error line in the log each time. Allocated on demand.
_RE2_MAX_MEM = 32 << 20


def _compile(pattern: str) -> Any:
    # Patterns are fixed at import; a wrong one must fail loudly then, not at the first post.
    options = re2.Options()
    options.max_mem = _RE2_MAX_MEM
    return re2.compile(pattern, options)


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _is_letter(char: str) -> bool:
    return char.isalnum() and not char.isdecimal()


Span = tuple[int, int]


def _find(pattern: Any, text: str, groups: tuple[int, ...]) -> Iterator[tuple[Span | None, ...]]:
    """The spans (in characters) of `groups` in each match of `pattern`; None for a group not taken.

    Searches the UTF-8 bytes: the wrapper's str path costs several times more per match, which is
    what a text made of thousands of tiny matches ("+1 +1 +1 ...") would make the work.
    """
    data = text.encode()
    ascii_only = len(data) == len(text)
    # Byte offsets become character offsets by decoding forward from the last match: linear in all.
    byte_mark = char_mark = 0

    def chars(offset: int, base_byte: int, base_char: int) -> int:
        return offset if ascii_only else base_char + len(data[base_byte:offset].decode())

    for match in pattern.finditer(data):
        start = match.start()
        start_char = chars(start, byte_mark, char_mark)
        byte_mark, char_mark = start, start_char
        spans: list[Span | None] = []
        for group in groups:
            group_start, group_end = match.span(group)
            if group_start < 0:
                spans.append(None)
            else:
                spans.append((chars(group_start, start, start_char), chars(group_end, start, start_char)))
        yield tuple(spans)


def _spans(pattern: Any, text: str) -> Iterator[Span]:
    """The part of each match to replace: group "m" where the pattern has one, else the match."""
    for (span,) in _find(pattern, text, (pattern.groupindex.get("m", 0),)):
        assert span is not None
        yield span


def _replace(text: str, spans: Iterable[Span], marker: str) -> tuple[str, int]:
    """Replace non-overlapping `spans` (in increasing order) with `marker`; count them."""
    pieces: list[str] = []
    position = 0
    count = 0
    for start, end in spans:
        if start < position:
            continue  # overlaps a span already replaced (a handle that ran past its match)
        pieces.append(text[position:start])
        pieces.append(marker)
        position = end
        count += 1
    pieces.append(text[position:])
    return "".join(pieces), count


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
_SOCIAL_LINK = _compile(
    rf"(?i)(?:^|[^{_W}.@-])(?P<m>(?:https?://)?(?:[{_W}-]+\.)*(?:(?:{_PROFILE_SITES})/|{_PROFILE_PATHS})"
    rf"[^{_S}<>\"']*[^{_S}<>\"'.,!?;:)\]])"
)
_PLATFORM = (
    rf"(?:insta(?:gram)?|ig|snap(?:chat)?|telegram|discord|kik|tik[{_S}]?tok|twitter|fb|facebook|whats[{_S}]?app|"
    rf"signal|wickr|threads|bluesky|bsky|reddit|skype|we[{_S}]?chat|viber)"
)
#: Only where a handle starts: its end, `@?\w(?:[\w.-]{0,30}\w)?(?:#\d{4})?`, is measured in Python
#: (`_handle_end`), since thirty copies of a Unicode class make a program too big for RE2's DFA.
_HANDLE_START = rf"@?[{_W}]"
#: Without a colon only a token that looks like a handle, i.e. whose run of name characters holds
#: a letter and a digit or "_". The pattern matches up to where both were seen (RE2 has no lookahead).
_LOOKS_LIKE_HANDLE = rf"@?(?:[{_L}][{_W}.]*?[{_D}_]|[{_D}_][{_W}.]*?[{_L}])"
_PLATFORM_HANDLE = _compile(
    # "insta: name", "snap username = name"
    rf"(?i)\b{_PLATFORM}(?:[{_S}]+(?:handle|username|user[{_S}]?name|user|name|id|account|acct))?"
    rf"[{_S}]*[:=][{_S}]*(?P<h1>{_HANDLE_START})"
    # "my discord is name"
    rf"|\bmy[{_S}]+{_PLATFORM}(?:[{_S}]+(?:handle|username|user[{_S}]?name|name|id|account|acct))?"
    rf"[{_S}]+is[{_S}]+(?P<h2>{_HANDLE_START})"
    # "add me on snap jane_doe99"
    rf"|\b{_PLATFORM}[{_S}]+(?P<h3>{_LOOKS_LIKE_HANDLE})"
)
_AT_HANDLE = _compile(rf"(?:^|[^{_W}@.])(?P<m>@[{_W}])")
#: "@5pm", "@ 10:30 am" are times, not handles (checked on the few characters after "@").
_AT_TIME = _compile(rf"(?i)[{_D}]{{1,2}}(?:[:.][{_D}]{{2}})?[{_S}]?(?:am|pm|h)\b")
_AT_TIME_CHARS = 12
_REDDIT_USER = _compile(rf"(?:^|[^{_W}/])(?P<m>u/[{_W}-]{{3}})")

#: Words a handle pattern may catch that are ordinary talk ("insta: the worst", "@home").
_ORDINARY_WORDS = frozenset(
    "a all also always an and any at because but day do done everyone for gone has have he her here his home how i if in "
    "is it it's its just lol me meeting meetings my never night no noon not now of off ok on once one or our out "
    "please really same school she so still that the them then there they this to too us was we what when "
    "where who why work yes you your".split()
)


def _is_ordinary_word(handle: str) -> bool:
    return handle.lstrip("@").lower() in _ORDINARY_WORDS


def _name_end(text: str, first: int, tail: int, inner: str) -> int:
    """Where `\\w(?:[\\w<inner>]{0,tail-1}\\w)?` starting at `first` ends (greedy, as `re` would)."""
    end = first + 1  # the first name character, already matched by the pattern
    for index in range(first + 1, min(first + 1 + tail, len(text))):
        char = text[index]
        if _is_word_char(char):
            end = index + 1
        elif char not in inner:
            break
    return end


def _handle_end(text: str, start: int) -> int:
    """Where `@?\\w(?:[\\w.-]{0,30}\\w)?(?:#\\d{4})?` starting at `start` ends."""
    end = _name_end(text, start + 1 if text.startswith("@", start) else start, 31, ".-")
    tag = text[end + 1 : end + 5]
    if text.startswith("#", end) and len(tag) == 4 and tag.isdecimal():
        end += 5
    return end


_HANDLE_GROUPS = tuple(_PLATFORM_HANDLE.groupindex[name] for name in ("h1", "h2", "h3"))


def _platform_handle_spans(text: str) -> Iterator[Span]:
    for whole, *handles in _find(_PLATFORM_HANDLE, text, (0, *_HANDLE_GROUPS)):
        assert whole is not None
        handle_start = next(handle[0] for handle in handles if handle is not None)
        handle_end = _handle_end(text, handle_start)
        if not _is_ordinary_word(text[handle_start:handle_end]):
            yield whole[0], handle_end


def _run_has_letter(text: str, start: int) -> bool:
    # The run of name characters is scanned once: runs of different "@" never overlap.
    for index in range(start, len(text)):
        char = text[index]
        if _is_letter(char):
            return True
        if not (_is_word_char(char) or char == "."):
            return False
    return False


def _at_handle_spans(text: str) -> Iterator[Span]:
    # `@\w(?:[\w.]{0,29}\w)?`, neither a time ("@5pm") nor an ordinary word, with a letter in its run.
    for start, first_end in _spans(_AT_HANDLE, text):
        end = _name_end(text, first_end - 1, 30, ".")
        if not (
            _is_ordinary_word(text[start:end])
            or _AT_TIME.match(text[start + 1 : start + 1 + _AT_TIME_CHARS]) is not None
            or not _run_has_letter(text, start + 1)
        ):
            yield start, end


def _reddit_user_spans(text: str) -> Iterator[Span]:
    # `u/[\w-]{3,20}\b`: the longest name of 3 to 20 characters that ends at a word boundary.
    for start, _ in _spans(_REDDIT_USER, text):
        end = start + 2
        while end < min(start + 22, len(text)) and (_is_word_char(text[end]) or text[end] == "-"):
            end += 1
        for name_end in range(end, start + 2 + 3 - 1, -1):
            after = text[name_end] if name_end < len(text) else " "
            if _is_word_char(text[name_end - 1]) != _is_word_char(after):
                yield start, name_end
                break


def _redact_social(text: str) -> tuple[str, int]:
    marker = MARKERS["social"]
    total = 0
    finders: tuple[Callable[[str], Iterable[Span]], ...] = (
        lambda t: _spans(_SOCIAL_LINK, t),
        _platform_handle_spans,
        _at_handle_spans,
        _reddit_user_spans,
    )
    for find in finders:
        text, count = _replace(text, find(text), marker)
        total += count
    return text, total


# --- e-mail -----------------------------------------------------------------------------------

#: The local part starts at the beginning of a run of name characters (the consumed prefix).
_LOCAL_START = rf"(?:^|[^{_W}.+-])"
_NAME = rf"[{_W}.+-]+"
_BRACKETED_AT = rf"[{_S}]*[(\[{{][{_S}]*at[{_S}]*[)\]}}][{_S}]*"
_BRACKETED_DOT = rf"[{_S}]*[(\[{{][{_S}]*dot[{_S}]*[)\]}}][{_S}]*"
_SPOKEN_DOT = rf"(?:[{_S}]+dot[{_S}]+|{_BRACKETED_DOT})"
#: "jane dot doe", "jane (dot) doe": only ever taken together with an "at" clause after it.
_SPELLED_LOCAL = rf"{_NAME}(?:{_SPOKEN_DOT}{_NAME})*"
#: A top-level domain after a spoken "dot", but not another "dot" ("at home dot dot dot").
_SPOKEN_TLD = r"(?:[a-z]{2}|[a-ce-z][a-z]{2}|d[a-np-z][a-z]|do[a-su-z]|[a-z]{4,6})"
_WEBMAIL = r"(?:gmail|googlemail|yahoo|hotmail|outlook|icloud|protonmail|proton|aol|live|msn|gmx|yandex)"
_EMAIL = _compile(rf"{_LOCAL_START}(?P<m>{_NAME}@[{_W}-]+(?:\.[{_W}-]+)*\.[{_L}]{{2,}})\b")
_OBFUSCATED_EMAIL = _compile(
    rf"(?i){_LOCAL_START}(?P<m>"
    # "name (at) host (dot) com", "name [at] host.com", "name [at] host dot com"
    rf"{_SPELLED_LOCAL}{_BRACKETED_AT}[{_W}-]+(?:(?:{_SPOKEN_DOT}|[{_S}]*\.[{_S}]*)[{_W}-]+)+"
    # "name at host dot com", "jane dot doe at host (dot) co (dot) uk"
    rf"|{_SPELLED_LOCAL}[{_S}]+at[{_S}]+[{_W}-]+(?:{_SPOKEN_DOT}{_SPOKEN_TLD})+\b"
    # "name at gmail.com"
    rf"|{_SPELLED_LOCAL}[{_S}]+at[{_S}]+{_WEBMAIL}[{_S}]*\.[{_S}]*[a-z]{{2,}}(?:\.[a-z]{{2,}})?\b"
    r")"
)


def _redact_emails(text: str) -> tuple[str, int]:
    text, plain = _replace(text, _spans(_EMAIL, text), MARKERS["email"])
    text, obfuscated = _replace(text, _spans(_OBFUSCATED_EMAIL, text), MARKERS["email"])
    return text, plain + obfuscated


# --- phone numbers ----------------------------------------------------------------------------

#: Digit groups joined by a space, dot, dash or slash, with "(0)" or "(555)" groups that digits
#: may follow directly; no line breaks.
_PHONE = _compile(
    rf"(?:^|[^{_W}+./-])(?P<m>(?:\+[ \xa0]?)?(?:\([{_D}]{{1,6}}\)[{_D}]*|[{_D}]+)"
    rf"(?:[ \xa0]?\([{_D}]{{1,6}}\)[{_D}]*|(?:[ \xa0]?[./-][ \xa0]?|[ \xa0])[{_D}]+)*)"
)
_MIN_PHONE_DIGITS = 7
#: Shorter numbers are matched with a known prefix only when long enough to be unambiguous.
_MIN_SUFFIX_MATCH_DIGITS = 9
_DIGIT_GROUP = _compile(rf"[{_D}]+")
_NUMERIC_DATE = _compile(
    rf"([{_D}]{{1,2}})[./-]([{_D}]{{1,2}})[./-]([{_D}]{{2}}|[{_D}]{{4}})|([{_D}]{{4}})[./-]([{_D}]{{1,2}})[./-]([{_D}]{{1,2}})"
)
_CLOCK_TIMES = _compile(rf"[{_D}]{{1,2}}[.:][{_D}]{{2}}(?:[{_S}]?[-/][{_S}]?[{_D}]{{1,2}}[.:][{_D}]{{2}})*")
_CLOCK_TIME = _compile(rf"([{_D}]{{1,2}})[.:]([{_D}]{{2}})")
_CURRENCY_BEFORE = _compile(rf"(?i)(?:[$€£¥₹₱]|\b(?:R\$|USD|EUR|GBP|MXN|INR|ZAR))[{_S}]?$")
_CURRENCY_AFTER = _compile(
    rf"(?i)^[{_S}]?(?:[$€£¥₹₱]|k\b|dollars?\b|euros?\b|pounds?\b|bucks\b|pesos?\b|rupees?\b|rand\b|reais\b|usd\b|eur\b|gbp\b)"
)
_VANITY_LETTERS = _compile(r"^-?[A-Za-z]{2,}")
_THOUSANDS = _compile(rf"[{_D}]{{1,3}}(?:[ .,\xa0]000)+")


@lru_cache(maxsize=8)
def _hotlines(numbers: frozenset[str]) -> _HotlineNumbers:
    # The directory's numbers are the same for every post: parsed once, not per request.
    return _HotlineNumbers(numbers)


class _HotlineNumbers:
    """Known hotline numbers by their significant digits (without trunk or international zeros)."""

    def __init__(self, numbers: Iterable[str]) -> None:
        forms: set[str] = set()
        for written in numbers:
            for start, end in _spans(_PHONE, written):
                forms.add(_significant_digits(written[start:end]))
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
    return "".join(char for char in written if char.isdecimal()).lstrip("0")


def _digit_count(written: str) -> int:
    return sum(char.isdecimal() for char in written)


def _is_year(group: str) -> bool:
    return len(group) == 4 and group.isdecimal() and 1900 <= int(group) <= 2099


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
    pairs = (match.groups() for match in _CLOCK_TIME.finditer(candidate))
    return all(int(hours) <= 24 and int(minutes) < 60 for hours, minutes in pairs)


def _is_money(text: str, start: int, end: int) -> bool:
    return bool(_CURRENCY_BEFORE.search(text[max(0, start - 5) : start]) or _CURRENCY_AFTER.search(text[end : end + 9]))


def _is_not_a_phone(candidate: str) -> bool:
    return (
        _digit_count(candidate) < _MIN_PHONE_DIGITS
        or all(_is_year(match.group()) for match in _DIGIT_GROUP.finditer(candidate))  # "2019-2024"
        or _is_numeric_date(candidate)
        or _is_clock_times(candidate)  # "18.30-20.00"
        or bool(_THOUSANDS.fullmatch(candidate))  # "1 000 000"
    )


def _is_date_or_year(token: str) -> bool:
    return _is_year(token) or _is_numeric_date(token)


def _phone_span(text: str, start: int, end: int) -> Span:
    """The match without dates or years standing apart at either end ("since 2019 555 1234")."""
    tokens: list[Span] = []
    token_start: int | None = None
    for index in range(start, end + 1):
        if index == end or text[index] in " \xa0":
            if token_start is not None:
                tokens.append((token_start, index))
                token_start = None
        elif token_start is None:
            token_start = index
    first, last = 0, len(tokens) - 1
    while first < last and _is_date_or_year(text[tokens[first][0] : tokens[first][1]]):
        first += 1
    while first < last and _is_date_or_year(text[tokens[last][0] : tokens[last][1]]):
        last -= 1
    return tokens[first][0], tokens[last][1]


def _phone_spans(text: str, hotlines: _HotlineNumbers) -> Iterator[Span]:
    for match_start, match_end in _spans(_PHONE, text):
        if _digit_count(text[match_start:match_end]) < _MIN_PHONE_DIGITS:
            continue  # the common case, decided before any other work
        start, end = _phone_span(text, match_start, match_end)
        candidate = text[start:end]
        if not (
            _is_not_a_phone(candidate)
            or _is_money(text, start, end)
            or hotlines.contains(candidate)
            # "1-800-662-HELP": three characters decide, so only those are looked at.
            or (_VANITY_LETTERS.match(text[end : end + 3]) and hotlines.starts_with(candidate))
        ):
            yield start, end


def _redact_phones(text: str, hotlines: _HotlineNumbers) -> tuple[str, int]:
    return _replace(text, _phone_spans(text, hotlines), MARKERS["phone"])


# --- street addresses -------------------------------------------------------------------------

#: Words that never sit between a house number and a street type: "5 days on the road", "12 Step Way".
_NOT_STREET_WORDS = frozenset(
    "a an the on in at to of by up down off into onto over along across around through past from for "
    "with and or my our your his her their this that more less other way one two "
    "day days week weeks month months year years hour hours minute minutes second seconds step steps "
    "mile miles km kms time times meeting meetings people kid kids".split()
)
_STREET_WORD = rf"(?:[{_D}]+(?:st|nd|rd|th)|[{_L}][{_W}'.-]*)"
_STREET_TYPE = (
    # Lower case only for "street" and abbreviations: "1 long road" and "2 way street" are talk.
    r"(?:(?i:street|st|ave|rd|ln|blvd|hwy|pkwy)\b\.?"
    r"|(?:Avenue|Road|Lane|Boulevard|Highway|Parkway|Terrace|Crescent|Way|Drive|Dr|Place|Pl|Close|Square|Circle)\b\.?)"
)
_STREET_TYPE_AT_START = _compile(_STREET_TYPE)
#: One to three street words before the type, as groups, so that a stop word among them can be
#: checked in Python and a shorter street name tried (RE2 has no negative lookahead).
_ENGLISH_ADDRESS = _compile(
    rf"\b(?P<m>[0-9]{{1,5}}[A-Za-z]?,?[{_S}]+(?P<w1>{_STREET_WORD})[{_S}]+"
    rf"(?:(?P<w2>{_STREET_WORD})[{_S}]+)?(?:(?P<w3>{_STREET_WORD})[{_S}]+)?{_STREET_TYPE})"
)
_NAME_AFTER_STREET_TYPE = rf"(?:(?:de|del|da|do|dos|das|di|du|des|la|le|les|los|las)[{_S}]+|[dl]')*[{_L}][{_W}'.-]*"
_PREFIXED_ADDRESS = _compile(
    # "Calle Mayor 12", "Rua Augusta, 1500", "Via Roma 10"
    r"\b(?:(?i:calle|c/|avenida|avda\.?|carrera|rua|travessa|viale|piazza|rue|allée|chemin|impasse|quai)"
    r"|Via|Plaza|Paseo|Camino|Corso|Av\.)"
    rf"[{_S}]+(?:{_NAME_AFTER_STREET_TYPE}[{_S}]+){{0,3}}{_NAME_AFTER_STREET_TYPE},?[{_S}]+"
    rf"(?:n[º°o]\.?[{_S}]*)?[0-9]{{1,5}}[A-Za-z]?\b"
    # "10 rue de Rivoli", "12 Avenue des Champs"
    rf"|\b[0-9]{{1,5}}(?:[{_S}]?(?:bis|ter))?,?[{_S}]+(?:(?i:rue|allée|chemin|impasse|quai|calle|avenida)|Avenue|Boulevard|Place)"
    rf"[{_S}]+(?:{_NAME_AFTER_STREET_TYPE}[{_S}]+){{0,2}}{_NAME_AFTER_STREET_TYPE}"
)
_GERMAN_ADDRESS = _compile(
    # "Hauptstraße 5", "Berliner Str. 12", "Am Waldweg 3a"
    rf"(?:^|[^{_W}])(?P<m>(?:[A-ZÄÖÜ][{_L}]*[ -])?[{_L}]*(?i:straße|strasse|str\.|gasse|allee|weg|platz|damm)"
    rf"[{_S}]+[0-9]{{1,4}}(?:[{_S}]?[a-z])?)\b"
)


def _is_street_word(word: str) -> bool:
    # A stop word counts when followed by a word boundary: "on", "on-line", "day's", not "ones".
    head = word
    for index, char in enumerate(word):
        if not _is_word_char(char):
            head = word[:index]
            break
    return head.lower() not in _NOT_STREET_WORDS


_WORD_GROUPS = tuple(_ENGLISH_ADDRESS.groupindex[name] for name in ("w1", "w2", "w3"))


def _english_address_spans(text: str) -> Iterator[Span]:
    for address, *word_spans in _find(_ENGLISH_ADDRESS, text, (_ENGLISH_ADDRESS.groupindex["m"], *_WORD_GROUPS)):
        assert address is not None
        words = [text[span[0] : span[1]] for span in word_spans if span is not None]
        starts = [span[0] for span in word_spans if span is not None]
        # The longest street name first, as `re` would try it; a shorter one ends at a type word.
        for count in range(len(words), 0, -1):
            if not all(_is_street_word(word) for word in words[:count]):
                continue
            if count == len(words):
                yield address
                break
            street_type = _STREET_TYPE_AT_START.match(words[count])
            if street_type is not None:
                yield address[0], starts[count] + street_type.end()
                break


def _redact_addresses(text: str) -> tuple[str, int]:
    total = 0
    finders: tuple[Callable[[str], Iterable[Span]], ...] = (
        _english_address_spans,
        lambda t: _spans(_PREFIXED_ADDRESS, t),
        lambda t: _spans(_GERMAN_ADDRESS, t),
    )
    for find in finders:
        text, count = _replace(text, find(text), MARKERS["address"])
        total += count
    return text, total
