"""Small pure pieces of the review desk: message templates, highlighted words, SLA figures."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import CollectorRegistry

from services.moderation.api.quoted_words import highlights
from services.moderation.api.sla import SlaMetrics
from services.moderation.api.templates import NO_RESOURCES, message_templates
from streams.events import utc_now

SAMARITANS = {"name": "Samaritans", "contact": "116 123", "hours": "24/7", "country": "GB", "source": "samaritans.org"}
EMERGENCY = {"name": "Emergency", "contact": "999", "hours": "", "country": "GB", "source": "gov.uk"}


def test_every_template_carries_the_resources_the_author_was_sent_in_order() -> None:
    templates = message_templates([EMERGENCY, SAMARITANS])
    assert {t["id"] for t in templates} == {"check_in", "held", "removed"}
    for template in templates:
        assert "- Emergency: 999\n- Samaritans: 116 123 (24/7)" in template["text"]
        assert template["label"]


def test_a_template_lists_at_most_three_lines_and_never_an_empty_list() -> None:
    many = [{**SAMARITANS, "name": f"Line {n}"} for n in range(6)]
    text = message_templates(many)[0]["text"]
    assert "Line 2" in text and "Line 3" not in text
    assert NO_RESOURCES in message_templates([])[0]["text"]


def test_highlights_are_the_words_each_rule_matched_but_not_the_ones_set_aside() -> None:
    reasons = [
        "model: imminent (crisis 0.97, imminent 0.91)",
        "plan + means: 'i have the pills counted out'",
        "first-person intent: 'i'm going to kill myself tonight'",
        "ideation set aside (past): 'two years ago i wanted to die'",
        "long words clipped: 'abcdefghij…'",
    ]
    assert highlights(reasons) == ["i have the pills counted out", "i'm going to kill myself tonight", "abcdefghij"]


def test_sla_histograms_count_the_wait_per_level_and_decision() -> None:
    registry = CollectorRegistry()
    sla = SlaMetrics(registry)
    now = utc_now()
    urgent = {"level_rank": 3, "created_at": now - timedelta(seconds=45)}
    sla.first_claim(urgent, now)
    sla.decided(urgent, "approve", now + timedelta(seconds=60))
    sla.realerted()

    def sample(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert sample("haven_review_time_to_first_claim_seconds_count", level="urgent") == 1
    assert sample("haven_review_time_to_first_claim_seconds_sum", level="urgent") == 45
    assert sample("haven_review_time_to_first_claim_seconds_bucket", level="urgent", le="30.0") == 0
    assert sample("haven_review_time_to_first_claim_seconds_bucket", level="urgent", le="60.0") == 1
    assert sample("haven_review_time_to_decision_seconds_sum", level="urgent", decision="approve") == 105
    assert sample("haven_review_urgent_realerts_total") == 1


def test_the_console_cookie_is_secure_behind_a_trusted_tls_proxy_only() -> None:
    from aiohttp.test_utils import make_mocked_request

    from services.moderation.api.console_views import served_over_https

    def request(remote: str, proto: str | None) -> object:
        headers = {"X-Forwarded-Proto": proto} if proto else {}
        return make_mocked_request("POST", "/console/session", headers=headers).clone(remote=remote)

    assert served_over_https(request("10.0.0.2", "https"), ("10.0.0.2",))
    assert not served_over_https(request("10.0.0.9", "https"), ("10.0.0.2",)), "an untrusted header is ignored"
    assert not served_over_https(request("10.0.0.2", None), ("10.0.0.2",))
