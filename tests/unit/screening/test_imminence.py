"""Imminence is its own decision: the model alone never pages urgent on a post nothing supports."""

from __future__ import annotations

import numpy as np
import pytest

from services.moderation.screening.head import HEAD_NAMES, Head, Thresholds
from services.moderation.screening.imminence import signs_of_now
from services.moderation.screening.rules import RULES, RuleFindings, Signal, apply_rules
from services.moderation.screening.screener import PostScores, decide

HEAD = Head(
    np.zeros((len(HEAD_NAMES), 4), dtype=np.float32),
    np.zeros(len(HEAD_NAMES), dtype=np.float32),
    Thresholds(high=0.6, imminent=0.6, concern=0.5, category=0.5),
    "test",
)


def _scores(crisis: float, imminent: float) -> PostScores:
    values = dict.fromkeys(HEAD_NAMES, 0.0)
    values.update(crisis=crisis, imminent=imminent, concern=0.9, suicide=0.9)
    return PostScores(values)


NOTHING = RuleFindings(signals=[])
IDEATION = next(rule for rule in RULES if rule.name == "ideation")


def test_model_imminence_without_a_rule_signal_or_sign_of_now_is_held_not_paged() -> None:
    text = "I keep thinking everyone would be happier if I just was not around anymore, honestly."
    assert signs_of_now(text) == []
    risk, _, reasons, _ = decide(_scores(0.95, 0.95), NOTHING, HEAD, len(text.split()), text)
    assert risk == "high"
    assert any("held, not paged" in r for r in reasons)


def test_model_imminence_with_a_sign_of_now_pages_urgent() -> None:
    text = "I have been thinking about it all week and the pills are on the table in front of me"
    risk, _, reasons, _ = decide(_scores(0.95, 0.95), NOTHING, HEAD, len(text.split()), text)
    assert risk == "imminent"
    assert any("signs of now" in r for r in reasons)


def test_model_imminence_with_a_rule_signal_of_danger_pages_urgent() -> None:
    findings = RuleFindings(signals=[Signal(IDEATION, "x", "high")])
    text = "some words that hold no sign of time at all in this sentence"
    risk, _, _, _ = decide(_scores(0.95, 0.95), findings, HEAD, len(text.split()), text)
    assert risk == "imminent"


def test_the_imminence_head_alone_does_not_page_when_the_crisis_head_disagrees() -> None:
    text = "tonight I am going to the meeting at the church on the corner with my sponsor"
    risk, _, _, _ = decide(_scores(0.2, 0.99), NOTHING, HEAD, len(text.split()), text)
    assert risk in ("none", "concern")


@pytest.mark.parametrize("crisis", [0.0, 0.7])
def test_a_rules_imminent_is_never_lowered_by_the_model(crisis: float) -> None:
    text = "I already took all of my pills, this is goodbye everyone"
    findings = apply_rules(text)
    assert any(s.risk == "imminent" for s in findings.signals)
    risk, _, _, _ = decide(_scores(crisis, 0.0), findings, HEAD, len(text.split()), text)
    assert risk == "imminent"


def test_signs_of_now_are_time_and_presence_words() -> None:
    assert signs_of_now("my brother won't wake up and his lips look blue")
    assert signs_of_now("doing it tonight")
    assert signs_of_now("Two years sober, grateful for this group") == []


@pytest.mark.parametrize(
    "text",
    [
        "mi hermano no respira y tiene los labios morados",
        "ya me tomé la caja entera",
        "estoy en la azotea ahorita",
        "este es mi último mensaje",
    ],
)
def test_spanish_posts_have_the_same_signs_of_now(text: str) -> None:
    assert signs_of_now(text)


@pytest.mark.parametrize(
    "text",
    ["Dos años sobria, agradecida con este grupo", "me ahorré lo que gastaba en vino", "ayer fui a la reunión"],
)
def test_spanish_posts_without_time_or_presence_words_have_no_sign_of_now(text: str) -> None:
    assert signs_of_now(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "my roommate is seizing on the kitchen floor",
        "i keep seeing things crawl on the wall, day 3 no booze",
        "i cant stay awake and everything is heavy",
        "she is not responding when i shake her",
    ],
)
def test_the_present_emergencies_the_guide_names_are_signs_of_now(text: str) -> None:
    assert signs_of_now(text)


def test_today_alone_is_not_a_sign_of_now() -> None:
    assert signs_of_now("today is ninety days and i finally told my mom about the attempt years ago") == []


@pytest.mark.parametrize(
    "text",
    [
        "he's breathing really slow and making this gurgling sound",
        "her lips are going blue and she went limp",
        "keep nodding off, cant keep my eyes open",
        "cut too deep and it won't stop bleeding",
        "he pulled a knife and i'm locked in the bathroom",
        "swallowed the lot about 20 minutes ago",
        "seeing bugs crawling on the ceiling, day 2 off the bottle",
        "should i be calling an ambulance?? she took something",
        "bye everyone, thank you for trying",
    ],
)
def test_the_emergencies_now_the_notes_name_are_signs_of_now(text: str) -> None:
    assert signs_of_now(text)


@pytest.mark.parametrize(
    "text",
    [
        "respira muy lento y tiene las pupilas chiquitas",
        "me estoy quedando dormida y me cuesta respirar",
        "sacó el cuchillo y estoy encerrada en el baño",
        "me tomé las pastillas hace media hora",
        "me duele el pecho desde que fumé",
    ],
)
def test_spanish_posts_have_the_same_emergencies_now(text: str) -> None:
    assert signs_of_now(text)


@pytest.mark.parametrize(
    "text",
    [
        "five years ago i took a bottle of pills, today i chair the tuesday meeting",
        "as a kid i hid in the bathroom whenever dad was drinking",
        "hace cinco años me tomé un frasco entero; hoy celebro con mi familia",
    ],
)
def test_history_told_as_history_has_no_sign_of_now(text: str) -> None:
    assert signs_of_now(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "my friend just passed out at the party and her breathing sounds wrong",
        "he aint breathing right and makes this snore noise",
        "blood is soaking through the towel",
        "been throwing up blood for an hour",
        "cant stop throwing up, day 2 off the pills",
        "the pills are already kicking in",
        "i won't be here tomorrow, sorry",
        "he's parked outside her house with a bat in the car",
        "we are hiding in the bathroom, he has a knife and is yelling",
    ],
)
def test_an_act_underway_and_its_body_signs_are_signs_of_now(text: str) -> None:
    assert signs_of_now(text)


@pytest.mark.parametrize(
    "text",
    [
        "no deja de salir sangre del corte",
        "me las tomé hace un rato y ya están haciendo efecto",
        "no voy a estar aquí mañana",
        "estoy vomitando sangre",
        "está afuera de la casa gritando",
    ],
)
def test_spanish_acts_underway_are_signs_of_now(text: str) -> None:
    assert signs_of_now(text)


@pytest.mark.parametrize(
    "text",
    [
        "my sponsor snores like a leaf blower on retreat weekends",
        "heart racing and can't stop pacing, ten days off weed, not in danger",
        "I've blacked out a million times back when I drank",
        "fell out with my sister over christmas plans",
        "as a kid I got hit every time dad passed out drunk on the couch",
    ],
)
def test_everyday_uses_of_those_words_are_not_signs_of_now(text: str) -> None:
    assert signs_of_now(text) == []
