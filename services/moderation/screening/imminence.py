"""Signs in the text that danger is *now*: the support the model needs before it may page urgent.

The imminence head is a model's guess. On its own it must never page moderators at once
(hold_urgent): it needs the crisis head and the imminence head to agree, *and* something in the
text that says now: a rule signal of high or imminent danger, or one of the signs below. These
are the labelling guide's definition of imminent (happening now, tonight, means in hand, an act
underway, a goodbye), written as general time and presence words, not as phrases of any post.
Without support, a post the model finds imminent is still held (hold), never published.
"""

from __future__ import annotations

from services.moderation.screening.linear import LinearPattern, Subject

_NOW = LinearPattern(
    r"\b(?:tonight|right now|now\b|as we speak|this (?:morning|afternoon|evening)|in (?:a few|an) hours?|"
    r"(?:already|just) (?:took|taken|swallowed|cut|did it|done it|started)|"
    r"in front of me|on the (?:table|counter|desk|bed)|in my (?:hand|hands|pocket|car)|"
    r"(?:counted|lined|laid) (?:out|up)|(?:last|final) (?:post|message|time|night)|goodbye|farewell|"
    r"(?:won'?t|can'?t|cannot|not) (?:wake|breathe|breathing|stop (?:shaking|bleeding|seizing))|unresponsive|"
    r"(?:on|at) the (?:bridge|ledge|roof|tracks|edge)|esta noche|ahora mismo|ya (?:me )?tom[eé])",
    word_start=True,
)


def signs_of_now(text: str) -> list[str]:
    """The words in `text` that say the danger is now (at most three, for the reasons)."""
    found = []
    for span in _NOW.finditer(Subject(text)):
        found.append(text[span.start : span.end])
        if len(found) == 3:
            break
    return found
