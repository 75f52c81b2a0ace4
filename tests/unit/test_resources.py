"""The crisis resource directory: its data, faithful to the hotline notes, and its routing."""

from __future__ import annotations

import json
from importlib import resources as package_resources
from pathlib import Path

import pytest

from services.moderation.resources import (
    FALLBACK,
    MAX_FOR_AUTHOR,
    DirectoryEntry,
    DirectoryError,
    ResourceDirectory,
)
from streams.events import CATEGORIES, Resource

NOTES_COUNTRIES = {"US", "CA", "GB", "IE", "AU", "NZ", "IN", "DE", "FR", "ES", "MX", "BR", "ZA", "PH"}

#: Numbers and paths the notes call unconfirmed, stale, replaced or law enforcement.
MUST_NOT_APPEAR = [
    "1-800-484-3731",  # Never Use Alone, unconfirmed
    "1-877-696-1996",  # Never Use Alone alternate, unconfirmed
    "Never Use Alone",
    "Press 3",  # 988 LGBTQ+ youth option, ended July 2025
    "1-800-273-8255",  # the old US 10-digit Lifeline: show 988
    "1-800-273-TALK",
    "1933",  # India MANAS: law enforcement
    "MANAS 1933",
    "900 16 15 15",  # Spain FAD, old source only
    "FAD",
    "Crisis_Centres",  # IASP directory path, unconfirmed
    "iasp.info",
    "Live Fear Free",  # Wales DV line, unconfirmed
    "08000 116 016",  # Germany's replaced Hilfetelefon number
]

SAFE_DEVICE_NOTE = "Use a safe device: the number may stay in the call log."


@pytest.fixture(scope="module")
def directory() -> ResourceDirectory:
    return ResourceDirectory.load()


def _raw_data() -> str:
    return (
        package_resources.files("services.moderation.resources").joinpath("directory.json").read_text(encoding="utf-8")
    )


def _every_text(resource: Resource) -> str:
    return " ".join([resource.name, resource.contact, resource.hours, resource.source, resource.note])


def test_every_country_of_the_notes_and_the_fallback_is_present(directory: ResourceDirectory) -> None:
    assert directory.countries() == NOTES_COUNTRIES
    fallback_names = {r.name for r in directory.query(None, None)}
    assert {"Find A Helpline (ThroughLine)", "Befrienders Worldwide"} <= fallback_names
    assert all(r.country == FALLBACK for r in directory.query(None, None))


@pytest.mark.parametrize("forbidden", MUST_NOT_APPEAR)
def test_no_unconfirmed_or_stale_number_appears_anywhere(forbidden: str) -> None:
    assert forbidden.lower() not in _raw_data().lower()


def test_every_entry_has_a_source_and_a_rated_confidence(directory: ResourceDirectory) -> None:
    entries = directory.entries()
    assert len(entries) > 60
    for entry in entries:
        assert entry.source.strip(), entry.name
        assert entry.confidence in ("high", "medium")
        assert "unconfirmed" not in entry.confidence


def test_every_domestic_violence_entry_carries_the_safe_device_note(directory: ResourceDirectory) -> None:
    dv_entries = [e for e in directory.entries() if "abuse" in e.categories]
    assert len(dv_entries) >= len(NOTES_COUNTRIES)
    for entry in dv_entries:
        assert SAFE_DEVICE_NOTE in entry.note, entry.name
        assert "violence" in entry.categories


def test_every_country_has_emergency_crisis_and_abuse_lines(directory: ResourceDirectory) -> None:
    for country in NOTES_COUNTRIES:
        entries = [e for e in directory.entries() if e.country == country]
        assert any("emergency" in e.categories for e in entries), country
        assert any("suicide" in e.categories and "self_harm" in e.categories for e in entries), country
        assert any("abuse" in e.categories for e in entries), country


def test_contacts_are_written_as_the_notes_write_them(directory: ResourceDirectory) -> None:
    contacts = {(e.country, e.name): e.contact for e in directory.entries()}
    assert contacts[("GB", "Samaritans")] == "116 123 · jo@samaritans.org"
    assert contacts[("IE", "Samaritans Ireland")] == "116 123"
    assert contacts[("AU", "Lifeline")] == "13 11 14 · text 0477 13 11 14 · lifeline.org.au"
    assert contacts[("FR", "Drogues Info Service")] == "0 800 23 13 13"
    assert contacts[("US", "SAMHSA National Helpline")].startswith("1-800-662-4357")


def test_rows_mixing_confidence_are_split_into_entries_of_each_confidence(directory: ResourceDirectory) -> None:
    respect = {e.contact: e.confidence for e in directory.entries() if e.name == "1800RESPECT"}
    assert respect == {"1800 737 732": "high", "text 0458 737 732": "medium"}
    tele_manas = {e.contact: e.confidence for e in directory.entries() if e.name.startswith("Tele-MANAS")}
    assert tele_manas == {"14416": "high", "1-800-891-4416": "medium"}


def test_caveats_of_the_notes_are_kept(directory: ResourceDirectory) -> None:
    by_name = {(e.country, e.name): e for e in directory.entries()}
    assert "Not free" in by_name[("GB", "FRANK")].note
    assert "1-800-463-5060" in by_name[("CA", "Poison centres")].note  # Québec
    assert "Nunavut has no 911" in by_name[("CA", "Emergency")].note
    assert "call log" in by_name[("ES", "016")].note


def test_the_data_file_documents_the_category_map() -> None:
    about = " ".join(json.loads(_raw_data())["about"])
    assert "DV -> abuse + violence" in about and "SUD -> relapse" in about


@pytest.mark.parametrize(
    ("country", "first_contact"),
    [("GB", "999"), ("US", "911"), ("AU", "000"), ("NZ", "111"), ("DE", "112"), ("IE", "112"), ("FR", "15")],
)
def test_imminent_risk_puts_the_emergency_number_first(
    directory: ResourceDirectory, country: str, first_contact: str
) -> None:
    resources = directory.for_author(country, ["suicide"], "imminent")
    assert resources[0].category == "emergency"
    assert resources[0].contact.startswith(first_contact)
    assert resources[1].category == "suicide"
    assert len(resources) <= MAX_FOR_AUTHOR


def test_imminent_risk_without_categories_still_gets_emergency_then_crisis_line(directory: ResourceDirectory) -> None:
    resources = directory.for_author("US", [], "imminent")
    assert [r.contact for r in resources[:2]] == ["911", "988 · 988lifeline.org"]


def test_gb_suicide_goes_to_samaritans_first(directory: ResourceDirectory) -> None:
    resources = directory.for_author("GB", ["suicide"], "high")
    assert resources[0].name == "Samaritans"
    assert resources[0].contact.startswith("116 123")
    assert all(r.category != "emergency" for r in resources)


def test_lower_case_country_codes_are_accepted(directory: ResourceDirectory) -> None:
    assert directory.for_author("gb", ["suicide"], "high")[0].name == "Samaritans"


def test_concern_without_categories_gets_the_crisis_line(directory: ResourceDirectory) -> None:
    assert directory.for_author("AU", [], "concern")[0].name == "Lifeline"
    assert directory.for_author("NZ", [], "high")[0].contact == "1737"


def test_no_risk_and_no_category_gets_nothing(directory: ResourceDirectory) -> None:
    assert directory.for_author("GB", [], "none") == []


def test_each_category_gets_its_best_line_before_second_choices(directory: ResourceDirectory) -> None:
    resources = directory.for_author("US", ["relapse", "suicide"], "high")
    assert [r.name for r in resources[:2]] == ["SAMHSA National Helpline", "988 Suicide & Crisis Lifeline"]
    assert [r.category for r in resources[:2]] == ["relapse", "suicide"]


def test_overdose_lines_are_followed_by_the_emergency_number(directory: ResourceDirectory) -> None:
    resources = directory.for_author("US", ["overdose"], "high")
    assert [r.contact for r in resources] == ["1-800-222-1222", "911"]


def test_a_missing_overdose_line_falls_back_to_the_emergency_number(directory: ResourceDirectory) -> None:
    # The notes: India and Mexico have no public poison line; use 112 / 911.
    assert [r.contact for r in directory.for_author("IN", ["overdose"], "concern")] == ["112"]
    assert [r.contact for r in directory.for_author("MX", ["overdose"], "concern")] == ["911"]


def test_a_missing_substance_use_line_falls_back_to_the_crisis_line(directory: ResourceDirectory) -> None:
    assert directory.for_author("ES", ["relapse"], "concern")[0].contact == "024"
    assert directory.for_author("BR", ["relapse"], "concern")[0].contact == "188 · cvv.org.br"
    assert directory.for_author("CA", ["relapse"], "concern")[0].contact == "988 · 988.ca"


def test_abuse_and_violence_route_to_domestic_violence_lines(directory: ResourceDirectory) -> None:
    for category in ("abuse", "violence"):
        [first, *_] = directory.for_author("GB", [category], "high")
        assert first.contact.startswith("0808 2000 247")
        assert SAFE_DEVICE_NOTE in first.note


def test_a_service_appears_once_even_when_split_into_entries(directory: ResourceDirectory) -> None:
    resources = directory.for_author("DE", ["suicide"], "high")
    assert [r.name for r in resources].count("TelefonSeelsorge") == 1
    ph = directory.for_author("PH", ["abuse"], "imminent")
    assert [r.contact for r in ph].count("911") == 1


def test_never_more_than_the_cap(directory: ResourceDirectory) -> None:
    for country in NOTES_COUNTRIES | {None, "JP"}:
        resources = directory.for_author(country, list(CATEGORIES), "imminent")
        assert 1 <= len(resources) <= MAX_FOR_AUTHOR


@pytest.mark.parametrize("country", sorted(NOTES_COUNTRIES))
def test_standing_lines_are_the_countrys_crisis_lines_then_its_emergency_number(
    directory: ResourceDirectory, country: str
) -> None:
    lines = directory.standing_lines(country)
    *crisis, emergency = lines
    assert 2 <= len(lines) <= MAX_FOR_AUTHOR
    assert emergency.category == "emergency" and emergency.country == country
    assert crisis and all(line.category == "suicide" and line.country == country for line in crisis)
    assert crisis[0] == directory.for_author(country, ["suicide"], "high")[0], "the same first line as the router's"


@pytest.mark.parametrize("country", [None, "", "JP", "xx"])
def test_standing_lines_of_an_unknown_country_are_the_directories_and_the_local_emergency_reminder(
    directory: ResourceDirectory, country: str | None
) -> None:
    lines = directory.standing_lines(country)
    assert [line.name for line in lines[:-1]] == ["Find A Helpline (ThroughLine)", "Befrienders Worldwide"]
    assert lines[-1].category == "emergency" and lines[-1].contact == "your local emergency number"
    assert {line.country for line in lines} == {FALLBACK}


@pytest.mark.parametrize("country", [None, "", "JP", "XX"])
def test_unknown_country_gets_the_international_fallback(directory: ResourceDirectory, country: str | None) -> None:
    names = [r.name for r in directory.for_author(country, ["suicide"], "high")]
    assert names == ["Find A Helpline (ThroughLine)", "Befrienders Worldwide"]


def test_unknown_country_at_imminent_risk_is_told_to_call_the_local_emergency_number(
    directory: ResourceDirectory,
) -> None:
    first, *rest = directory.for_author("JP", ["overdose"], "imminent")
    assert first.category == "emergency"
    assert "local emergency number" in first.note
    assert [r.name for r in rest] == ["Find A Helpline (ThroughLine)", "Befrienders Worldwide"]


def test_query_lists_every_entry_of_a_country(directory: ResourceDirectory) -> None:
    items = directory.query("NZ", None)
    assert len(items) == len([e for e in directory.entries() if e.country == "NZ"])
    assert {r.country for r in items} == {"NZ"}


def test_query_by_category_labels_items_with_that_category(directory: ResourceDirectory) -> None:
    items = directory.query("GB", "self_harm")
    assert [r.name for r in items][:2] == ["Samaritans", "Shout 85258"]
    assert {r.category for r in items} == {"self_harm"}


def test_query_without_country_gives_the_fallback(directory: ResourceDirectory) -> None:
    assert {r.country for r in directory.query(None, "suicide")} == {FALLBACK}
    assert {r.country for r in directory.query("JP", None)} == {FALLBACK}


def test_query_with_an_unknown_category_matches_nothing(directory: ResourceDirectory) -> None:
    assert directory.query("GB", "gambling") == []


def test_contact_numbers_hold_hotlines_as_written_and_no_vanity_fragments(directory: ResourceDirectory) -> None:
    numbers = directory.contact_numbers()
    assert {"116 123", "1-800-662-4357", "0808 2000 247", "(02) 8524-1078", "988"} <= numbers
    assert "1-844" not in numbers and "0917-899" not in numbers


def test_a_malformed_file_fails_loudly(tmp_path: Path) -> None:
    broken = tmp_path / "directory.json"
    broken.write_text(json.dumps({"entries": [{"country": "gb", "name": "x"}]}), encoding="utf-8")
    with pytest.raises(DirectoryError):
        ResourceDirectory.load(broken)


def test_a_country_without_an_emergency_number_is_refused() -> None:
    def entry(country: str, category: str) -> DirectoryEntry:
        return DirectoryEntry(
            country=country,
            categories=(category,),
            name=f"{country} {category}",
            how=("call",),  # type: ignore[arg-type]
            contact="123",
            hours="",
            source="test",
            confidence="high",
        )

    with pytest.raises(DirectoryError, match="GB has no emergency"):
        ResourceDirectory([entry("INTL", "emergency"), entry("GB", "suicide")])
