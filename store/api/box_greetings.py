"""Handlers for a box's greetings, `…/vmboxes/{box_id}/greetings/{kind}` (kind `unavailable`,
`temporary` or `name`): hear, replace and remove them as the phone's options menu does
(store/box_greetings.py), for box logins and accounts alike."""

from aiohttp import web

from store.api.envelope import ApiError, reply
from store.api.keys import ACCOUNT_ID, STORE
from store.api.media import audio_format, download_name
from store.api.ranges import audio_reply
from store.api.requests import box_id, read_audio_upload
from store.api.vmboxes import check_owner_may_configure
from store.audio import FORMATS
from store.box_greetings import (
    GREETING_KEYS,
    NoGreeting,
    box_greeting_audio,
    remove_box_greeting,
    set_box_greeting,
)


def _kind(request: web.Request) -> str:
    kind = request.match_info["kind"]
    if kind not in GREETING_KEYS:
        raise ApiError(
            404,
            "bad_identifier",
            {"message": f"greetings are: {', '.join(GREETING_KEYS)}", "cause": kind},
        )
    return kind


def _none(missing: NoGreeting) -> ApiError:
    return ApiError(
        404,
        "bad_identifier",
        {"message": f"box {missing.mailbox} has no {missing.kind} greeting", "cause": missing.kind},
    )


async def get_greeting(request: web.Request) -> web.Response:
    """The greeting's audio, as `?format=` (wav by default, or mp3, mp4)."""
    kind, extension = _kind(request), audio_format(request)
    try:
        media, audio = await box_greeting_audio(
            request.app[STORE], request[ACCOUNT_ID], box_id(request), kind, extension
        )
    except NoGreeting as missing:
        raise _none(missing) from None
    disposition = f'attachment; filename="{download_name(media, extension)}"'
    return audio_reply(request, audio, FORMATS[extension][1], disposition)


async def put_greeting(request: web.Request) -> web.Response:
    """Make an upload (the audio as the body, or multipart) the greeting: 201 with its new media
    object, 200 when it replaced one."""
    kind, ident = _kind(request), box_id(request)
    await check_owner_may_configure(request, ident)
    store = request.app[STORE]
    upload = await read_audio_upload(request)
    audio = await store.media.store(upload, request[ACCOUNT_ID])
    media, replaced = await set_box_greeting(
        store, request[ACCOUNT_ID], ident, kind, audio, "upload"
    )
    return reply(request, media.public(), status=200 if replaced else 201, revision=media.revision)


async def delete_greeting(request: web.Request) -> web.Response:
    """Unset the greeting (callers then hear the default); answer with the media object it was."""
    kind, ident = _kind(request), box_id(request)
    await check_owner_may_configure(request, ident)
    try:
        media = await remove_box_greeting(request.app[STORE], request[ACCOUNT_ID], ident, kind)
    except NoGreeting as missing:
        raise _none(missing) from None
    return reply(request, media.public(), revision=media.revision)
