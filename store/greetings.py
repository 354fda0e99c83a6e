"""Media objects (KAZOO's /media): greetings and name recordings, each a document validated by
`schemas/media.json` (unknown keys kept) with at most one audio file.

Invariants: `doc` never holds `id`; `rev` grows by one on every write; `doc.length` (ms) is the server's,
set from the audio. Audio files follow store/media.py: a new file is installed before the row that
points to it commits, is discarded if that fails, and the file it replaces is removed only after the
commit, so a reader never meets a row without its file for longer than a replacement takes.

Boxes refer to media objects by id (`media.unavailable`, `media.temporary_unavailable`, `media.name`).
Deleting a media object that a box still names is allowed and leaves the box as it is: the box then falls
back to the default greeting (a missing media object, or one without audio, is no greeting at all).
"""

import json
from collections.abc import Callable
from dataclasses import dataclass

from store.core import Store
from store.db import Database, Transaction
from store.documents import deep_merge, dumps, list_by_id, revision
from store.errors import Invalid, NoAudio, NotFound, RevisionConflict
from store.ids import new_id
from store.media import StoredAudio
from store.validation import validate, with_defaults

# Keys the server owns: a client cannot set them through the document it sends.
_SERVER_KEYS = ("id", "_id", "length")


@dataclass(frozen=True)
class Media:
    id: str
    account_id: str
    doc: dict
    media_file: str | None
    rev: int

    @property
    def revision(self) -> str:
        return revision(self.id, self.rev)

    def public(self) -> dict:
        """The document as the API returns it: with its id."""
        return {**self.doc, "id": self.id}


def _media(account_id: str, row) -> Media:
    return Media(row[0], account_id, json.loads(row[1]), row[2], row[3])


def _validated(document: object, length_ms: int | None) -> dict:
    """A valid document with defaults, the client's copy of server keys replaced by ours; raises Invalid."""
    errors = validate("media", document)
    if errors:
        raise Invalid(errors)
    doc = {
        key: value
        for key, value in with_defaults("media", document).items()
        if key not in _SERVER_KEYS
    }
    if length_ms is not None:
        doc["length"] = length_ms
    return doc


async def create_media(
    store: Store, account_id: str, document: object, audio: StoredAudio | None = None
) -> Media:
    """Create a media object, with its audio when given. Raises Invalid; on any failure `audio` is
    discarded, so no file outlives it."""
    try:
        doc = _validated(document, audio.length_ms if audio else None)
        media_id = new_id()
        async with store.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO media (id, account_id, doc, media_file, rev) VALUES (?, ?, ?, ?, 1)",
                (media_id, account_id, dumps(doc), audio.file if audio else None),
            )
    except BaseException:
        store.media.discard([audio.file if audio else None])
        raise
    return Media(media_id, account_id, doc, audio.file if audio else None, 1)


async def create_greeting(
    store: Store, account_id: str, name: str, audio: StoredAudio, source: str = "recording"
) -> str:
    """Keep a greeting or name recorded by phone as a new media object; return its id.

    Raises Invalid (a name over 128 characters, an unknown source); `audio` is then discarded.
    """
    media = await create_media(store, account_id, {"name": name, "media_source": source}, audio)
    return media.id


_COLUMNS = "id, doc, media_file, rev"


async def get_media(db: Database, account_id: str, media_id: str) -> Media | None:
    """The media object `media_id` of `account_id`, or None."""
    row = await db.fetch_one(
        f"SELECT {_COLUMNS} FROM media WHERE id = ? AND account_id = ?", (media_id, account_id)
    )
    return _media(account_id, row) if row else None


async def media_audio_file(db: Database, account_id: str, media_id: str) -> str | None:
    """The stored audio file (relative to the media root) of a media object; None when the object does
    not exist in `account_id` or has no audio: the caller then plays its default."""
    row = await db.fetch_one(
        "SELECT media_file FROM media WHERE id = ? AND account_id = ?", (media_id, account_id)
    )
    return row[0] if row else None


async def _with_audio(store: Store, account_id: str, media_id: str) -> Media:
    media = await get_media(store.db, account_id, media_id)
    if media is None:
        raise NotFound(media_id)
    if media.media_file is None:
        raise NoAudio(media_id)
    return media


async def media_audio(
    store: Store, account_id: str, media_id: str, extension: str
) -> tuple[Media, bytes]:
    """A media object and its audio encoded as `extension` (mp3, mp4 or wav). Raises NotFound or NoAudio."""
    media = await _with_audio(store, account_id, media_id)
    try:
        return media, await store.media.encoded(media.media_file, extension)
    except FileNotFoundError:
        # Replaced or deleted between the read and the encoding: the row tells which, read it again.
        media = await _with_audio(store, account_id, media_id)
        return media, await store.media.encoded(media.media_file, extension)


async def list_media(
    db: Database, account_id: str, after: str | None, limit: int | None
) -> list[tuple[str, str]]:
    """Media objects of `account_id` ordered by id, after id `after`, at most `limit`: (id, JSON text) each."""
    return await list_by_id(db, "media", account_id, after, limit)


async def _locked_media(tx: Transaction, account_id: str, media_id: str) -> Media:
    row = await tx.fetch_one(
        f"SELECT {_COLUMNS} FROM media WHERE id = ? AND account_id = ?", (media_id, account_id)
    )
    if row is None:
        raise NotFound(media_id)
    return _media(account_id, row)


def _check_rev(media: Media, expected_rev: int | None) -> None:
    if expected_rev is not None and expected_rev != media.rev:
        raise RevisionConflict(media.id)


async def _update(
    db: Database,
    account_id: str,
    media_id: str,
    change: Callable[[dict], object],
    expected_rev: int | None,
) -> Media:
    """Read, change, validate and write a media object's document in one write transaction."""
    async with db.transaction() as tx:
        media = await _locked_media(tx, account_id, media_id)
        doc = _validated(change(media.doc), media.doc.get("length"))
        _check_rev(media, expected_rev)
        await tx.execute(
            "UPDATE media SET doc = ?, rev = rev + 1 WHERE id = ?", (dumps(doc), media_id)
        )
    return Media(media_id, account_id, doc, media.media_file, media.rev + 1)


async def replace_media(
    db: Database, account_id: str, media_id: str, document: object, expected_rev: int | None = None
) -> Media:
    """Replace a media object's document (POST); its audio stays. Raises NotFound, Invalid or
    RevisionConflict."""
    return await _update(db, account_id, media_id, lambda _: document, expected_rev)


async def patch_media(
    db: Database, account_id: str, media_id: str, patch: dict, expected_rev: int | None = None
) -> Media:
    """Deep-merge `patch` into a media object's document (PATCH), then validate it whole."""
    return await _update(db, account_id, media_id, lambda doc: deep_merge(doc, patch), expected_rev)


async def delete_media(
    store: Store, account_id: str, media_id: str, expected_rev: int | None = None
) -> Media:
    """Delete a media object; its audio file is removed after the commit. Returns it as it was.

    Raises NotFound or RevisionConflict. Boxes that name it are left alone (see the module docstring).
    """
    async with store.db.transaction() as tx:
        media = await _locked_media(tx, account_id, media_id)
        _check_rev(media, expected_rev)
        await tx.execute("DELETE FROM media WHERE id = ?", (media_id,))
    store.media.discard([media.media_file])
    return media


async def attach_media_audio(
    store: Store, account_id: str, media_id: str, audio: StoredAudio
) -> Media:
    """Replace a media object's audio (and length); the old file goes once the new one is committed.

    Raises NotFound; on any failure the new file is discarded and the old audio stays.
    """
    try:
        async with store.db.transaction() as tx:
            old = await _locked_media(tx, account_id, media_id)
            doc = {**old.doc, "length": audio.length_ms}
            await tx.execute(
                "UPDATE media SET doc = ?, media_file = ?, rev = rev + 1 WHERE id = ?",
                (dumps(doc), audio.file, media_id),
            )
    except BaseException:
        store.media.discard([audio.file])
        raise
    store.media.discard([old.media_file])
    return Media(media_id, account_id, doc, audio.file, old.rev + 1)
