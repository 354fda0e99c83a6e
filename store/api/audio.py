"""Handlers for message audio: download (`GET …/raw`), replace (`PUT …/raw`), ZIP of several (`POST …/messages/raw`).

Downloads and ZIPs take each message's encoding from the media cache (store/encodings.py), which the
email notifier fills too: a message is encoded once, whoever asks first.
"""

import asyncio
import io
import zipfile

from aiohttp import web

from store import messages
from store.api.envelope import bad_identifier, reply
from store.api.keys import ACCOUNT_ID, REQUEST_ID, STORE
from store.api.ranges import audio_reply
from store.api.requests import (
    box_id,
    listed_message_ids,
    message_id,
    read_audio_upload,
    read_envelope,
)
from store.audio import FORMATS
from store.errors import NoAudio
from store.messages import Message
from store.names import message_file_name, zone_of
from store.timezones import box_timezone
from store.vmboxes import VMBox, get_vmbox


async def download_name(request: web.Request, box: VMBox, message: Message, extension: str) -> str:
    """`<caller number or unknown>_<YYYY-MM-DD_HH-MM-SS in the box's zone>.<ext>`, safe in a header
    (the zone inherited as KAZOO does: store/timezones.py)."""
    zone = zone_of(await box_timezone(request.app[STORE], box))
    return message_file_name(message.doc, zone, extension)


async def _box_and_message(request: web.Request, ident: str) -> tuple[VMBox, Message]:
    store, account, box_ident = request.app[STORE], request[ACCOUNT_ID], box_id(request)
    box = await get_vmbox(store.db, account, box_ident)
    if box is None:
        raise bad_identifier(box_ident)
    message = await messages.get_message(store.db, account, box_ident, ident, store.cutoff())
    if message is None:
        raise bad_identifier(ident)
    if message.media_file is None:
        raise NoAudio(ident)
    return box, message


def _extension(box: VMBox) -> str:
    return box.doc.get("media_extension", "mp3")


async def _with_audio(
    request: web.Request, box: VMBox, message: Message
) -> tuple[VMBox, Message, bytes]:
    """(box, message, its audio in the box's media_extension), the rows read again when the audio
    was replaced or deleted since they were read."""
    media = request.app[STORE].media
    try:
        return box, message, await media.encoded(message.media_file, _extension(box))
    except FileNotFoundError:
        box, message = await _box_and_message(request, message.id)
        return box, message, await media.encoded(message.media_file, _extension(box))


async def get_raw(request: web.Request) -> web.Response:
    """A message's audio in the box's media_extension (mp3 by default)."""
    box, message = await _box_and_message(request, message_id(request))
    box, message, audio = await _with_audio(request, box, message)
    extension = _extension(box)
    disposition = f'attachment; filename="{await download_name(request, box, message, extension)}"'
    return audio_reply(request, audio, FORMATS[extension][1], disposition)


async def put_raw(request: web.Request) -> web.Response:
    """Replace a message's audio with an upload (multipart, or the raw audio as the body)."""
    store, ident = request.app[STORE], message_id(request)
    box = box_id(request)
    upload = await read_audio_upload(request)
    audio = await store.media.store(upload, request[ACCOUNT_ID])
    message = await messages.attach_audio(store, request[ACCOUNT_ID], box, ident, audio)
    return reply(request, message.doc, revision=message.revision)


async def post_raw_zip(request: web.Request) -> web.Response:
    """A ZIP of the listed messages' audio, each named as its single download; any failure fails it all.

    The messages are encoded side by side (as many at a time as the encoder has threads)."""
    data, _ = await read_envelope(request)
    # Every message first: an unknown one fails the request before anything is encoded.
    found = [
        await _box_and_message(request, ident) for ident in dict.fromkeys(listed_message_ids(data))
    ]
    buffer, names = io.BytesIO(), set()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for box, message, audio in await asyncio.gather(
            *(_with_audio(request, box, message) for box, message in found)
        ):
            extension = _extension(box)
            name = await download_name(request, box, message, extension)
            if name in names:
                name = f"{name.rsplit('.', 1)[0]}_{message.id}.{extension}"
            names.add(name)
            archive.writestr(name, audio)
    disposition = f'attachment; filename="{request[REQUEST_ID]}.zip"'
    return web.Response(
        body=buffer.getvalue(),
        content_type="application/zip",
        headers={"Content-Disposition": disposition},
    )
