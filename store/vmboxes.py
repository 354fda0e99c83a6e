"""Voicemail boxes: KAZOO documents validated by `schemas/vmbox.json`, PINs kept apart and hashed.

Invariants: `doc` never holds `id` or `pin`; `mailbox` is unique per account (a UNIQUE index, so two
concurrent creates cannot both win); `rev` grows by one on every write of the document or the PIN.
Replacing the hash of an unchanged PIN (an scrypt hash or one under an older key, at the next
successful check) changes neither, so it leaves `rev` alone: a login must not make an API client's
next conditional update fail.

PINs are hashed with the keys of `pin.key` beside the database (store/hashing.py): every path that
hashes or checks a PIN (API, phone, tools) finds the same key from the database it is given.
"""

import asyncio
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from store.core import Store
from store.db import Database, IntegrityError, Transaction
from store.documents import deep_merge, dumps, revision
from store.errors import Invalid, NotFound, RevisionConflict
from store.hashing import (
    KEYED,
    LEGACY,
    PIN_KEY_FILE,
    PinKeyError,
    PinKeys,
    create_pin_key_file,
    read_pin_keys,
    scheme,
    scrypt_matches,
)
from store.ids import new_id
from store.validation import error, validate, with_defaults

_KEEP_PIN = object()


@dataclass(frozen=True)
class VMBox:
    id: str
    account_id: str
    doc: dict
    rev: int
    has_pin: bool

    @property
    def mailbox(self) -> str:
        return self.doc["mailbox"]

    @property
    def revision(self) -> str:
        return revision(self.id, self.rev)

    def public(self) -> dict:
        """The document as the API returns it: with its id, never with its PIN."""
        return {**self.doc, "id": self.id}


_COLUMNS = "id, account_id, doc, rev, pin_hash IS NOT NULL"


def _box(row) -> VMBox:
    return VMBox(row[0], row[1], json.loads(row[2]), row[3], bool(row[4]))


def _validated(document: object) -> tuple[dict, str | None]:
    """Validate a full document; return it with defaults (no id, no pin) and the PIN it sets, if any.
    A mailbox that is not a number is KAZOO's `mailbox.unique` (its uniqueness check reads an integer)."""
    errors = validate("vmbox", document)
    mailbox = document.get("mailbox") if isinstance(document, dict) else None
    if isinstance(mailbox, str) and not (mailbox.isascii() and mailbox.isdigit()):
        errors.setdefault("mailbox", {}).update(_mailbox_taken(document).errors["mailbox"])
    if errors:
        raise Invalid(errors)
    doc = with_defaults("vmbox", document)
    doc.pop("id", None)
    return doc, doc.pop("pin", None)


async def _pin_hash(db: Database, pin: str | None) -> object:
    """The hash of a new PIN, or _KEEP_PIN when the document sets none."""
    return _KEEP_PIN if pin is None else (await pin_keys(db)).hash(pin)


async def _prepared(db: Database, document: object) -> tuple[dict, object]:
    """Validate a full document; return it with defaults (no id, no pin) and the new PIN hash or _KEEP_PIN."""
    doc, pin = _validated(document)
    return doc, await _pin_hash(db, pin)


def _indexed(doc: dict) -> tuple:
    """The document's values repeated in columns: mailbox, name, owner_id, flags (JSON)."""
    flags = doc.get("flags")
    return doc["mailbox"], doc["name"], doc.get("owner_id"), None if flags is None else dumps(flags)


def _mailbox_taken(doc: dict) -> Invalid:
    return Invalid(
        error("mailbox", "unique", "Invalid mailbox number or already exists", value=doc["mailbox"])
    )


async def create_vmbox(db: Database, account_id: str, document: object) -> VMBox:
    """Create a box from a KAZOO document. Raises Invalid (schema, or `mailbox.unique`)."""
    doc, pin_hash = await _prepared(db, document)
    box_id = new_id()
    try:
        async with db.transaction() as tx:
            await tx.execute(
                "INSERT INTO vmboxes (id, account_id, mailbox, name, owner_id, flags, doc, pin_hash, rev)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)",
                (
                    box_id,
                    account_id,
                    *_indexed(doc),
                    dumps(doc),
                    None if pin_hash is _KEEP_PIN else pin_hash,
                ),
            )
    except IntegrityError:
        raise _mailbox_taken(doc) from None
    return VMBox(box_id, account_id, doc, 1, pin_hash is not _KEEP_PIN)


async def get_vmbox(db: Database, account_id: str, box_id: str) -> VMBox | None:
    """The box `box_id` of `account_id`, or None."""
    row = await db.fetch_one(
        f"SELECT {_COLUMNS} FROM vmboxes WHERE id = ? AND account_id = ?", (box_id, account_id)
    )
    return _box(row) if row else None


async def vmbox_json(db: Database, account_id: str, box_id: str) -> tuple[str, str] | None:
    """(the box's document as the API returns it, as JSON text; its revision), or None.

    The stored JSON is passed through with the id spliced in: no parse, no re-serialisation.
    """
    row = await db.fetch_one(
        "SELECT doc, rev FROM vmboxes WHERE id = ? AND account_id = ?", (box_id, account_id)
    )
    if row is None:
        return None
    return f'{row[0][:-1]},"id":"{box_id}"}}', revision(box_id, row[1])


async def find_vmbox(db: Database, account_id: str, mailbox: str) -> VMBox | None:
    """The box of `account_id` with mailbox number `mailbox`, or None."""
    row = await db.fetch_one(
        f"SELECT {_COLUMNS} FROM vmboxes WHERE account_id = ? AND mailbox = ?",
        (account_id, mailbox),
    )
    return _box(row) if row else None


async def _unswept_expired_counts(
    db: Database, box_ids: list[str], cutoff: int
) -> dict[tuple[str, str], int]:
    """Per (box, folder): messages still counted although older than `cutoff` (not yet marked expired)."""
    rows = await db.fetch_all(
        f"SELECT box_id, folder FROM messages WHERE box_id IN ({','.join('?' * len(box_ids))})"
        " AND state = 'active' AND timestamp < ?",
        (*box_ids, cutoff),
    )
    return Counter((box_id, folder) for box_id, folder in rows)


async def folder_counts(db: Database, box_id: str, cutoff: int) -> dict[str, int]:
    """{"new": n, "saved": m} for one box, counting only messages newer than `cutoff`."""
    row = await db.fetch_one("SELECT new_count, saved_count FROM vmboxes WHERE id = ?", (box_id,))
    if row is None:
        raise NotFound(box_id)
    expired = await _unswept_expired_counts(db, [box_id], cutoff)
    return {
        "new": row[0] - expired.get((box_id, "new"), 0),
        "saved": row[1] - expired.get((box_id, "saved"), 0),
    }


async def _write(
    tx: Transaction, box: VMBox, doc: dict, pin_hash: object, expected_rev: int | None
) -> VMBox:
    if expected_rev is not None and expected_rev != box.rev:
        raise RevisionConflict(box.id)
    pin_sql = "" if pin_hash is _KEEP_PIN else ", pin_hash = ?"
    pin_args = () if pin_hash is _KEEP_PIN else (pin_hash,)
    try:
        changed = await tx.execute(
            f"UPDATE vmboxes SET mailbox = ?, name = ?, owner_id = ?, flags = ?, doc = ?, rev = rev + 1{pin_sql}"
            " WHERE id = ? AND rev = ?",
            (*_indexed(doc), dumps(doc), *pin_args, box.id, box.rev),
        )
    except IntegrityError:
        raise _mailbox_taken(doc) from None
    if not changed:
        raise RevisionConflict(box.id)
    has_pin = box.has_pin if pin_hash is _KEEP_PIN else True
    return VMBox(box.id, box.account_id, doc, box.rev + 1, has_pin)


async def replace_vmbox(
    db: Database, account_id: str, box_id: str, document: object, expected_rev: int | None = None
) -> VMBox:
    """Replace a box's document (POST). A document without `pin` keeps the stored PIN.

    Raises NotFound, Invalid, or RevisionConflict when `expected_rev` is stale.
    """
    doc, pin_hash = await _prepared(db, document)
    async with db.transaction() as tx:
        box = await _locked_box(tx, account_id, box_id)
        return await _write(tx, box, doc, pin_hash, expected_rev)


async def patch_vmbox(
    db: Database, account_id: str, box_id: str, patch: dict, expected_rev: int | None = None
) -> VMBox:
    """Deep-merge `patch` into a box (PATCH), then validate the result as a whole.

    Read, merge and write form one write transaction, so concurrent patches without a revision all
    apply, one after the other, instead of failing with a conflict.
    """
    async with db.transaction() as tx:
        box = await _locked_box(tx, account_id, box_id)
        doc, pin = _validated(deep_merge(box.doc, patch))
        return await _write(tx, box, doc, await _pin_hash(db, pin), expected_rev)


async def _locked_box(tx: Transaction, account_id: str, box_id: str) -> VMBox:
    row = await tx.fetch_one(
        f"SELECT {_COLUMNS} FROM vmboxes WHERE id = ? AND account_id = ?", (box_id, account_id)
    )
    if row is None:
        raise NotFound(box_id)
    return _box(row)


async def delete_vmbox(
    store: Store, account_id: str, box_id: str, expected_rev: int | None = None
) -> VMBox:
    """Delete a box and all its messages, audio files included; return the box as it was."""
    async with store.db.transaction() as tx:
        box = await _locked_box(tx, account_id, box_id)
        if expected_rev is not None and expected_rev != box.rev:
            raise RevisionConflict(box_id)
        rows = await tx.fetch_all(
            "SELECT media_file FROM messages WHERE box_id = ? AND media_file IS NOT NULL", (box_id,)
        )
        await tx.execute("DELETE FROM messages WHERE box_id = ?", (box_id,))
        await tx.execute("DELETE FROM vmboxes WHERE id = ?", (box_id,))
    store.media.discard(row[0] for row in rows)
    return box


async def pin_key_path(db: Database) -> Path:
    """Where the PIN keys of `db` live: `pin.key` in the directory of an SQLite database file, in the
    data directory of a node on PostgreSQL (every node needs the same file)."""
    return db.key_directory / PIN_KEY_FILE


async def pin_keys(db: Database) -> PinKeys:
    """The PIN keys of `db`'s store, read afresh (a rotated key file takes effect at once). The file is
    created with a new key on first use, unless the database already holds hashes made with a key:
    a lost key file is refused (PinKeyError), never silently replaced."""
    path = await pin_key_path(db)
    try:
        return read_pin_keys(path)
    except FileNotFoundError:
        pass
    if await db.fetch_one("SELECT 1 FROM vmboxes WHERE pin_hash LIKE ? LIMIT 1", (f"{KEYED}$%",)):
        raise PinKeyError(
            f"the PIN key file {path} is missing, but PINs in the database were hashed with it:"
            " restore it from a backup (or, to give up those PINs, create a new key file; those boxes"
            " then need a new PIN through the API)"
        )
    create_pin_key_file(path)
    try:
        return read_pin_keys(path)
    except FileNotFoundError:  # a link to a file that is not there: not ours to create
        raise PinKeyError(f"the PIN key file {path} is a link to a missing file") from None


async def pin_hash_counts(db: Database) -> dict[str, int]:
    """How many boxes' PINs are hashed with each key id (and "scrypt" for the legacy scheme)."""
    rows = await db.scan("SELECT pin_hash FROM vmboxes WHERE pin_hash IS NOT NULL")
    return dict(
        Counter(LEGACY if row[0].startswith(f"{LEGACY}$") else row[0].split("$")[1] for row in rows)
    )


async def check_pin(db: Database, box_id: str, pin: str) -> bool:
    """True when `pin` is the box's PIN; False for a wrong PIN or a box without one.

    A keyed hash is checked in microseconds on the event loop (the key file read afresh each time). A
    legacy scrypt hash is checked on a worker thread of the default executor (so no more at once than
    it has threads), and only until the box's first successful login after an upgrade (wrong PINs
    until then, up to the lockout): it, or a hash under an older key, is replaced by a hash under the
    current key when the PIN is right (unless the PIN changed meanwhile). Raises PinKeyError when the
    key file cannot be used or lacks the key the box's hash was made with.
    """
    row = await db.fetch_one("SELECT pin_hash FROM vmboxes WHERE id = ?", (box_id,))
    if row is None or row[0] is None:
        return False
    stored, keys = row[0], await pin_keys(db)
    if scheme(stored) == LEGACY:
        correct = await asyncio.to_thread(scrypt_matches, pin, stored)
    else:
        correct = keys.matches(pin, stored)
    if correct and keys.outdated(stored):
        async with db.transaction() as tx:
            await tx.execute(
                "UPDATE vmboxes SET pin_hash = ? WHERE id = ? AND pin_hash = ?",
                (keys.hash(pin), box_id, stored),
            )
    return correct
