"""A box's greetings: the unavailable and temporary greetings and the recorded name, each a media
object (store/greetings.py) the box names in `media.unavailable`, `media.temporary_unavailable` or
`media.name`. The phone's options menu and the API's …/greetings/{kind} both come through here.

Rules:
- Setting one makes a new media object and points the box at it; a media id never changes audio.
- The media object it replaces (or a removal unsets) is deleted when the box's own greeting
  endpoints made it (`greeting_of` names the box) or a phone recorded it (`media_source`
  "recording", from before `greeting_of`); one an account made through /media and gave the box is
  left for the account.
"""

from store.core import Store
from store.errors import NoAudio, NotFound
from store.greetings import Media, create_media, delete_media, get_media, media_audio
from store.media import StoredAudio
from store.vmboxes import get_vmbox, patch_vmbox

# The API's and the phone's names of a box's greetings -> the key of the box's `media` naming it.
GREETING_KEYS = {"unavailable": "unavailable", "temporary": "temporary_unavailable", "name": "name"}


class NoGreeting(NotFound):
    """The box has no greeting of that kind (or names a media object that is gone)."""

    def __init__(self, mailbox: str, kind: str):
        super().__init__(kind)
        self.mailbox, self.kind = mailbox, kind


async def _greeting_id(store: Store, account_id: str, box_id: str, kind: str) -> tuple[str, object]:
    """(the box's mailbox, the media id it names for `kind` or None). Raises NotFound for the box."""
    box = await get_vmbox(store.db, account_id, box_id)
    if box is None:
        raise NotFound(box_id)
    return box.mailbox, box.doc.get("media", {}).get(GREETING_KEYS[kind])


async def set_box_greeting(
    store: Store, account_id: str, box_id: str, kind: str, audio: StoredAudio, source: str
) -> tuple[Media, bool]:
    """Make `audio` the box's `kind` greeting (`source`: "recording" by phone, "upload"); return the
    new media object and whether it replaced one. Raises NotFound; `audio` is then discarded."""
    try:
        mailbox, previous = await _greeting_id(store, account_id, box_id, kind)
    except NotFound:
        store.media.discard([audio.file])
        raise
    document = {"name": f"{kind} greeting of {mailbox}", "media_source": source}
    media = await create_media(store, account_id, {**document, "greeting_of": box_id}, audio)
    await patch_vmbox(store.db, account_id, box_id, {"media": {GREETING_KEYS[kind]: media.id}})
    await _drop_own(store, account_id, box_id, previous)
    return media, isinstance(previous, str)


async def remove_box_greeting(store: Store, account_id: str, box_id: str, kind: str) -> Media:
    """Unset the box's `kind` greeting; return the media object it named. Raises NotFound for the
    box, NoGreeting when it has none of that kind."""
    mailbox, previous = await _greeting_id(store, account_id, box_id, kind)
    if not isinstance(previous, str):
        raise NoGreeting(mailbox, kind)
    media = await get_media(store.db, account_id, previous)
    await patch_vmbox(store.db, account_id, box_id, {"media": {GREETING_KEYS[kind]: None}})
    if media is None:  # it named a media object deleted since: unset, and there was none to remove
        raise NoGreeting(mailbox, kind)
    await _drop_own(store, account_id, box_id, media.id)
    return media


async def box_greeting_audio(
    store: Store, account_id: str, box_id: str, kind: str, extension: str
) -> tuple[Media, bytes]:
    """The box's `kind` greeting and its audio as `extension`. Raises NotFound for the box,
    NoGreeting when it has none with audio."""
    mailbox, media_id = await _greeting_id(store, account_id, box_id, kind)
    if not isinstance(media_id, str):
        raise NoGreeting(mailbox, kind)
    try:
        return await media_audio(store, account_id, media_id, extension)
    except (NotFound, NoAudio):  # a media object gone, or without audio, is no greeting either
        raise NoGreeting(mailbox, kind) from None


async def _drop_own(store: Store, account_id: str, box_id: str, media_id: object) -> None:
    if not isinstance(media_id, str):
        return
    media = await get_media(store.db, account_id, media_id)
    if media is None:
        return
    if media.doc.get("greeting_of") == box_id or media.doc.get("media_source") == "recording":
        await delete_media(store, account_id, media_id)
