"""Parsing untrusted JSON request bodies without letting their shape cost us a 500.

The standard parser recurses (in C) once per nesting level and turns any run of digits into an
int, so a body nested 60,000 deep raises RecursionError and a 5,000-digit number trips Python's
int-string conversion limit. Both are refused here before or while parsing, never after.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

#: Deeper than any request the services accept needs, and far below the interpreter's stack.
MAX_DEPTH = 32
#: Characters in one number literal (sign excluded): ids and counts fit; bignums do not.
MAX_NUMBER_CHARS = 30

# A string token, possibly unterminated; possessive quantifiers keep this linear on hostile input
# such as thousands of escaped quotes with no closing one.
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"?', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPENERS = frozenset(b"[{")


class InvalidJsonBody(ValueError):
    """The body is not a JSON object we accept; `detail` says why in words fit for the client."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def nesting_depth_exceeds(raw: bytes, limit: int) -> bool:
    """True when arrays/objects nest deeper than `limit`; brackets inside strings do not count.

    Iterative and linear in the body's size. Malformed input gives some answer; the parser then
    rejects it anyway.
    """
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    if len(brackets) <= limit:
        return False
    depth = 0
    for byte in brackets:
        depth += 1 if byte in _OPENERS else -1
        if depth > limit:
            return True
    return False


def _number_literal(literal: str) -> None:
    if len(literal.lstrip("-")) > MAX_NUMBER_CHARS:
        raise InvalidJsonBody(f"Numbers may have at most {MAX_NUMBER_CHARS} characters.")


def _parse_int(literal: str) -> int:
    _number_literal(literal)
    return int(literal)


def _parse_float(literal: str) -> float:
    _number_literal(literal)
    value = float(literal)
    if not math.isfinite(value):  # 1e999 is short but overflows to infinity
        raise InvalidJsonBody("Numbers must be finite.")
    return value


def _parse_constant(name: str) -> Any:
    raise InvalidJsonBody(f"{name} is not a JSON number; numbers must be finite.")


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Decode a UTF-8 JSON object within the depth and number limits.

    Pure and non-blocking. Raises InvalidJsonBody (and nothing else) for anything it refuses.
    """
    if not raw.strip():
        raise InvalidJsonBody("The request body is empty; send a JSON object.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidJsonBody("The request body is not valid UTF-8.") from exc
    if nesting_depth_exceeds(raw, MAX_DEPTH):
        raise InvalidJsonBody(f"The JSON is nested too deeply; at most {MAX_DEPTH} levels are allowed.")
    try:
        data = json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
    except InvalidJsonBody:
        raise
    # RecursionError cannot happen after the depth check; caught anyway so it can never be a 500.
    # ValueError covers JSONDecodeError and the interpreter's int-string conversion limit.
    except (ValueError, RecursionError) as exc:
        raise InvalidJsonBody("The request body is not valid JSON.") from exc
    if not isinstance(data, dict):
        raise InvalidJsonBody("The request body must be a JSON object.")
    if b"\\u" in raw and _has_lone_surrogate(data):
        raise InvalidJsonBody("Text in the body must be valid Unicode (a \\u escape is an unpaired surrogate).")
    return data


def _has_lone_surrogate(data: dict[str, Any]) -> bool:
    # "\ud800" parses to a str that cannot be encoded as UTF-8, so the database or Kafka would fail
    # on it later; re-encoding (in C, depth already bounded) finds one without walking the value.
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
