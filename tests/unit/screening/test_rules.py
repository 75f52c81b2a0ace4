"""Each rule family: what counts as a crisis signal, and what context sets it aside."""

from __future__ import annotations

import pytest

from services.common.normalize import normalize_text
from services.moderation.screening import Screener, ScreeningInput
from services.moderation.screening.rules import apply_rules


def _risks(text: str) -> set[tuple[str, str]]:
    return {(s.category, s.risk) for s in apply_rules(text).signals}


@pytest.mark.parametrize(
    "text",
    [
        "I'm not going to kill myself. I just needed to say the thought out loud.",
        "I would never kill myself, my daughter needs me.",
        "I'm not suicidal, just exhausted from the cravings.",
    ],
)
def test_negated_intent_is_set_aside(text: str) -> None:
    findings = apply_rules(text)
    assert not [s for s in findings.signals if s.category == "suicide"]


def test_a_negated_match_is_kept_as_a_reason_for_moderators() -> None:
    findings = apply_rules("I'm not going to kill myself. I just needed to say the thought out loud.")
    assert any("negated" in d and "kill myself" in d for d in findings.dismissed)


@pytest.mark.parametrize(
    "text",
    [
        "Two years ago I wanted to die every morning. Today I have 730 days.",
        "Back when I was using I tried to kill myself. That was a different life.",
    ],
)
def test_past_tense_recovery_stories_are_not_current_danger(text: str) -> None:
    assert not [s for s in apply_rules(text).signals if s.risk in ("high", "imminent")]


def test_quoted_and_reported_speech_is_not_the_writers_own_intent() -> None:
    assert not apply_rules('The song goes "I want to die young" and it was stuck in my head all day.').signals
    assert not apply_rules("He said 'I want to kill myself' as a joke and everyone laughed.").signals


def test_supporting_someone_else_is_not_a_crisis_of_the_writer() -> None:
    findings = apply_rules("Please don't hurt yourself. Call 988, you're not alone in this.")
    assert not findings.signals


@pytest.mark.parametrize(
    "text",
    ["This craving is killing me lol", "I could kill for a coffee right now", "I'd rather die than do my 4th step"],
)
def test_idioms_are_not_intent(text: str) -> None:
    assert not [s for s in apply_rules(text).signals if s.category == "suicide"]


@pytest.mark.parametrize(
    "text", ["honestly kms", "thinking about ctb this weekend", "gonna unalive myself", "sewerslide is on my mind"]
)
def test_filter_dodging_slang_is_caught(text: str) -> None:
    assert ("suicide", "high") in _risks(text) or ("suicide", "imminent") in _risks(text)


@pytest.mark.parametrize(
    "text",
    [
        "my friend is blue and not breathing what do I do",
        "My roommate won't wake up and his lips are blue",
        "found a guy slumped in his car, gurgling",
    ],
)
def test_third_person_emergencies_are_imminent_overdoses(text: str) -> None:
    assert ("overdose", "imminent") in _risks(text)


def test_intent_with_a_plan_and_means_is_imminent() -> None:
    assert ("suicide", "imminent") in _risks("I've saved up my pills and I'm going to kill myself tonight.")


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Me quiero morir, ya no aguanto más.", "suicide"),
        ("Mi amigo no respira y está azul.", "overdose"),
        ("Mi esposo me pega cuando bebe.", "abuse"),
    ],
)
def test_explicit_spanish_phrases(text: str, category: str) -> None:
    assert category in {c for c, _ in _risks(text)}


def test_withdrawal_seizure_is_a_medical_emergency() -> None:
    assert ("medical", "imminent") in _risks("I'm having a seizure I think, day 3 off the booze")


def test_reasons_name_the_signal_and_the_words() -> None:
    reason = apply_rules("I've saved up my pills for this.").signals[0].reason
    assert reason.startswith("plan + means:") and "saved up my pills" in reason


def test_ordinary_recovery_talk_has_no_signal() -> None:
    assert not apply_rules("Hit 90 days today. Coffee with my sponsor, then a meeting. Grateful.").signals


# Unicode tricks: the screener normalizes text (services.common.normalize) before rules and model.
@pytest.mark.parametrize(
    "text",
    [
        "I'm going to kill\u200bmyself tonight",
        "I'm going to ｋｉｌｌ ｍｙｓｅｌｆ tonight",
        "I'm going to k\u00adill my\u00adself tonight",
        "I'm going to kill\u2060my\ufeffself tonight",
    ],
)
def test_invisible_and_fullwidth_characters_do_not_hide_intent(text: str) -> None:
    assert not apply_rules(text).signals
    assert ("suicide", "high") in _risks(normalize_text(text))


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Mi amigo no respira y está azul.", "overdose"),
        ("Mi amigo no respira y esta\u0301 azul.", "overdose"),
        ("Esta es mi despedida, adio\u0301s a todos.", "suicide"),
        ("Ya no aguanto ma\u0301s, me quiero morir.", "suicide"),
    ],
)
def test_spanish_accents_still_match_after_normalization(text: str, category: str) -> None:
    assert category in {c for c, _ in _risks(normalize_text(text))}


def test_the_screener_normalizes_before_its_rules(screener: Screener) -> None:
    [verdict] = screener.screen_batch([ScreeningInput(id="zw", text="gonna kill\u200bmy\u200bself tonight")])
    assert verdict.risk in ("high", "imminent")
    assert "first-person intent: 'gonna killmyself'" in verdict.reasons


# Lookarounds, as RE2 has none: each stand-in keeps the meaning `re` gave it.
def test_a_gun_safe_is_not_a_method_but_a_gun_is() -> None:
    assert not apply_rules("I need a gun safe for the hunting rifle.").signals
    assert ("suicide", "high") in _risks("I need a gun, I know what I'd do with it.")


def test_cutting_myself_off_from_people_is_not_self_harm() -> None:
    assert not [s for s in apply_rules("I keep cutting myself off from everyone.").signals if s.category == "self_harm"]
    assert ("self_harm", "high") in _risks("I keep cutting myself every night.")


def test_me_counts_only_before_a_word_of_time_and_the_match_stops_at_me() -> None:
    [signal] = [s for s in apply_rules("I'm going to kill me tonight").signals if s.category == "suicide"]
    assert signal.reason.endswith("'I'm going to kill me'")
    assert not [s for s in apply_rules("I'm going to kill me a burger").signals if s.category == "suicide"]


@pytest.mark.parametrize("word", ["ñkms", "我kms", "éctb"])
def test_a_keyword_that_starts_inside_a_non_ascii_word_is_not_a_keyword(word: str) -> None:
    assert not apply_rules(f"honestly {word}").signals
    assert apply_rules(f"honestly {word[0]} {word[1:]}").signals


def _recent_self_harm(text: str) -> list[str]:
    return [s.floor for s in apply_rules(text).signals if s.rule.name in ("self_harm_recent", "es_self_harm_recent")]


@pytest.mark.parametrize(
    "text",
    [
        "I self harmed today for the first time in a year.",
        "last night i cut my arms",
        "I relapsed and self harmed last night after the fight.",
        "i have been self-harming and it's getting worse",
        "I've relapsed with self harm and I feel like I'm collapsing.",
        "I self harm whenever I get overwhelmed.",
        "Started cutting again, nobody knows.",
        "Anoche me corté otra vez.",
        "Me volví a cortar.",
    ],
)
def test_self_injury_told_as_recent_or_ongoing_holds_alone(text: str) -> None:
    """The guide's SH-CURRENT is high, and these words are precise on the corpus (the precision test)."""
    assert _recent_self_harm(text) == ["high"]


@pytest.mark.parametrize(
    "text",
    [
        "I want to cut myself tonight but I'm holding on.",  # an urge: concern
        "1 year free from self harm today, got a butterfly tattoo over the scars.",  # a milestone
        "If you self harmed today, it doesn't erase your progress.",  # support
        "I haven't self harmed today.",
        "I have self harmed in the past but not today.",
        "i self harmed 3 years ago today",  # an anniversary
        "I used to self harm whenever I got upset.",
        "when i was 25 i cut myself every night. i haven't in six years.",
        "I cut myself shaving this morning.",
        "i burned myself on the stove again lol",
        "I keep cutting myself off from everyone.",
        "I just cut myself off from them today.",
        "My sister cut herself last night.",  # someone else: not the writer's act
        "Me corté cocinando hoy.",
    ],
)
def test_urges_history_support_accidents_and_others_are_not_recent_self_injury(text: str) -> None:
    assert _recent_self_harm(text) == []
