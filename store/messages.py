"""Voicemail messages: creating, fetching and attaching audio (listings: store/message_listing.py).

A message row keeps its full KAZOO metadata as JSON in `doc` (folder, timestamp, media_id and length
included); `folder` and `timestamp` are repeated in columns for indexing, and every write updates both.
Visible means state `active` and not older than the retention cutoff; folder `deleted` is visible only
when asked for (it is recoverable).
"""

import asyncio
import json
import secrets
from dataclasses import dataclass
from functools import partial

from store.accounts import realm_of
from store.addresses import address_fields
from store.core import Store
from store.db import Database, IntegrityError, Transaction
from store.documents import dumps, revision
from store.errors import Invalid, NotFound
from store.ids import is_message_id, new_message_id, now_gregorian
from store.jobs import NewJob, enqueue
from store.media import StoredAudio
from store.sql import Dialects
from store.validation import error, validate

FOLDERS = ("new", "saved", "deleted")
# Keys the server owns: a client cannot set them through the metadata it sends.
_SERVER_KEYS = ("media_id", "history", "transcription", "id", "_id")


@dataclass(frozen=True)
class Message:
    id: str
    box_id: str
    doc: dict
    media_file: str | None
    rev: int

    @property
    def folder(self) -> str:
        return self.doc["folder"]

    @property
    def revision(self) -> str:
        return revision(self.id, self.rev)


# Visible: neither deleted through the API nor past retention (the `?` is the retention cutoff).
VISIBLE = "state = 'active' AND timestamp >= ?"
# A message's account compared without its index: within one box, the box index is the one to walk
# (SQLite would otherwise pick the account index). Written so both databases read it.
NOT_INDEXED_ACCOUNT = "account_id || ''"


def _message(row) -> Message:
    return Message(row[0], row[1], json.loads(row[2]), row[3], row[4])


def new_metadata(
    box_doc: dict, metadata: dict, audio: StoredAudio | None, now: int, realm: str
) -> dict:
    """Metadata of a new message with KAZOO's defaults filled in: the caller `anonymous`, `from` the
    caller's number and `to` the mailbox, both as addresses in the account's `realm` (store/addresses.py)."""
    doc = {key: value for key, value in metadata.items() if key not in _SERVER_KEYS}
    number = doc.setdefault("caller_id_number", "anonymous")
    doc.setdefault("caller_id_name", "anonymous")
    doc.update(address_fields("from", doc.get("from", number), realm))
    doc.update(address_fields("to", doc.get("to", box_doc["mailbox"]), realm))
    doc.setdefault("call_id", secrets.token_hex(12))
    doc.setdefault("folder", "new")
    doc.setdefault("timestamp", now)
    doc["length"] = audio.length_ms if audio else doc.get("length", 1)
    return doc


async def create_message(
    store: Store,
    account_id: str,
    box_id: str,
    metadata: object,
    audio: StoredAudio | None = None,
    *,
    announce: bool = True,
) -> Message:
    """Create a message in a box from KAZOO metadata, with its audio when given; return it once it is
    durably committed (concurrent creations share one commit). A message with audio is announced (its
    new-message notification queued with it) unless `announce` is False: the REST API's messages are
    not, as in KAZOO, which only updates the lamps for them (the lamps follow every change anyway).

    Raises NotFound (no such box) or Invalid; on any failure `audio` is discarded, so no file outlives it.
    """
    try:
        message = await _new_message(store, account_id, box_id, metadata, audio)
        insert = partial(_insert_message, account_id, message, dumps(message.doc), announce)
        await store.db.write(insert)
    except asyncio.CancelledError:
        # The write goes on without its caller and may yet commit a row naming the audio, so the file
        # stays; if the row never lands, the file is an orphan, removed at the next start.
        raise
    except BaseException:
        store.media.discard([audio.file if audio else None])
        raise
    return message


async def _new_message(
    store: Store, account_id: str, box_id: str, metadata: object, audio: StoredAudio | None
) -> Message:
    """The message to insert, made before it joins a shared transaction (whose time it would lengthen):
    validated, and filled in from the box as last committed. Raises NotFound or Invalid."""
    errors = validate("message", metadata)
    if errors:
        raise Invalid(errors)
    row = await store.db.fetch_one(
        "SELECT v.doc, a.name, a.realm FROM vmboxes v JOIN accounts a ON a.id = v.account_id"
        " WHERE v.id = ? AND v.account_id = ?",
        (box_id, account_id),
    )
    if row is None:
        raise NotFound(box_id)
    realm = realm_of(row["name"], row["realm"])
    doc = new_metadata(json.loads(row["doc"]), metadata, audio, now_gregorian(), realm)
    if doc["timestamp"] < store.cutoff():
        raise Invalid(
            error(
                "timestamp",
                "date_range",
                "timestamp is older than the retention period",
                target=store.cutoff(),
                value=doc["timestamp"],
            )
        )
    message_id = doc["media_id"] = new_message_id(doc["timestamp"])
    return Message(message_id, box_id, doc, audio.file if audio else None, 1)


async def _insert_message(
    account_id: str, message: Message, doc: str, announced: bool, tx: Transaction
) -> None:
    try:
        await tx.execute(
            "INSERT INTO messages (id, account_id, box_id, folder, timestamp, doc, media_file, rev)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
            (
                message.id,
                account_id,
                message.box_id,
                message.folder,
                message.doc["timestamp"],
                doc,
                message.media_file,
            ),
        )
    except IntegrityError:  # the box was deleted since it was read (its foreign key)
        raise NotFound(message.box_id) from None
    if announced and message.media_file is not None:
        await announce(tx, account_id, message.box_id, message.id)


async def announce(tx: Transaction, account_id: str, box_id: str, message_id: str) -> None:
    """Queue the notifications about a message that just became playable (in the same transaction)."""
    await enqueue(
        tx,
        NewJob(
            "message.new", {"account_id": account_id, "box_id": box_id, "message_id": message_id}
        ),
    )


async def get_message(
    db: Database, account_id: str, box_id: str, message_id: str, cutoff: int
) -> Message | None:
    """A visible message of a box, or None."""
    if not is_message_id(message_id):  # no such message, and no text for the database to choke on
        return None
    row = await db.fetch_one(
        f"SELECT id, box_id, doc, media_file, rev FROM messages WHERE id = ? AND box_id = ? AND account_id = ?"
        f" AND {VISIBLE}",
        (message_id, box_id, account_id, cutoff),
    )
    return _message(row) if row else None


async def attach_audio(
    store: Store, account_id: str, box_id: str, message_id: str, audio: StoredAudio
) -> Message:
    """Replace a message's audio (and length); the old file goes once the new one is committed. Nothing
    is announced (the REST API's `PUT …/raw`: KAZOO only updates the lamps).

    Raises NotFound; on any failure the new file is discarded and the old audio stays.
    """
    try:
        old, doc = await store.db.write(
            partial(_replace_audio, account_id, box_id, message_id, audio, store.cutoff())
        )
    except asyncio.CancelledError:
        raise  # as in create_message: the write may yet commit, so neither file is touched
    except BaseException:
        store.media.discard([audio.file])
        raise
    store.media.discard([old.media_file])
    return Message(message_id, box_id, doc, audio.file, old.rev + 1)


async def _replace_audio(
    account_id: str,
    box_id: str,
    message_id: str,
    audio: StoredAudio,
    cutoff: int,
    tx: Transaction,
) -> tuple[Message, dict]:
    row = await tx.fetch_one(
        f"SELECT id, box_id, doc, media_file, rev FROM messages WHERE id = ? AND box_id = ?"
        f" AND account_id = ? AND {VISIBLE}",
        (message_id, box_id, account_id, cutoff),
    )
    if row is None:
        raise NotFound(message_id)
    old = _message(row)
    doc = {**old.doc, "length": audio.length_ms}
    await tx.execute(
        "UPDATE messages SET doc = ?, media_file = ?, rev = rev + 1 WHERE id = ?",
        (dumps(doc), audio.file, message_id),
    )
    return old, doc


async def playable_messages(
    db: Database, account_id: str, box_id: str, cutoff: int, oldest_first: bool
) -> list[tuple[dict, str]]:
    """(metadata, audio file) of the box's visible new and saved messages that have audio, newest
    first unless `oldest_first`: what a phone plays."""
    order = "ASC" if oldest_first else "DESC"
    rows = await db.scan(
        f"SELECT doc, media_file FROM messages WHERE box_id = ? AND {NOT_INDEXED_ACCOUNT} = ? AND {VISIBLE}"
        f" AND folder IN ('new', 'saved') AND media_file IS NOT NULL ORDER BY timestamp {order}, id {order}",
        (box_id, account_id, cutoff),
    )
    return [(json.loads(doc), media_file) for doc, media_file in rows]


_TRANSCRIBE = Dialects(
    sqlite="UPDATE messages SET doc = json_set(doc, '$.transcription', json(?)), rev = rev + 1"
    " WHERE id = ? AND box_id = ? AND account_id = ? AND state = 'active'",
    postgresql="UPDATE messages SET doc = vmbox_json_set(doc, 'transcription', ?::json),"
    " rev = rev + 1 WHERE id = ? AND box_id = ? AND account_id = ? AND state = 'active'",
)


async def set_transcription(
    store: Store, account_id: str, box_id: str, message_id: str, result: str, text: str
) -> bool:
    """Store `transcription: {"result": result, "text": text}` in a message's metadata, as a new revision
    (past retention too: the job may run late). False when the message is gone."""

    async def update(tx: Transaction) -> int:
        return await tx.execute(
            _TRANSCRIBE,
            (dumps({"result": result, "text": text}), message_id, box_id, account_id),
        )

    return await store.db.write(update) == 1
