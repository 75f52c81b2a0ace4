"""`haven seed`'s plan: shapes, proportions and the marks that keep seeded data apart."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from tools.seed import Progress, SeedPlan, plan_batches

NOW = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


def _all(plan: SeedPlan, batch_posts: int = 7) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for _, batch in plan_batches(plan, "r1", batch_posts=batch_posts):
        for part in (batch.forum, batch.notify, batch.moderation):
            for name, docs in part.items():
                out.setdefault(name, []).extend(docs)
    return out


def test_proportions_default_from_the_post_count() -> None:
    plan = SeedPlan.of(1000, None, None, ("a", "b"))
    assert (plan.threads, plan.members) == (50, 100)


@pytest.mark.parametrize(("posts", "threads", "members"), [(0, None, None), (10, 11, None), (10, 0, None), (10, 2, 0)])
def test_impossible_plans_are_refused(posts: int, threads: int | None, members: int | None) -> None:
    with pytest.raises(ValueError):
        SeedPlan.of(posts, threads, members, ("a",))


def test_every_post_is_published_in_a_published_thread_and_marked_seeded() -> None:
    plan = SeedPlan(posts=45, threads=4, members=3, boards=("a", "b"), now=NOW)
    docs = _all(plan)
    posts, threads = docs["posts"], {t["_id"]: t for t in docs["threads"]}
    assert len(posts) == 45 and len(threads) == 4 and len(docs["identities"]) == 3
    assert len({p["_id"] for p in posts}) == 45
    assert all(p["status"] == "published" and p["thread_id"] in threads for p in posts)
    assert all(d.get("seeded") is True for group in docs.values() for d in group)
    assert {t["board_slug"] for t in threads.values()} == {"a", "b"}
    starts = [p for p in posts if p["is_thread_start"]]
    assert sorted(t["first_post_id"] for t in threads.values()) == sorted(p["_id"] for p in starts)


def test_a_threads_last_activity_is_its_newest_post() -> None:
    plan = SeedPlan(posts=45, threads=4, members=3, boards=("a",), now=NOW)
    docs = _all(plan)
    for thread in docs["threads"]:
        newest = max(p["published_at"] for p in docs["posts"] if p["thread_id"] == thread["_id"])
        assert thread["last_activity_at"] == newest
    assert max(p["published_at"] for p in docs["posts"]) < NOW


def test_reactions_inbox_and_queue_history_come_in_proportion() -> None:
    plan = SeedPlan(posts=200, threads=10, members=20, boards=("a",), now=NOW, focus_member_id="reader")
    docs = _all(plan, batch_posts=33)
    assert len(docs["reactions"]) == 100 and len(docs["inbox"]) == 100
    assert len(docs["screenings"]) == 200
    assert len(docs["review_items"]) == 4 and all(i["status"] == "decided" for i in docs["review_items"])
    assert sum(i["recipient_id"] == "reader" for i in docs["inbox"]) == 50
    # A seeded member can never sign in: no token hashes to a non-hex value.
    assert all(i["token_hash"].startswith("seeded:") for i in docs["identities"])


def test_progress_ends_on_a_full_bar() -> None:
    out = io.StringIO()
    bar = Progress(10, out=out, width=10)
    bar.show(10, final=True)
    assert "[##########] 100% 10/10 posts" in out.getvalue() and out.getvalue().endswith("\n")


def test_two_runs_never_share_an_id_or_a_handle() -> None:
    plan = SeedPlan(posts=30, threads=3, members=5, boards=("a",), now=NOW)
    first, second = (list(plan_batches(plan, run)) for run in ("r1", "r2"))
    ids = [(name, d["_id"]) for run in (first, second) for _, b in run for name, docs in b.forum.items() for d in docs]
    handles = [d["handle"] for run in (first, second) for _, b in run for d in b.forum.get("identities", [])]
    assert len(ids) == len(set(ids)) and len(handles) == len(set(handles)) == 10


def test_read_models_list_every_post_once_in_order_and_every_thread_on_its_board() -> None:
    from tools.seed import board_entries

    plan = SeedPlan(posts=301, threads=7, members=5, boards=("a", "b"), now=NOW)
    docs = _all(plan, batch_posts=50)
    lists = {d["_id"]: d for d in docs["thread_post_lists"]}
    posts = {p["_id"]: p for p in docs["posts"]}
    for thread in docs["threads"]:
        head = lists[thread["_id"]]
        entries = [e for n in range(0, head["n"], 64) for e in lists[f"{thread['_id']}/{n // 64}"]["e"]]
        assert [e["i"] for e in entries] == list(range(head["n"]))
        assert all(
            posts[e["p"]]["thread_pos"] == e["i"] and posts[e["p"]]["thread_id"] == thread["_id"] for e in entries
        )
        assert entries[0]["p"] == thread["first_post_id"]
    assert sum(d["n"] for d in lists.values() if "n" in d) == 301
    boards = board_entries(plan, "r1")
    threads = {t["_id"]: t for t in docs["threads"]}
    assert sorted(e["t"] for es in boards.values() for e in es) == sorted(threads)
    for board, entries in boards.items():
        assert all(
            threads[e["t"]]["board_slug"] == board and threads[e["t"]]["last_activity_at"] == e["a"] for e in entries
        )
        assert [e["a"] for e in entries] == sorted(e["a"] for e in entries)


@pytest.mark.parametrize("raw", ["", "10,5", "1000,1000", "0,10", "1k"])
def test_bench_scale_refuses_sizes_it_cannot_run(raw: str) -> None:
    from tools.benchmarks.scale import parse_sizes

    with pytest.raises(ValueError):
        parse_sizes(raw)


def test_bench_scale_sizes_in_order() -> None:
    from tools.benchmarks.scale import parse_sizes

    assert parse_sizes("1000,10000,100000") == [1000, 10000, 100000]
