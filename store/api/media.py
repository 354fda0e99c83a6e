"""Handlers for /v2/accounts/{account_id}/media, /media/{media_id} and its audio, /media/{media_id}/raw."""

import re

from aiohttp import web

from store import greetings
from store.api.envelope import bad_identifier, reply, validation_error
from store.api.keys import ACCOUNT_ID, STORE
from store.api.pages import fetch_limit, listing_reply, requested_page, text_start
from store.api.ranges import audio_reply
from store.api.requests import (
    expected_revision,
    hex_id,
    read_audio_upload,
    read_envelope,
    read_metadata_and_upload,
)
from store.audio import FORMATS
from store.names import safe_file_name
from store.validation import error

_SPACES = re.compile(r"\s+")


def _media_id(request: web.Request) -> str:
    return hex_id(request, "media_id")


def audio_format(request: web.Request) -> str:
    """The `format` query parameter of a download (wav when absent); 400 for an unknown one."""
    extension = request.query.get("format", "wav")
    if extension not in FORMATS:
        raise validation_error(
            error(
                "format",
                "enum",
                "Value not found in enumerated list of values",
                target=sorted(FORMATS),
                value=extension,
            )
        )
    return extension


def download_name(media: greetings.Media, extension: str) -> str:
    """`<media name, spaces as underscores, safe in a header>.<ext>`; `media` when nothing of it is safe."""
    return f"{safe_file_name(_SPACES.sub('_', media.doc['name']), 'media', 64)}.{extension}"


async def list_media(request: web.Request) -> web.Response:
    """Media objects of the account, ordered by id, each as its whole document."""
    page = requested_page(request)
    rows = await greetings.list_media(
        request.app[STORE].db, request[ACCOUNT_ID], text_start(page), fetch_limit(page)
    )
    return listing_reply(request, page, rows)


async def create_media(request: web.Request) -> web.Response:
    """Create a media object from JSON metadata, or from one multipart body with the metadata and the audio."""
    store = request.app[STORE]
    metadata, upload = await read_metadata_and_upload(request)
    audio = await store.media.store(upload, request[ACCOUNT_ID]) if upload else None
    media = await greetings.create_media(store, request[ACCOUNT_ID], metadata, audio)
    return reply(request, media.public(), status=201, revision=media.revision)


async def get_media(request: web.Request) -> web.Response:
    """One media object's document."""
    ident = _media_id(request)
    media = await greetings.get_media(request.app[STORE].db, request[ACCOUNT_ID], ident)
    if media is None:
        raise bad_identifier(ident)
    return reply(request, media.public(), revision=media.revision)


async def _update(request: web.Request, change) -> web.Response:
    ident = _media_id(request)
    data, revision = await read_envelope(request)
    media = await change(
        request.app[STORE].db,
        request[ACCOUNT_ID],
        ident,
        data,
        expected_revision(request, revision),
    )
    return reply(request, media.public(), revision=media.revision)


async def replace_media(request: web.Request) -> web.Response:
    """Replace a media object's document; its audio stays."""
    return await _update(request, greetings.replace_media)


async def patch_media(request: web.Request) -> web.Response:
    """Merge fields into a media object's document."""
    return await _update(request, greetings.patch_media)


async def delete_media(request: web.Request) -> web.Response:
    """Delete a media object and its audio; boxes naming it fall back to the default greeting."""
    ident = _media_id(request)
    _, revision = await read_envelope(request)
    media = await greetings.delete_media(
        request.app[STORE], request[ACCOUNT_ID], ident, expected_revision(request, revision)
    )
    return reply(request, media.public(), revision=media.revision)


async def get_media_raw(request: web.Request) -> web.Response:
    """A media object's audio, as `?format=` (wav by default, or mp3, mp4)."""
    ident, extension = _media_id(request), audio_format(request)
    media, audio = await greetings.media_audio(
        request.app[STORE], request[ACCOUNT_ID], ident, extension
    )
    disposition = f'attachment; filename="{download_name(media, extension)}"'
    return audio_reply(request, audio, FORMATS[extension][1], disposition)


async def put_media_raw(request: web.Request) -> web.Response:
    """Replace a media object's audio with an upload (multipart, or the raw audio as the body)."""
    store, ident = request.app[STORE], _media_id(request)
    upload = await read_audio_upload(request)
    audio = await store.media.store(upload, request[ACCOUNT_ID])
    media = await greetings.attach_media_audio(store, request[ACCOUNT_ID], ident, audio)
    return reply(request, media.public(), revision=media.revision)
