"""Changing messages in bulk: folder changes, moves, copies and deletes.

Each operation takes a list of ids and reports per id, as KAZOO does: `succeeded` (for moves and copies,
the new ids) and `failed` ({id: reason}, reasons `not_found` and `prior_to_retention_duration`). The
phone menus and the REST API both come through here, so both always agree.
"""

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from store.accounts import realm_of
from store.addresses import address_fields
from store.audio_edit import prepend_comment
from store.core import Store
from store.db import Transaction
from store.documents import dumps
from store.errors import NotFound
from store.ids import is_message_id, new_message_id, now_gregorian
from store.messages import VISIBLE, Message, announce, get_message
from store.sql import Dialects


@dataclass
class Outcome:
    succeeded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def public(self) -> dict:
        """The answer KAZOO gives: `succeeded` and `failed`, each left out when empty."""
        answer: dict = {"succeeded": self.succeeded} if self.succeeded else {}
        return {**answer, "failed": self.failed} if self.failed else answer


async def _select(
    tx: Transaction,
    account_id: str,
    box_id: str,
    ids: Sequence[str] | None,
    folder: str | None,
    cutoff: int,
) -> tuple[list, Outcome]:
    """Rows (id, doc, media_file, history) of the visible messages named by `ids` (None: all, optionally
    of one folder), and an Outcome whose `failed` already names the ids that are missing or past
    retention."""
    outcome = Outcome()
    if ids is None:
        folder_sql = "" if folder is None else " AND folder = ?"
        rows = await tx.fetch_all(
            "SELECT id, doc, media_file, history FROM messages WHERE box_id = ? AND account_id = ?"
            " AND state = 'active'"
            f" AND timestamp >= ?{folder_sql} ORDER BY timestamp, id",
            (box_id, account_id, cutoff, *(() if folder is None else (folder,))),
        )
        return list(rows), outcome
    rows = []
    for message_id in dict.fromkeys(ids):
        row = (
            await tx.fetch_one(
                "SELECT id, doc, media_file, history, timestamp, state FROM messages"
                " WHERE id = ? AND box_id = ? AND account_id = ?",
                (message_id, box_id, account_id),
            )
            if is_message_id(message_id)
            else None
        )
        if row is None or row["state"] == "removed":
            outcome.failed[message_id] = "not_found"
        elif row["state"] == "expired" or row["timestamp"] < cutoff:
            outcome.failed[message_id] = "prior_to_retention_duration"
        else:
            rows.append(row)
    return rows, outcome


_REFILE = Dialects(
    sqlite="UPDATE messages SET folder = ?, doc = json_set(doc, '$.folder', ?), rev = rev + 1"
    " WHERE id = ?",
    postgresql="UPDATE messages SET folder = ?, doc = vmbox_json_set(doc, 'folder', to_json(?::text)),"
    " rev = rev + 1 WHERE id = ?",
)


async def change_folder(
    store: Store, account_id: str, box_id: str, ids: Sequence[str], folder: str
) -> Outcome:
    """Put messages in `folder` (new, saved or deleted; deleted stays recoverable).

    Raises NotFound when the box does not exist.
    """
    async with store.db.transaction() as tx:
        await _require_box(tx, account_id, box_id)
        rows, outcome = await _select(tx, account_id, box_id, ids, None, store.cutoff())
        await tx.execute_many(
            _REFILE,
            [(folder, folder, row["id"]) for row in rows],
        )
    outcome.succeeded = [row["id"] for row in rows]
    return outcome


# Deleting through the API: KAZOO files the message in folder deleted and soft-deletes it; vmbox hides
# it for good (the purge then frees its row and audio).
_REMOVE = Dialects(
    sqlite="UPDATE messages SET state = 'removed', folder = 'deleted',"
    " doc = json_set(doc, '$.folder', 'deleted'), rev = rev + 1 WHERE id = ?",
    postgresql="UPDATE messages SET state = 'removed', folder = 'deleted',"
    """ doc = vmbox_json_set(doc, 'folder', '"deleted"'), rev = rev + 1 WHERE id = ?""",
)


async def remove_messages(
    store: Store, account_id: str, box_id: str, ids: Sequence[str] | None, folder: str | None = None
) -> Outcome:
    """Delete messages (the REST DELETE): hidden from every listing and count, their encoded audio
    dropped at once (the stored audio goes at the next purge). `ids` None means all the box's
    messages, or all of `folder`."""
    async with store.db.transaction() as tx:
        await _require_box(tx, account_id, box_id)
        rows, outcome = await _select(tx, account_id, box_id, ids, folder, store.cutoff())
        await tx.execute_many(_REMOVE, [(row["id"],) for row in rows])
    store.media.cache.forget(row["media_file"] for row in rows)
    outcome.succeeded = [row["id"] for row in rows]
    return outcome


async def remove_message(store: Store, account_id: str, box_id: str, message_id: str) -> Message:
    """Delete one message as `remove_messages` does; return it as deleted (folder `deleted`, as KAZOO
    answers). Raises NotFound for a message that is not visible (gone, or past retention)."""
    async with store.db.transaction() as tx:
        row = await tx.fetch_one(
            "SELECT doc, media_file, rev FROM messages WHERE id = ? AND box_id = ?"
            f" AND account_id = ? AND {VISIBLE}",
            (message_id, box_id, account_id, store.cutoff()),
        )
        if row is None:
            raise NotFound(message_id)
        await tx.execute(_REMOVE, (message_id,))
    store.media.cache.forget([row["media_file"]])
    doc = {**json.loads(row["doc"]), "folder": "deleted"}
    return Message(message_id, box_id, doc, row["media_file"], row["rev"] + 1)


async def _require_box(tx: Transaction, account_id: str, box_id: str) -> None:
    if (
        await tx.fetch_one(
            "SELECT 1 FROM vmboxes WHERE id = ? AND account_id = ?", (box_id, account_id)
        )
        is None
    ):
        raise NotFound(box_id)


async def _arrival_address(tx: Transaction, account_id: str, box_id: str) -> dict[str, str]:
    """The `to` fields of a message arriving in `box_id`: `<mailbox>@<realm>` and its parts (KAZOO
    rewrites `to` alone, leaving `to_user` naming the first box). Raises NotFound."""
    row = await tx.fetch_one(
        "SELECT v.mailbox, a.name, a.realm FROM vmboxes v JOIN accounts a ON a.id = v.account_id"
        " WHERE v.id = ? AND v.account_id = ?",
        (box_id, account_id),
    )
    if row is None:
        raise NotFound(box_id)
    return address_fields("to", row["mailbox"], realm_of(row["name"], row["realm"]))


def _arrived(
    row, source_box: str, action: str, now: int, to: dict[str, str]
) -> tuple[dict, list[dict]]:
    """(metadata, history) of a message (a row of `_select`) moved or copied out of `source_box`: new
    id, folder new, time now, `to` the new box; its history (kept beside the metadata, as KAZOO keeps
    it, so the API never shows it) gains the box it came from."""
    doc = json.loads(row["doc"])
    history = [
        *json.loads(row["history"] or "[]"),
        {"box_id": source_box, "message_id": doc["media_id"], "action": action, "timestamp": now},
    ]
    new_id = new_message_id(now)
    return {**doc, **to, "media_id": new_id, "folder": "new", "timestamp": now}, history


async def _insert_arrival(
    tx: Transaction,
    account_id: str,
    box_id: str,
    arrived: tuple[dict, list[dict]],
    media_file: str | None,
    announced: bool,
) -> None:
    """A moved or copied message arrives new in `box_id`; `announced`: its owner is notified as for
    any new message (a forward by phone), else only the lamps change (the REST API, as KAZOO's)."""
    doc, history = arrived
    await tx.execute(
        "INSERT INTO messages (id, account_id, box_id, folder, timestamp, doc, media_file, history, rev)"
        " VALUES (?, ?, ?, 'new', ?, ?, ?, ?, 1)",
        (
            doc["media_id"],
            account_id,
            box_id,
            doc["timestamp"],
            dumps(doc),
            media_file,
            dumps(history),
        ),
    )
    if announced and media_file is not None:
        await announce(tx, account_id, box_id, doc["media_id"])


async def move_messages(
    store: Store, account_id: str, box_id: str, ids: Sequence[str], target_box: str
) -> Outcome:
    """Move messages to another box of the account; `succeeded` lists their new ids. Nothing is
    announced: only the REST API moves messages, and KAZOO's only updates the lamps.

    Raises NotFound when the source or target box does not exist.
    """
    now = now_gregorian()
    async with store.db.transaction() as tx:
        await _require_box(tx, account_id, box_id)
        to = await _arrival_address(tx, account_id, target_box)
        rows, outcome = await _select(tx, account_id, box_id, ids, None, store.cutoff())
        for row in rows:
            arrived = _arrived(row, box_id, "moved", now, to)
            # The audio file changes owner with the row; it is neither copied nor removed.
            await tx.execute("DELETE FROM messages WHERE id = ?", (row["id"],))
            await _insert_arrival(tx, account_id, target_box, arrived, row["media_file"], False)
            outcome.succeeded.append(arrived[0]["media_id"])
    return outcome


async def copy_messages(
    store: Store,
    account_id: str,
    box_id: str,
    ids: Sequence[str],
    target_boxes: Sequence[str],
    *,
    announce: bool = True,
) -> Outcome:
    """Copy messages into each of `target_boxes` (each copy with its own audio file); `succeeded` lists
    the new ids. Copies with audio are announced in their box (a forward by phone, as in KAZOO) unless
    `announce` is False (the REST API's copies). Raises NotFound when the source or a target box does
    not exist."""
    now = now_gregorian()
    copies: list[str] = []
    try:
        async with store.db.transaction() as tx:
            await _require_box(tx, account_id, box_id)
            targets = {
                target: await _arrival_address(tx, account_id, target)
                for target in dict.fromkeys(target_boxes)
            }
            rows, outcome = await _select(tx, account_id, box_id, ids, None, store.cutoff())
            for row in rows:
                for target, to in targets.items():
                    media_file = row["media_file"]
                    copy = (
                        await store.media.duplicate(media_file, account_id) if media_file else None
                    )
                    copies.append(copy)
                    arrived = _arrived(row, box_id, "copied", now, to)
                    await _insert_arrival(tx, account_id, target, arrived, copy, announce)
                    outcome.succeeded.append(arrived[0]["media_id"])
    except BaseException:
        store.media.discard(copies)
        raise
    return outcome


async def forward_with_comment(
    store: Store, account_id: str, box_id: str, message_id: str, target_box: str, comment: Path
) -> str:
    """Forward a message by phone behind the owner's spoken `comment` (KAZOO's prepend_forward): a copy
    in `target_box` whose audio is the comment, KAZOO's tone, then the message, announced as any
    forward by phone; return its id. The comment file is gone afterwards.

    Raises NotFound (a box or the message gone) and NotAudio (the audio cannot be joined)."""
    source = await get_message(store.db, account_id, box_id, message_id, store.cutoff())
    if source is None or source.media_file is None:
        comment.unlink(missing_ok=True)
        raise NotFound(message_id)
    joined = comment.with_name(f"{comment.stem}-forward.wav")
    try:
        # CPU work off the event loop, and before the write transaction: other writers never wait on it.
        message = await store.media.local(source.media_file)
        await asyncio.to_thread(prepend_comment, comment, message, joined)
        stored = await store.media.adopt(joined, account_id)
    finally:
        comment.unlink(missing_ok=True)
        joined.unlink(missing_ok=True)
    try:
        async with store.db.transaction() as tx:
            rows, _ = await _select(tx, account_id, box_id, [message_id], None, store.cutoff())
            if not rows:
                raise NotFound(message_id)
            to = await _arrival_address(tx, account_id, target_box)
            doc, history = _arrived(rows[0], box_id, "copied", now_gregorian(), to)
            doc["length"] = stored.length_ms
            await _insert_arrival(tx, account_id, target_box, (doc, history), stored.file, True)
    except BaseException:
        store.media.discard([stored.file])
        raise
    return doc["media_id"]
