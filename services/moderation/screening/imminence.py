"""Signs in the text that danger is *now*: the support the model needs before it may page urgent.

The imminence head is a model's guess. On its own it must never page moderators at once
(hold_urgent): it needs the crisis head and the imminence head to agree, *and* something in the
text that says now: a rule signal of high or imminent danger, or one of the signs below. These
are the labelling guide's definition of imminent (happening now, tonight, means in hand, an act
underway, a goodbye, and the present emergencies its imminent codes name: seizing, seeing things,
can't stay awake, not responding, chest pain), written as general words, not as phrases of any
post. "Today" was left out: it would page milestone posts (measured on out-of-fold scores).
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
    r"(?:on|at) the (?:bridge|ledge|roof|tracks|edge)|"
    r"seizing|seizure|convulsing|having a fit|hallucinating|seeing things|hearing things|"
    r"(?:can'?t|cannot) stay awake|passing out|took (?:them )?all|took everything|took the whole|"
    r"(?:he'?s|she'?s|they'?re|he is|she is) outside|tell my (?:kids|mom|dad|family|wife|husband|son|daughter)|"
    r"not (?:answering|responding)|chest pain)",
    word_start=True,
)

# The same general words in Spanish, word for word, so a Spanish post can be paged on the same
# grounds as an English one.
_AHORA = LinearPattern(
    r"\b(?:esta noche|ahora\b|ahorita|en este (?:momento|instante)|esta (?:mañana|tarde)|"
    r"en (?:unas|pocas|un par de) horas|en una hora|"
    r"(?:ya|acabo de) (?:me )?(?:tom[eé]|tomar|tragu[eé]|tragar|cort[eé]|cortar|lo hice|hacerlo|empec[eé])|"
    r"(?:delante|enfrente) de m[ií]|(?:en|sobre) la (?:mesa|cama|encimera)|"
    r"en (?:la|mi) mano|en mis manos|en (?:el|mi) bolsillo|en (?:el|mi) (?:coche|carro|auto)|"
    r"(?:mi|el|la|su|este|esta|un|una) [uú]ltim[oa] (?:mensaje|post|publicaci[oó]n|vez|noche)|adi[oó]s|me despido|despedida|"
    r"no (?:se )?despierta|no (?:puedo )?respir(?:o|a|ar)\b|no (?:para|deja) de (?:sangrar|temblar|convulsionar)|"
    r"no responde|inconsciente|"
    r"en el (?:puente|borde|techo|tejado|and[eé]n)|en la (?:azotea|cornisa)|en las v[ií]as|"
    r"convulsi|alucinaciones|veo cosas|(?:oigo|escucho) voces|no (?:me )?puedo mantener despiert|"
    r"me (?:las |los )?tom[eé] tod|est[aá] afuera|d[ií]ganle a mis|no contesta|dolor (?:en el|de) pecho)",
    word_start=True,
)


def signs_of_now(text: str) -> list[str]:
    """The words in `text` that say the danger is now (at most three, for the reasons)."""
    found = []
    subject = Subject(text)
    for pattern in (_NOW, _AHORA):
        for span in pattern.finditer(subject):
            found.append(text[span.start : span.end])
            if len(found) == 3:
                return found
    return found
