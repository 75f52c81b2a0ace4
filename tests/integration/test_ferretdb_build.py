"""Haven's FerretDB build (deploy/local/ferretdb/patches.json), checked over the wire."""

from __future__ import annotations

import asyncio

import pytest
from pymongo import UpdateOne

from tests.harness import StackUnderTest, throwaway_database

pytestmark = pytest.mark.integration


async def test_a_bulk_update_larger_than_the_connection_pool_completes(stack: StackUnderTest) -> None:
    # Stock FerretDB 1.24 kept every statement's query open until the whole command returned, so
    # a bulk update of 100 or more statements waited for ever for a pooled connection, and the
    # database stopped answering anyone.
    async with throwaway_database(stack, "bulk") as db:
        docs = db["docs"]
        await docs.insert_many([{"_id": f"d{n}", "status": "pending"} for n in range(250)])
        writes = [UpdateOne({"_id": f"d{n}"}, {"$set": {"status": "published", "n": n}}) for n in range(250)]
        result = await asyncio.wait_for(docs.bulk_write(writes, ordered=False), timeout=60)
        assert result.matched_count == 250 and result.modified_count == 250
        published = await asyncio.wait_for(docs.count_documents({"status": "published"}), timeout=10)
        assert published == 250
