"""The box listing (GET …/vmboxes): each box's summary as KAZOO's `vmboxes/crossbar_listing` view gives it,
with the counts cb_vmboxes lays over it.

An entry is `{id, name, mailbox, owner_id, messages, flags, folders}`: `owner_id` only when the box
has an owner; `flags` always (`[]` when none); `messages` (new + saved) always; `folders` (`{new,
saved}`) only when the box has a message in any folder, deleted included, within retention, as KAZOO
overlays its counts only on boxes its count view names. Boxes are ordered by mailbox number (KAZOO:
by box id) and paged by mailbox.
"""

import json
import math

from store.db import Database
from store.documents import dumps
from store.sql import Dialects, row_limit

# json_patch over an empty object leaves out the keys that are null (owner_id, folders). Counts subtract
# messages past :cutoff that the periodic expiry has not marked yet: an index seek per box that finds
# nothing almost always.
_UNSWEPT = (
    "(SELECT count(*) FROM messages m WHERE m.box_id = b.id AND m.state = 'active'"
    " AND m.timestamp < :cutoff AND m.folder = '{}')"
)
_COUNTED = (
    " FROM (SELECT id, name, mailbox, owner_id, flags,"
    f" new_count - {_UNSWEPT.format('new')} AS new, saved_count - {_UNSWEPT.format('saved')} AS saved"
    " FROM vmboxes b WHERE account_id = :account AND mailbox > :after ORDER BY mailbox LIMIT :limit) v"
)
_HAS_FOLDERS = (
    "new + saved > 0 OR EXISTS (SELECT 1 FROM messages m WHERE m.box_id = v.id"
    " AND m.state = 'active' AND m.timestamp >= :cutoff)"
)
_SUMMARY_SQL = Dialects(
    sqlite="SELECT v.mailbox, json_patch('{}', json_object('id', v.id, 'name', v.name,"
    " 'mailbox', v.mailbox, 'owner_id', v.owner_id, 'messages', new + saved,"
    " 'flags', json(ifnull(v.flags, '[]')),"
    f" 'folders', CASE WHEN {_HAS_FOLDERS} THEN json_object('new', new, 'saved', saved) END))"
    + _COUNTED,
    # PostgreSQL's JSON functions space their text differently: the entry is made by `_summary`.
    postgresql="SELECT v.mailbox, v.id, v.name, v.owner_id, v.flags, new, saved,"
    f" {_HAS_FOLDERS}" + _COUNTED,
)


def _summary(row) -> tuple[str, str]:
    """(mailbox, entry) of a PostgreSQL row, the entry as SQLite's json_patch makes it."""
    mailbox, box_id, name, owner_id, flags, new, saved, has_folders = row
    entry = {"id": box_id, "name": name, "mailbox": mailbox}
    if owner_id is not None:
        entry["owner_id"] = owner_id
    entry["messages"] = new + saved
    entry["flags"] = json.loads(flags or "[]")
    if has_folders:
        entry["folders"] = {"new": new, "saved": saved}
    return mailbox, dumps(entry)


def _summaries(db: Database, rows) -> list[tuple[str, str]]:
    if db.dialect == "postgresql":
        return [_summary(row) for row in rows]
    return [(row[0], row[1]) for row in rows]


async def list_vmboxes(
    db: Database, account_id: str, cutoff: int, after: str | None, limit: int | None
) -> list[tuple[str, str]]:
    """Boxes of `account_id` ordered by mailbox number, starting after mailbox `after`, at most `limit`:
    (mailbox, KAZOO listing entry as JSON text) each, counting messages newer than `cutoff`
    (Gregorian seconds). A page (a `limit`) is kept until the next commit, or until `cutoff` passes
    a message of the account."""
    params = {
        "account": account_id,
        "after": after or "",
        "cutoff": cutoff,
        "limit": row_limit(limit, db.dialect),
    }
    if limit is None:
        return _summaries(db, await db.scan(_SUMMARY_SQL, params))

    async def read() -> tuple[list[tuple[str, str]], float]:
        rows = await db.fetch_all(_SUMMARY_SQL, params)
        # The counts hold until the cutoff passes the account's oldest message (one index seek).
        (oldest,) = await db.fetch_one(
            "SELECT min(timestamp) FROM messages WHERE account_id = ? AND state = 'active'"
            " AND timestamp >= ?",
            (account_id, cutoff),
        )
        return _summaries(db, rows), math.inf if oldest is None else oldest

    return await db.remembered(("vmboxes", account_id, after, limit), read, cutoff)
