"""Shadow screening: a candidate's disagreements are recorded (never the text), nothing else."""

from __future__ import annotations

from typing import Any

from services.moderation.screening import ScreeningInput
from services.moderation.screening.shadow import ShadowFlow, summarize
from streams.events import PostSubmitted, Verdict


class MemoryCollection:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    async def replace_one(self, query: dict[str, Any], doc: dict[str, Any], upsert: bool) -> None:
        assert upsert
        self.docs[query["_id"]] = doc


def _post(post_id: str, body: str) -> PostSubmitted:
    return PostSubmitted(post_id=post_id, thread_id="t1", board_slug="alcohol", author_id="a1", body=body)


def _screener(version: str, verdicts: dict[str, tuple[str, str, list[str]]]):  # type: ignore[no-untyped-def]
    def screen(items: list[ScreeningInput]) -> list[Verdict]:
        return [
            Verdict(
                id=i.id,
                risk=verdicts[i.id][0],
                action=verdicts[i.id][1],
                categories=verdicts[i.id][2],  # type: ignore[arg-type]
                model_version=version,
            )
            for i in items
        ]

    return screen


async def test_only_disagreements_are_recorded_with_both_verdicts_and_no_text() -> None:
    live = _screener(
        "live-1",
        {
            "p1": ("none", "publish", []),
            "p2": ("high", "hold", ["suicide"]),
            "p3": ("concern", "publish_with_resources", ["relapse"]),
        },
    )
    candidate = _screener(
        "cand-2",
        {
            "p1": ("none", "publish", []),
            "p2": ("imminent", "hold_urgent", ["suicide"]),
            "p3": ("concern", "publish_with_resources", ["relapse", "overdose"]),
        },
    )
    store = MemoryCollection()
    flow = ShadowFlow(live, candidate, store)
    body = "a secret body that must never be stored"
    assert await flow.process([_post("p1", body), _post("p2", body), _post("p3", body)]) == 2
    assert set(store.docs) == {"p2:1:cand-2", "p3:1:cand-2"}
    p2 = store.docs["p2:1:cand-2"]
    assert p2["differs"] == ["risk", "action"]
    assert p2["live"] == {"risk": "high", "action": "hold", "categories": ["suicide"], "model_version": "live-1"}
    assert p2["candidate"]["risk"] == "imminent" and p2["candidate"]["model_version"] == "cand-2"
    assert store.docs["p3:1:cand-2"]["differs"] == ["categories"]
    assert all(body not in repr(doc) for doc in store.docs.values()), "the post's text is never recorded"

    # Redelivery records nothing twice.
    await flow.process([_post("p2", body)])
    assert len(store.docs) == 2

    summary = summarize(list(store.docs.values()))
    assert summary["disagreements"] == 2
    assert summary["by_level"] == {"high -> imminent": 1}
    assert summary["by_action"] == {"hold -> hold_urgent": 1}
    assert summary["categories_only_candidate"] == {"overdose": 1}


async def test_a_failing_candidate_records_nothing_and_does_not_raise() -> None:
    live = _screener("live-1", {"p1": ("none", "publish", [])})

    def broken(items: list[ScreeningInput]) -> list[Verdict]:
        raise RuntimeError("candidate exploded")

    store = MemoryCollection()
    assert await ShadowFlow(live, broken, store).process([_post("p1", "hello")]) == 0
    assert store.docs == {}
