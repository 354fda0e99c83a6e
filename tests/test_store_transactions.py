"""Write transactions survive the cancellation of the task that opened them (a worker stopped at shutdown,
a request given up): the writer connection is never left inside a transaction nobody will end."""

import asyncio

import pytest

from store.accounts import create_account, list_accounts


async def cancelled(write) -> None:
    """Run `write()` as a task and cancel it at its first suspension."""
    task = asyncio.create_task(write())
    await asyncio.sleep(0)  # the task now waits for its BEGIN, queued on aiosqlite's thread
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_write_cancelled_while_it_begins_leaves_the_next_writes_working(store):
    async def begin_and_write():
        async with store.db.transaction() as tx:
            await tx.execute("UPDATE accounts SET name = 'never' WHERE 0")

    await cancelled(begin_and_write)
    account, _ = await create_account(
        store.db, "after"
    )  # failed with "cannot start a transaction within a transaction"
    assert [found.id for found in await list_accounts(store.db)] == [account.id]


async def test_a_write_cancelled_in_its_statements_is_rolled_back(store):
    started = asyncio.Event()

    async def write_then_wait():
        async with store.db.transaction() as tx:
            await tx.execute("INSERT INTO accounts (id, name, created) VALUES ('x', 'half', 0)")
            started.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(write_then_wait())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await create_account(store.db, "after")
    assert [found.name for found in await list_accounts(store.db)] == ["after"]
