"""A board page asks the database whether its board exists once per forum process, not per request."""

from __future__ import annotations

from typing import Any

from services.forum.store import ForumStore


class CountingBoards:
    def __init__(self, slugs: set[str]) -> None:
        self.slugs = slugs
        self.lookups = 0

    async def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
        self.lookups += 1
        return {"_id": query["_id"]} if query["_id"] in self.slugs else None


class OnlyBoards:
    def __init__(self, boards: CountingBoards) -> None:
        self.boards = boards

    def __getitem__(self, name: str) -> Any:
        return self.boards if name == "boards" else object()


async def test_a_found_board_is_remembered_and_a_missing_one_is_asked_again() -> None:
    boards = CountingBoards({"newcomers"})
    store = ForumStore(OnlyBoards(boards))  # type: ignore[arg-type]

    assert [await store.board_exists("newcomers") for _ in range(3)] == [True, True, True]
    assert boards.lookups == 1

    assert not await store.board_exists("no-such-board")
    boards.slugs.add("no-such-board")  # a board seeded after the first miss is found
    assert await store.board_exists("no-such-board")
    assert boards.lookups == 3
