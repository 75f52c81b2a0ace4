"""A fingerprint of the rule and sign-of-now lists, so a verdict names the lists that decided it.

The model's version names its weights and thresholds. The rules and the signs of now are code,
and they have changed between model versions (three times on 2026-12-03 alone), so the version
in a verdict and its audit entry says both: `<model version>+rules-<fingerprint>`. The
fingerprint reads what decides (each rule's fields and every pattern's text), not the source
files, so a comment or a reformatted line does not change it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from types import ModuleType

from services.moderation.screening import imminence, obfuscation, rules
from services.moderation.screening.linear import LinearPattern


def _pattern_text(value: object) -> str | None:
    if isinstance(value, LinearPattern):
        return f"linear:{value.pattern}"
    if isinstance(value, re.Pattern):
        return f"re:{value.pattern!r}:{value.flags}"
    return None


def _module_patterns(module: ModuleType) -> list[str]:
    found = []
    for name, value in sorted(vars(module).items()):
        text = _pattern_text(value)
        if text is not None:
            found.append(f"{module.__name__}.{name}={text}")
    return found


def _rule_fields(rule: rules.Rule) -> str:
    parts = []
    for field in dataclasses.fields(rule):
        value = getattr(rule, field.name)
        parts.append(f"{field.name}={_pattern_text(value) or repr(value)}")
    return "|".join(parts)


def rule_lists_fingerprint() -> str:
    """Six hex digits that change when any rule, context pattern, sign of now, look-alike, Latin twin or listed word changes."""
    lines = [_rule_fields(rule) for rule in rules.RULES]
    lines += _module_patterns(rules) + _module_patterns(imminence)
    lines.append(f"obfuscation.LOOK_ALIKES={sorted(obfuscation.LOOK_ALIKES.items())}")
    lines.append(f"obfuscation.AMBIGUOUS={sorted(obfuscation.AMBIGUOUS.items())}")
    lines.append(f"obfuscation.LATIN_TWINS={sorted(obfuscation.LATIN_TWINS.items())}")
    limits = (obfuscation.MAX_CHOICES_PER_WORD, obfuscation.CLEAR_MARGIN, obfuscation.MIN_WORD_LENGTH)
    lines.append(f"obfuscation.limits={limits} words={obfuscation.words_fingerprint()}")
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()[:6]
