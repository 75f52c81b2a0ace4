"""Service-level figures for the review queue: how long people wait for a moderator.

Histograms per risk level, in the app's own registry, so Prometheus can alert on them (for
example: the 90th percentile of time to first claim for urgent items above five minutes).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from services.moderation.api.store import LEVEL_NAMES

# From seconds (an urgent item claimed at once) to a day (a quiet report on a quiet night).
WAIT_BUCKETS = (10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 43200, 86400)


class SlaMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._to_first_claim = Histogram(
            "haven_review_time_to_first_claim_seconds",
            "From an item entering the queue to its first claim",
            ["level"],
            registry=registry,
            buckets=WAIT_BUCKETS,
        )
        self._to_decision = Histogram(
            "haven_review_time_to_decision_seconds",
            "From an item entering the queue to a decision on it",
            ["level", "decision"],
            registry=registry,
            buckets=WAIT_BUCKETS,
        )
        self._realerts = Counter(
            "haven_review_urgent_realerts_total",
            "Urgent items re-alerted because nobody claimed them in time",
            registry=registry,
        )

    def first_claim(self, item: dict[str, Any], at: datetime) -> None:
        self._to_first_claim.labels(_level(item)).observe(_waited(item, at))

    def decided(self, item: dict[str, Any], decision: str, at: datetime) -> None:
        self._to_decision.labels(_level(item), decision).observe(_waited(item, at))

    def realerted(self) -> None:
        self._realerts.inc()


def _level(item: dict[str, Any]) -> str:
    return LEVEL_NAMES[item["level_rank"]]


def _waited(item: dict[str, Any], at: datetime) -> float:
    created: datetime = item["created_at"]
    return max(0.0, (at - created).total_seconds())
