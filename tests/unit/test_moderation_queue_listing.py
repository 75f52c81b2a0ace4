"""The queue listing's pure pieces: what a listed item shows, its cursor and its limit."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from services.moderation.api.legacy_reasons import without_quoted_words
from services.moderation.api.queue_listing import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    QUEUE_ORDER,
    BadPageRequest,
    QueuePosition,
    decode_cursor,
    encode_cursor,
    listing_entry,
    parse_limit,
)
from services.moderation.api.representations import item_view

BODY = "I saved up my pills and tonight is the night. Zanzibar marmalade."
NOTE = "she said goodbye to everyone at the quokka meeting"


def _held_item() -> dict:
    return {
        "_id": "post:p1:1",
        "post_id": "p1",
        "thread_id": "t1",
        "author_id": "a1",
        "revision": 1,
        "title": "Tonight, lighthouse",
        "body": BODY,
        "level_rank": 3,
        "status": "open",
        "verdict": {
            "id": "p1",
            "risk": "imminent",
            "categories": ["suicide"],
            "action": "hold_urgent",
            "scores": {"crisis": 0.97},
            "model_version": "m1",
            "reasons": [
                "model: imminent (crisis 0.97, imminent 0.91)",
                "plan + means: 'saved up my pills'",
                "ideation set aside (past): 'tonight is the night'",
                "a quote across lines: 'Zanzibar\nmarmalade'",
                "context: support for someone else",
            ],
        },
        "resources": [{"name": "Samaritans", "contact": "116 123", "hours": "24/7", "country": "GB", "source": "s"}],
        "reports": [
            {"report_id": "r1", "reason": "worried_about_author", "note": NOTE, "at": datetime(2026, 1, 1, tzinfo=UTC)}
        ],
        "claim": None,
        "created_at": datetime(2026, 1, 1, 12, 0, 0, 123000, tzinfo=UTC),
    }


def test_a_listed_item_carries_no_member_words_but_keeps_what_the_console_shows() -> None:
    full = item_view(_held_item())
    listed = listing_entry(full)
    text = json.dumps(listed).lower()
    member_words = ["lighthouse", "pills", "tonight", "zanzibar", "marmalade", "goodbye", "quokka"]
    assert [w for w in member_words if w in json.dumps(full).lower()] == member_words, "the full view has them all"
    assert [w for w in member_words if w in text] == []
    assert listed["reasons"] == [
        "model: imminent (crisis 0.97, imminent 0.91)",
        "plan + means",
        "ideation set aside (past)",
        "a quote across lines",
        "context: support for someone else",
    ]
    assert listed["verdict"] == {
        "risk": "imminent",
        "categories": ["suicide"],
        "action": "hold_urgent",
        "scores": {"crisis": 0.97},
        "model_version": "m1",
    }
    assert listed["reports"] == [{"report_id": "r1", "reason": "worried_about_author"}]
    assert (listed["item_id"], listed["post_id"], listed["level"], listed["status"]) == (
        "post:p1:1",
        "p1",
        "urgent",
        "open",
    )
    assert listed["resources"] == full["resources"] and listed["claimed_by"] is None


def test_a_report_item_without_a_verdict_is_listed_too() -> None:
    report_item = {**_held_item(), "_id": "report:p1", "verdict": None, "level_rank": 2}
    listed = listing_entry(item_view(report_item))
    assert listed["verdict"] is None and listed["reasons"] == [] and listed["level"] == "hold"


def test_reasons_without_quoted_words_stay_as_they_are() -> None:
    assert without_quoted_words("too short for the model alone to hold") == "too short for the model alone to hold"
    assert without_quoted_words("first-person intent: 'it's over: 'done''") == "first-person intent"


def test_a_cursor_is_opaque_and_stands_for_the_same_position() -> None:
    position = QueuePosition(2, datetime(2026, 3, 4, 5, 6, 7, 891000, tzinfo=UTC), "report:p9:r3")
    cursor = encode_cursor(position)
    assert "report" not in cursor and "=" not in cursor
    assert decode_cursor(cursor) == position


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        base64.urlsafe_b64encode(b"not json").decode(),
        base64.urlsafe_b64encode(b'{"a": 1}').decode(),
        base64.urlsafe_b64encode(b"[2, 1700000000000]").decode(),
        base64.urlsafe_b64encode(b'[true, 1700000000000, "x"]').decode(),
        base64.urlsafe_b64encode(b'[2, "yesterday", "x"]').decode(),
        base64.urlsafe_b64encode(b'[2, 1700000000000, ""]').decode(),
        base64.urlsafe_b64encode(b'[2, 99999999999999999999, "x"]').decode(),
        base64.urlsafe_b64encode(b'[99999999999999999999, 1, "x"]').decode(),
        base64.urlsafe_b64encode(b'[2, 9000000000000000, "x"]').decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_cursor_this_service_did_not_hand_out_is_refused(cursor: str) -> None:
    with pytest.raises(BadPageRequest):
        decode_cursor(cursor)


def test_the_limit_defaults_to_50_and_is_a_whole_number_up_to_200() -> None:
    assert (DEFAULT_LIMIT, MAX_LIMIT) == (50, 200)
    assert parse_limit(None) == 50 and parse_limit("1") == 1 and parse_limit("200") == 200
    for bad in ("0", "201", "-1", "ten", "2.5", "", " 5", "٣"):
        with pytest.raises(BadPageRequest):
            parse_limit(bad)


def _sort_key(item: dict) -> tuple:
    return (-item["level_rank"], item["created_at"], item["_id"])


def test_pages_follow_one_another_without_gaps_or_repeats_even_as_items_arrive() -> None:
    """The cursor filter, applied by hand in QUEUE_ORDER, over items that arrive between pages."""
    assert QUEUE_ORDER == [("level_rank", -1), ("created_at", 1), ("_id", 1)]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    items = [{"_id": f"i{n}", "level_rank": n % 4, "created_at": start + timedelta(seconds=n // 3)} for n in range(23)]

    def after(position: QueuePosition | None) -> list[dict]:
        ordered = sorted(items, key=_sort_key)
        if position is None:
            return ordered
        return [i for i in ordered if _matches(i, position.later_items())]

    seen: list[dict] = []
    position = None
    while True:
        page = after(position)[:4]
        seen += page
        if len(page) < 4:
            break
        position = decode_cursor(encode_cursor(QueuePosition.of(page[-1])))
        if len(seen) == 8:
            # One item that sorts before the cursor and one that sorts after it.
            items.append({"_id": "ahead", "level_rank": 3, "created_at": start})
            items.append({"_id": "behind", "level_rank": 0, "created_at": start + timedelta(hours=1)})
    ids = [i["_id"] for i in seen]
    assert len(ids) == len(set(ids)) == 24
    assert "ahead" not in ids and ids[-1] == "behind"
    assert seen == sorted(seen, key=_sort_key)


def _matches(item: dict, query: dict) -> bool:
    """Just enough of MongoDB's query language for `later_items`."""
    for key, condition in query.items():
        if key == "$or":
            if not any(_matches(item, alternative) for alternative in condition):
                return False
        elif isinstance(condition, dict):
            ((op, value),) = condition.items()
            if not {"$lt": item[key] < value, "$gt": item[key] > value}[op]:
                return False
        elif item[key] != condition:
            return False
    return True
