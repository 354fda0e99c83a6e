"""Read results kept until the database changes (`Database.remembered`), and the listings that use it:
a kept result is read again after any commit (this process's writers, or another process's connection)
and once the retention cutoff leaves the range it holds for; listings answered from memory never differ
from a fresh read.

Store level, a real SQLite file; "another process" is a second, plain sqlite3 connection to the file.
"""

import math
import sqlite3

import pytest

from store.message_listing import MessageQuery, list_messages
from store.messages import create_message
from store.vmbox_listing import list_vmboxes
from store.vmboxes import create_vmbox


@pytest.fixture
def store_url():
    """SQLite's kept read results (PRAGMA data_version); on PostgreSQL every read goes to the server."""
    return None


DAY = 86400


class CountingRead:
    """A read for `remembered` that counts its calls and holds for cutoffs up to `valid_to`."""

    def __init__(self, valid_to: float = math.inf):
        self.calls = 0
        self.valid_to = valid_to

    async def __call__(self):
        self.calls += 1
        return self.calls, self.valid_to


@pytest.fixture
def other_process(store, tmp_path):
    conn = sqlite3.connect(tmp_path / "data" / "vmbox.sqlite3", isolation_level=None)
    yield conn
    conn.close()


@pytest.fixture
async def box(store, account) -> str:
    return (await create_vmbox(store.db, account, {"name": "Ann", "mailbox": "3000"})).id


async def test_a_result_is_kept_until_a_commit_of_this_process(store, account, box):
    read = CountingRead()
    assert [await store.db.remembered("key", read) for _ in range(3)] == [1, 1, 1]
    await create_vmbox(store.db, account, {"name": "Bob", "mailbox": "3001"})  # transaction()
    assert await store.db.remembered("key", read) == 2
    await create_message(store, account, box, {})
    assert await store.db.remembered("key", read) == 3  # a group commit (Database.write)
    assert await store.db.remembered("other key", read) == 4


async def test_a_result_is_read_again_after_a_commit_of_another_process(store, other_process):
    read = CountingRead()
    assert await store.db.remembered("key", read) == 1
    other_process.execute("INSERT INTO accounts (id, name, created) VALUES ('x', 'x', 0)")
    assert await store.db.remembered("key", read) == 2
    assert await store.db.remembered("key", read) == 2


async def test_a_result_holds_only_for_cutoffs_from_its_own_to_its_bound(store):
    read = CountingRead(valid_to=100)
    assert await store.db.remembered("key", read, cutoff=50) == 1
    assert await store.db.remembered("key", read, cutoff=100) == 1
    assert await store.db.remembered("key", read, cutoff=101) == 2  # past the bound
    assert (
        await store.db.remembered("key", read, cutoff=100) == 3
    )  # before the cutoff it was read at


async def test_a_kept_page_of_messages_loses_a_message_the_cutoff_passes(store, account, box):
    now = store.cutoff() + 10 * DAY
    for age in (3, 2, 1):
        await create_message(store, account, box, {"timestamp": now - age * DAY})
    query = MessageQuery(account_id=account, box_id=box, limit=10)
    page = await list_messages(store.db, query, store.cutoff())
    assert [row[1] for row in page] == [now - DAY, now - 2 * DAY, now - 3 * DAY]
    later = await list_messages(store.db, query, now - 3 * DAY + 1)  # no commit in between
    assert [row[1] for row in later] == [now - DAY, now - 2 * DAY]


async def test_a_kept_page_of_boxes_counts_a_message_the_cutoff_passes_no_more(
    store, account, box, other_process
):
    now = store.cutoff() + 10 * DAY
    await create_message(store, account, box, {"timestamp": now - DAY})
    await create_message(store, account, box, {"timestamp": now - 2 * DAY, "folder": "saved"})
    [(_, entry)] = await list_vmboxes(store.db, account, store.cutoff(), None, 50)
    assert '"folders":{"new":1,"saved":1}' in entry
    [(_, entry)] = await list_vmboxes(store.db, account, now - 2 * DAY + 1, None, 50)
    assert '"folders":{"new":1,"saved":0}' in entry
    other_process.execute("UPDATE messages SET folder = 'saved' WHERE folder = 'new'")
    [(_, entry)] = await list_vmboxes(store.db, account, now - 2 * DAY + 1, None, 50)
    assert '"folders":{"new":0,"saved":1}' in entry
