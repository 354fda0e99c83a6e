"""Group commit (`Database.write`): concurrent writes share one commit, each caller is answered only after
that commit, a failing write is undone alone, a failing commit fails every write of its batch, and shared
writes never interleave with a private `transaction()`.

Store level, a real SQLite file; commits are counted with the database's own `on_commit` listeners.
"""

import asyncio
import sqlite3

import pytest

from store.db import IntegrityError
from store.errors import NotFound
from store.messages import create_message
from store.vmboxes import create_vmbox
from tests.conftest import make_tone


@pytest.fixture
def store_url():
    """SQLite's group commit (store/group_commit.py); on PostgreSQL the server commits concurrent transactions together itself."""
    return None


MISSING_BOX = "0123456789abcdef0123456789abcdef"


def count_commits(store) -> list[str]:
    """A log that gets "commit" appended after every commit of `store`."""
    log: list[str] = []
    store.db.on_commit(lambda: log.append("commit"))
    return log


def insert_account(ident: str):
    async def work(tx):
        await tx.execute(
            "INSERT INTO accounts (id, name, created) VALUES (?, ?, 0)", (ident, ident)
        )
        return ident

    return work


async def account_ids(store) -> set[str]:
    return {row[0] for row in await store.db.fetch_all("SELECT id FROM accounts")}


@pytest.fixture
async def box(store, account) -> str:
    return (await create_vmbox(store.db, account, {"name": "Ann", "mailbox": "3000"})).id


async def test_concurrent_creations_share_one_commit(store, account, box):
    log = count_commits(store)
    created = await asyncio.gather(
        *(create_message(store, account, box, {"caller_id_number": str(n)}) for n in range(20))
    )
    assert log == ["commit"]
    rows = await store.db.fetch_all("SELECT id FROM messages WHERE box_id = ?", (box,))
    assert {row[0] for row in rows} == {message.id for message in created}
    assert len(rows) == 20


async def test_each_caller_resumes_only_after_the_commit_holding_its_write(store, account, box):
    log = count_commits(store)

    async def create(n: int) -> None:
        message = await create_message(store, account, box, {"caller_id_number": str(n)})
        log.append("answered")
        assert await store.db.fetch_one("SELECT 1 FROM messages WHERE id = ?", (message.id,))

    await asyncio.gather(*(create(n) for n in range(5)))
    assert log == ["commit"] + ["answered"] * 5


async def test_a_failing_write_is_undone_alone_and_the_others_of_its_batch_are_kept(
    store, account, box
):
    async def half_then_duplicate(tx):
        await tx.execute("INSERT INTO accounts (id, name, created) VALUES ('half', 'half', 0)")
        await tx.execute("INSERT INTO accounts (id, name, created) VALUES ('one', 'again', 0)")

    log = count_commits(store)
    outcomes = await asyncio.gather(
        store.db.write(insert_account("one")),
        store.db.write(half_then_duplicate),
        create_message(store, account, MISSING_BOX, {}),
        store.db.write(insert_account("two")),
        create_message(store, account, box, {"caller_id_number": "6001"}),
        return_exceptions=True,
    )
    assert log == ["commit"]
    assert outcomes[0] == "one" and outcomes[3] == "two"
    assert isinstance(outcomes[1], IntegrityError)
    assert isinstance(outcomes[2], NotFound)
    assert outcomes[4].doc["caller_id_number"] == "6001"
    assert await account_ids(store) == {account, "one", "two"}
    assert len(await store.db.fetch_all("SELECT id FROM messages")) == 1


async def test_a_failing_commit_fails_every_write_of_its_batch_and_keeps_none(store, account):
    async def violates_at_commit(tx):
        # Deferred: the orphan message passes its INSERT and fails the batch's COMMIT instead.
        await tx.execute("PRAGMA defer_foreign_keys = ON")
        await tx.execute(
            "INSERT INTO messages (id, account_id, box_id, folder, timestamp, doc, rev)"
            " VALUES ('orphan', ?, ?, 'new', 0, '{}', 1)",
            (account, MISSING_BOX),
        )

    log = count_commits(store)
    outcomes = await asyncio.gather(
        store.db.write(insert_account("lost")),
        store.db.write(violates_at_commit),
        return_exceptions=True,
    )
    assert all(isinstance(outcome, IntegrityError) for outcome in outcomes), outcomes
    assert log == []
    assert await account_ids(store) == {account}
    assert await store.db.write(insert_account("after")) == "after"
    assert await account_ids(store) == {account, "after"}


async def test_shared_writes_wait_for_a_private_transaction_and_never_mix_with_it(store, account):
    async with store.db.transaction() as tx:
        await tx.execute("INSERT INTO accounts (id, name, created) VALUES ('private', 'p', 0)")
        shared = asyncio.create_task(store.db.write(insert_account("shared")))
        await tx.fetch_one(
            "SELECT 1"
        )  # a round trip to the writer's thread: the shared write queues
        assert not shared.done()
        await tx.execute("DELETE FROM accounts WHERE id = 'private'")
    assert await shared == "shared"
    assert await account_ids(store) == {account, "shared"}


async def test_a_cancelled_creation_still_commits_with_its_audio(store, account, box, tmp_path):
    upload = make_tone(tmp_path, 0.5)
    audio = await store.media.store(upload, account)
    async with store.db.transaction() as tx:  # holds the write lock: the creation queues behind it
        creation = asyncio.create_task(create_message(store, account, box, {}, audio))
        await tx.fetch_one("SELECT 1")
        creation.cancel()
    with pytest.raises(asyncio.CancelledError):
        await creation
    await store.db.write(insert_account("later"))  # committed after the batch holding the creation
    [row] = await store.db.fetch_all("SELECT media_file FROM messages")
    assert row[0] == audio.file
    assert store.media.path(audio.file).exists()


async def test_shared_writes_are_committed_with_a_full_sync(store):
    async def synchronous(tx):
        return (await tx.fetch_one("PRAGMA synchronous"))[0]

    assert await store.db.write(synchronous) == 2  # FULL: the WAL is fsynced before COMMIT returns


async def test_a_creation_whose_box_is_deleted_before_its_commit_is_not_found(
    store, account, box, tmp_path
):
    audio = await store.media.store(make_tone(tmp_path, 0.5), account)
    async with store.db.transaction() as tx:  # the creation reads the box, then queues behind this
        creation = asyncio.create_task(create_message(store, account, box, {}, audio))
        await tx.fetch_one("SELECT 1")
        await tx.execute("DELETE FROM vmboxes WHERE id = ?", (box,))
    with pytest.raises(NotFound):
        await creation
    assert await store.db.fetch_all("SELECT id FROM messages") == []
    assert not store.media.path(audio.file).exists()


async def test_a_shared_write_waits_off_the_loop_for_another_process_holding_the_write_lock(
    store, tmp_path
):
    other = sqlite3.connect(tmp_path / "data" / "vmbox.sqlite3", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    shared = asyncio.create_task(store.db.write(insert_account("waited")))
    for _ in range(3):  # let the committer try BEGIN, find the lock taken, and wait on its thread
        await asyncio.sleep(0)
    assert not shared.done()
    assert await store.db.fetch_one("SELECT 1") is not None  # the loop is not blocked meanwhile
    other.execute("COMMIT")
    other.close()
    assert await shared == "waited"
