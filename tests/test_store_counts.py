"""The per-box message counters that triggers keep in table vmboxes (`new_count`, `saved_count`) against a
direct COUNT(*) of the messages table, after a long random sequence of every change the store makes to
messages: creates, folder changes, moves, copies, removes, ageing past retention, expiry and box deletion.

Store level, no HTTP: a real store in tmp_path, driven through the store's own functions. The random
sequence has a fixed seed, and choices are made from rows read in insertion order, so a failure replays.
"""

import json
import random
from collections import Counter

import pytest

from store.accounts import create_account
from store.core import open_store
from store.message_changes import (
    change_folder,
    copy_messages,
    move_messages,
    remove_messages,
)
from store.messages import FOLDERS, create_message
from store.retention import expire_messages
from store.vmbox_listing import list_vmboxes
from store.vmboxes import create_vmbox, delete_vmbox, folder_counts
from tests.storekit import set_timestamp

SEED = 20240517
OPERATIONS = 400
BOXES = 4
DAY = 86400


@pytest.fixture
async def store(tmp_path, store_url):
    store = await open_store(tmp_path / "data", retention_days=93, url=store_url)
    yield store
    await store.db.close()


async def stored_counters(store) -> dict[str, dict[str, int]]:
    """What the triggers maintain: {box_id: {"new": n, "saved": m}}."""
    rows = await store.db.scan("SELECT id, new_count, saved_count FROM vmboxes")
    return {box_id: {"new": new, "saved": saved} for box_id, new, saved in rows}


async def counted(store, visible_after: int | None = None) -> dict[str, dict[str, int]]:
    """The same counts straight from the messages table: active messages (newer than `visible_after`)."""
    cutoff = -1 if visible_after is None else visible_after
    rows = await store.db.scan(
        "SELECT b.id,"
        " (SELECT count(*) FROM messages m WHERE m.box_id = b.id AND m.state = 'active' AND m.folder = 'new'"
        "  AND m.timestamp >= ?),"
        " (SELECT count(*) FROM messages m WHERE m.box_id = b.id AND m.state = 'active' AND m.folder = 'saved'"
        "  AND m.timestamp >= ?)"
        " FROM vmboxes b",
        (cutoff, cutoff),
    )
    return {box_id: {"new": new, "saved": saved} for box_id, new, saved in rows}


async def assert_counts_true(store, account_id: str, step: str) -> None:
    """The stored counters equal COUNT(*), and the counts shown to users equal the visible COUNT(*)."""
    assert await stored_counters(store) == await counted(store), step
    visible = await counted(store, store.cutoff())
    for box_id, counts in visible.items():
        assert await folder_counts(store.db, box_id, store.cutoff()) == counts, step
    listed = await list_vmboxes(store.db, account_id, store.cutoff(), None, None)
    entries = [json.loads(entry) for _, entry in listed]
    # KAZOO's listing leaves `folders` out for a box without messages (in any folder).
    shown = {box["id"]: box.get("folders", {"new": 0, "saved": 0}) for box in entries}
    assert shown == visible, step
    assert all(box["messages"] == sum(shown[box["id"]].values()) for box in entries), step


class RandomChanges:
    """Applies random store operations to the boxes of one account; `done` counts what each achieved."""

    def __init__(self, store, account_id: str, box_ids: list[str], rng: random.Random):
        self.store, self.account_id, self.box_ids, self.rng = store, account_id, box_ids, rng
        self.done: Counter = Counter()
        self.mailboxes = 5000

    async def message_ids(self, box_id: str | None = None) -> list[str]:
        """Ids of every message row (any state, any age), of one box or all, in id order."""
        sql = (
            "SELECT id FROM messages"
            + ("" if box_id is None else " WHERE box_id = ?")
            + " ORDER BY id"
        )
        return [
            row[0] for row in await self.store.db.scan(sql, () if box_id is None else (box_id,))
        ]

    async def some_ids(self, box_id: str) -> list[str]:
        """A few ids of the box (whatever their state), sometimes with one of another box's among them."""
        own = await self.message_ids(box_id)
        ids = self.rng.sample(own, min(len(own), self.rng.randint(1, 3)))
        if self.rng.random() < 0.2 and (anywhere := await self.message_ids()):
            ids.append(self.rng.choice(anywhere))
        return ids

    async def create(self, box_id: str) -> None:
        metadata = {
            "folder": self.rng.choice(FOLDERS),
            "caller_id_number": str(self.rng.randint(1000, 9999)),
        }
        if self.rng.random() < 0.5:
            metadata["timestamp"] = self.store.cutoff() + self.rng.randint(DAY, 90 * DAY)
        await create_message(self.store, self.account_id, box_id, metadata)
        self.done["created"] += 1

    async def change_folder(self, box_id: str) -> None:
        outcome = await change_folder(
            self.store,
            self.account_id,
            box_id,
            await self.some_ids(box_id),
            self.rng.choice(FOLDERS),
        )
        self.done["folder changed"] += len(outcome.succeeded)
        self.done["refused"] += len(outcome.failed)

    async def move(self, box_id: str) -> None:
        target = self.rng.choice(self.box_ids)
        outcome = await move_messages(
            self.store, self.account_id, box_id, await self.some_ids(box_id), target
        )
        self.done["moved"] += len(outcome.succeeded)

    async def copy(self, box_id: str) -> None:
        targets = self.rng.sample(self.box_ids, self.rng.randint(1, 2))
        outcome = await copy_messages(
            self.store, self.account_id, box_id, await self.some_ids(box_id), targets
        )
        self.done["copied"] += len(outcome.succeeded)

    async def remove(self, box_id: str) -> None:
        how = self.rng.random()
        if how < 0.7:
            outcome = await remove_messages(
                self.store, self.account_id, box_id, await self.some_ids(box_id)
            )
        elif how < 0.9:
            outcome = await remove_messages(
                self.store, self.account_id, box_id, None, self.rng.choice(FOLDERS)
            )
        else:
            outcome = await remove_messages(self.store, self.account_id, box_id, None)
        self.done["removed"] += len(outcome.succeeded)

    async def age(self, box_id: str) -> None:
        """Push one message past retention, as time passing would."""
        ids = await self.message_ids(box_id)
        if not ids:
            return
        old = self.store.cutoff() - self.rng.randint(1, 30 * DAY)
        async with self.store.db.transaction() as tx:
            await set_timestamp(tx, self.rng.choice(ids), old)
        self.done["aged"] += 1

    async def expire(self, box_id: str) -> None:
        self.done["expired"] += await expire_messages(self.store)

    async def replace_box(self, box_id: str) -> None:
        """Delete the box with all its messages and put a fresh, empty box in its place."""
        await delete_vmbox(self.store, self.account_id, box_id)
        self.mailboxes += 1
        fresh = await create_vmbox(
            self.store.db, self.account_id, {"name": "Fresh", "mailbox": str(self.mailboxes)}
        )
        self.box_ids[self.box_ids.index(box_id)] = fresh.id
        self.done["boxes replaced"] += 1

    async def step(self) -> str:
        """One random operation on a random box; its name, for failure messages."""
        operations = [
            (self.create, 30),
            (self.change_folder, 20),
            (self.move, 10),
            (self.copy, 10),
            (self.remove, 12),
            (self.age, 8),
            (self.expire, 4),
            (self.replace_box, 1),
        ]
        operation = self.rng.choices(
            [op for op, _ in operations], [weight for _, weight in operations]
        )[0]
        box_id = self.rng.choice(self.box_ids)
        await operation(box_id)
        return f"{operation.__name__} on {box_id}"


async def test_counters_equal_count_after_a_random_sequence_of_changes(store):
    account, _ = await create_account(store.db, "A")
    boxes = [
        (
            await create_vmbox(store.db, account.id, {"name": f"Box {i}", "mailbox": str(3000 + i)})
        ).id
        for i in range(BOXES)
    ]
    changes = RandomChanges(store, account.id, boxes, random.Random(SEED))
    for number in range(OPERATIONS):
        step = await changes.step()
        await assert_counts_true(store, account.id, f"operation {number}: {step}")
    # The sequence really did each kind of change, so the equality above was put to the test.
    for kind in (
        "created",
        "folder changed",
        "refused",
        "moved",
        "copied",
        "removed",
        "aged",
        "expired",
        "boxes replaced",
    ):
        assert changes.done[kind] > 0, (kind, changes.done)
    states = {row[0] for row in await store.db.scan("SELECT DISTINCT state FROM messages")}
    assert states == {"active", "removed", "expired"}


async def test_counters_ignore_a_second_account_with_the_same_operations(store):
    first, _ = await create_account(store.db, "A")
    second, _ = await create_account(store.db, "B")
    mine = (await create_vmbox(store.db, first.id, {"name": "Mine", "mailbox": "3000"})).id
    theirs = (await create_vmbox(store.db, second.id, {"name": "Theirs", "mailbox": "3000"})).id
    message = await create_message(store, first.id, mine, {"folder": "saved"})
    # The second account cannot reach the first account's message through its own box.
    outcome = await change_folder(store, second.id, theirs, [message.id], "new")
    assert outcome.failed == {message.id: "not_found"}
    outcome = await remove_messages(store, second.id, theirs, [message.id])
    assert outcome.failed == {message.id: "not_found"}
    assert (
        await stored_counters(store)
        == await counted(store)
        == {mine: {"new": 0, "saved": 1}, theirs: {"new": 0, "saved": 0}}
    )
