"""Signs in the text that danger is *now*: the support the model needs before it may page urgent.

The imminence head is a model's guess. On its own it must never page moderators at once
(hold_urgent): it needs the crisis head and the imminence head to agree, *and* something in the
text that says now: a rule signal of high or imminent danger, or one of the signs below. They are
the labelling guide's definition of imminent (happening now, tonight, means in hand, an act
underway, a goodbye) and the present emergencies its imminent codes and the crisis-signals notes
name (overdose signs, someone passed out, bleeding that will not stop or vomited blood,
withdrawal and medical emergencies, a weapon out, someone waiting outside or hiding from an
attacker), written as general words, not as phrases of any post. Words that everyday posts use
for history or feelings ("snores", "heart racing", "blacked out a million times") are left out.
"Today" was left out: it would page milestone posts (measured on out-of-fold scores).
Without support, a post the model finds imminent is still held (hold), never published.
"""

from __future__ import annotations

from services.moderation.screening.linear import LinearPattern, Subject
from services.moderation.screening.obfuscation import quoting_source


def _any_of(*groups: tuple[str, ...]) -> LinearPattern:
    return LinearPattern(r"\b(?:" + "|".join(word for group in groups for word in group) + ")", word_start=True)


_NOW = _any_of(
    # Time: now, tonight, within hours, a few minutes ago (an act told in the past tense).
    (
        r"tonight|tonite|2nite|right now|now\b|rn\b|as we speak|this (?:morning|afternoon|evening)",
        r"in (?:a few|an) hours?",
        r"(?:a few |\d+ |five |ten |fifteen |twenty |thirty )?(?:min|mins|minutes) ago|(?:an|half an|1) hour ago",
    ),
    # An act underway.
    (
        r"(?:already|just) (?:took|taken|swallowed|cut|did it|done it|started)",
        r"took (?:them )?all|took everything|took the whole",
        r"(?:already |starting to |is |it'?s |they'?re )?kicking in",
    ),
    # Means in hand, at the place.
    (
        r"in front of me|on the (?:table|counter|desk|bed)|in my (?:hand|hands|pocket|car)",
        r"(?:counted|lined|laid) (?:out|up)",
        r"(?:on|at) the (?:bridge|ledge|roof|tracks|edge)",
    ),
    # A goodbye.
    (
        r"(?:last|final) (?:post|message|time|night)|goodbye|farewell|saying bye",
        r"bye (?:guys|all|everyone|everybody|y'?all)",
        r"tell my (?:kids|mom|dad|family|wife|husband|son|daughter)",
        r"(?:won'?t|will not|not (?:going to|gonna)) be (?:here|around|alive) (?:tomorrow|in the morning|by morning)",
    ),
    # Overdose signs: cannot be woken, slow or shallow breathing, gurgling or snoring, blue or
    # grey lips, pinpoint pupils, limp, nodding off.
    (
        r"(?:won'?t|can'?t|cannot|not) (?:wake|breathe|breathing|stop (?:shaking|bleeding|seizing))|unresponsive",
        r"not (?:answering|responding)",
        r"(?:breathing|breath|breaths) (?:is |are |really |so |very |feels |getting )*(?:slow|shallow)",
        r"(?:slow|shallow) breath|gurgl|snoring|snore (?:noise|sound)",
        r"(?:ain'?t|aint|isn'?t|not) breathing (?:right|properly|normal)",
        r"(?:just|has|have|he'?s|she'?s|they'?ve) (?:passed|blacked) out|blacking out",
        r"(?:passed|blacked) out (?:on the floor|for a (?:bit|minute|second))|(?:nobody|no one) can wake",
        r"(?:lips|fingertips|fingers|face) (?:are |is |look |looks |going |turning |gone )?(?:blue|grey|gray|purple)",
        r"(?:blue|grey|gray) lips|pinpoint pupils|pupils (?:are )?(?:tiny|pinned|pinpoint)",
        r"(?:went|gone|is|he'?s|she'?s) limp|nodding off|drifting off",
        r"(?:can'?t|cannot) stay awake|(?:can'?t|cannot|cant) keep my eyes open|passing out",
    ),
    # Bleeding that will not stop.
    (
        r"(?:won'?t|wont|not|isn'?t|doesn'?t) stop(?:ping)? bleeding",
        r"(?:bleeding|blood) (?:won'?t|wont|will not|isn'?t|is not|not) stop|bleeding through|blood everywhere",
        r"(?:blood|bleeding) (?:is |'s )?(?:all over|soak(?:ing|in)? (?:through|thru))|(?:bleeding|soaked|soaking) thru",
        r"vomit(?:ed|ing)? blood|(?:throwing|threw) up blood|coughing (?:up )?blood",
    ),
    # Withdrawal and medical emergencies now.
    (
        r"seizing|seizure|convulsing|having a fit|hallucinating|seeing things|hearing things",
        r"delirium|\bdts\b|(?:bugs|ants|spiders) (?:on|all over|crawling)",
        r"chest pain|(?:hard|struggling|can'?t) to breathe",
        r"can'?t stop (?:sweating|throwing up|vomiting|shaking)|burning up",
    ),
    # Danger from another person now: a weapon out, someone hiding from an attacker.
    (
        r"(?:he'?s|she'?s|they'?re|he is|she is) outside",
        r"(?:got|has|pulled|grabbed|took) (?:the |a |his |her )?(?:gun|knife|pistol|shotgun|rifle) out",
        r"pulled (?:a|the|his|her) (?:gun|knife)|loading (?:the|his|a) gun",
        r"locked (?:myself |ourselves |us )?in (?:the |my |a )?(?:bathroom|bedroom|room|closet|car)",
        r"(?:kicking|banging|pounding) (?:on )?(?:the|my) door",
        r"(?:parked|waiting|standing|sitting) outside (?:his|her|their|my ex'?s) (?:house|place|flat|apartment|door|work)",
        r"(?:hiding|locked) in the (?:bathroom|closet|bedroom|basement)",
        r"(?:has|got|grabbed|holding) (?:a|the|his|her) (?:knife|gun|machete|bat|hammer) (?:and|to|at|in)",
    ),
    # Someone calling for emergency help.
    (r"call(?:ed|ing)? (?:an )?(?:ambulance|911|999)",),
)

# The same general words in Spanish, so a Spanish post can be paged on the same grounds as an
# English one.
_AHORA = _any_of(
    (
        r"esta noche|ahora\b|ahorita|en este (?:momento|instante)|esta (?:mañana|tarde)",
        r"en (?:unas|pocas|un par de) horas|en una hora",
        r"hace (?:unos |como )?(?:\d+|cinco|diez|quince|veinte|treinta) min|hace (?:media|una) hora|hace un rato",
    ),
    (
        r"(?:ya|acabo de) (?:me )?(?:tom[eé]|tomar|tragu[eé]|tragar|cort[eé]|cortar|lo hice|hacerlo|empec[eé])",
        r"me (?:las |los )?tom[eé] tod",
        r"(?:ya )?(?:me )?est[aá](?:n)? haciendo efecto",
    ),
    (
        r"(?:delante|enfrente) de m[ií]|(?:en|sobre) la (?:mesa|cama|encimera)",
        r"en (?:la|mi) mano|en mis manos|en (?:el|mi) bolsillo|en (?:el|mi) (?:coche|carro|auto)",
        r"en el (?:puente|borde|techo|tejado|and[eé]n)|en la (?:azotea|cornisa)|en las v[ií]as",
    ),
    (
        r"(?:mi|el|la|su|este|esta|un|una) [uú]ltim[oa] (?:mensaje|post|publicaci[oó]n|vez|noche)",
        r"adi[oó]s|me despido|despedida|despidi[eé]ndose|se (?:est[aá] )?despid|d[ií]ganle a mis",
        r"no (?:voy a|creo que vaya a) (?:estar|seguir) (?:aqu[ií] |viv[oa] )?(?:mañana|ma[nñ]ana)",
    ),
    (
        r"no (?:se )?despierta|no (?:lo|la) (?:puedo|podemos) despertar|no (?:puedo )?respir(?:o|a|ar)\b",
        r"no responde|inconsciente|no contesta",
        r"me cuesta respirar|respira (?:muy |bien )?(?:lento|despacio|poco)|respiraci[oó]n (?:muy )?(?:lenta|d[eé]bil)",
        r"labios (?:morados|azules|grises)|pupilas (?:muy )?(?:chiquitas|peque[nñ]as|diminutas)",
        r"no (?:me )?puedo mantener despiert|no (?:puedo|puede) (?:tener|mantener) los ojos abiertos",
        r"me estoy quedando dormid",
    ),
    (
        r"no (?:para|deja) de (?:sangrar|temblar|convulsionar|salir sangre|vomitar)",
        r"vomit(?:[eé]|ando|o) sangre|sangre por todo",
        r"no se detiene la sangre|la sangre no (?:para|se detiene)|sangre por todos lados",
    ),
    (
        r"convulsi|alucinaciones|veo cosas|(?:oigo|escucho) voces|delirium|bichos",
        r"dolor (?:en el|de) pecho|me duele (?:mucho )?el pecho",
        r"(?:el )?coraz[oó]n (?:me )?(?:late|va|est[aá]) (?:muy |demasiado |a mil|rapid|r[aá]pid|acelerad)",
        r"se desmay[oó]|me desmay[eé]|perdi[oó] el conocimiento",
    ),
    (
        r"est[aá] afuera|(?:afuera|fuera) de (?:la|mi|su) casa (?:con|gritando)",
        r"escondid[oa]s? en (?:el|mi) (?:baño|cuarto|clóset|closet)",
        r"sac[oó] (?:la|el|una|un) (?:pistola|cuchillo|arma|navaja)",
        r"tiene (?:la|el|una|un) (?:pistola|cuchillo|arma|navaja) en la mano",
        r"encerrad[oa]s? en (?:el|mi) (?:baño|cuarto|carro|coche)|(?:golpeando|pateando) la puerta",
    ),
    (r"llam[eé] (?:a (?:la )?)?(?:ambulancia|911|112|107|emergencias)",),
)


def signs_of_now(text: str, quoted_from: str | None = None) -> list[str]:
    """The words in `text` that say the danger is now (at most three, for the reasons), quoted
    from `quoted_from` when given (the post as written, when `text` is its screening view)."""
    source = quoting_source(text, quoted_from)
    found = []
    subject = Subject(text)
    for pattern in (_NOW, _AHORA):
        for span in pattern.finditer(subject):
            found.append(source[span.start : span.end])
            if len(found) == 3:
                return found
    return found
