"""A store made by an older vmbox opens with its data carried over: accounts get a realm, and a
message's history leaves its metadata for a column of its own.

A real SQLite file at schema version 3, written with sqlite3 as that version left it.
"""

import json
import sqlite3

import pytest

from store.accounts import account_realm
from store.core import open_store
from store.migrations import MIGRATIONS


@pytest.fixture
def store_url():
    """SQLite's migrations (PRAGMA user_version); PostgreSQL's are tested in tests/test_store_postgres.py."""
    return None


ACCOUNT, BOX, MESSAGE = "a" * 32, "b" * 32, "202601-" + "c" * 32


def version_3_store(data_dir) -> list[dict]:
    data_dir.mkdir()
    conn = sqlite3.connect(data_dir / "vmbox.sqlite3", isolation_level=None)
    conn.executescript("".join(MIGRATIONS[:3]) + "PRAGMA user_version = 3;")
    conn.execute("INSERT INTO accounts (id, name, created) VALUES (?, 'Old Timer', 1)", (ACCOUNT,))
    box = {"name": "Box", "mailbox": "3000"}
    conn.execute(
        "INSERT INTO vmboxes (id, account_id, mailbox, name, doc, rev) VALUES (?, ?, '3000', 'Box', ?, 1)",
        (BOX, ACCOUNT, json.dumps(box)),
    )
    history = [{"box_id": "d" * 32, "message_id": "x", "action": "moved", "timestamp": 1}]
    doc = {"media_id": MESSAGE, "folder": "new", "timestamp": 63900000000, "history": history}
    conn.execute(
        "INSERT INTO messages (id, account_id, box_id, folder, timestamp, doc, rev)"
        " VALUES (?, ?, ?, 'new', 63900000000, ?, 1)",
        (MESSAGE, ACCOUNT, BOX, json.dumps(doc)),
    )
    conn.close()
    return history


async def test_an_older_store_gets_realms_and_histories_out_of_the_metadata(tmp_path):
    history = version_3_store(tmp_path / "data")
    store = await open_store(tmp_path / "data", retention_days=93)
    try:
        assert await account_realm(store.db, ACCOUNT) == "old-timer.vmbox"
        row = await store.db.fetch_one("SELECT doc, history FROM messages WHERE id = ?", (MESSAGE,))
        assert "history" not in json.loads(row["doc"])
        assert json.loads(row["history"]) == history
        (version,) = await store.db.fetch_one("PRAGMA user_version")
        assert version == len(MIGRATIONS)
    finally:
        await store.db.close()
