"""Handlers for /v2/accounts/{account_id}/vmboxes and /vmboxes/{box_id}."""

from aiohttp import web

from store import vmbox_listing, vmboxes
from store.accounts import revoke_box_tokens
from store.api.envelope import ApiError, RawJSON, bad_identifier, reply
from store.api.keys import ACCOUNT_ID, AUTH_TOKEN, STORE, TOKEN_BOX, TOKENS
from store.api.pages import fetch_limit, listing_reply, requested_page, text_start
from store.api.requests import box_id, expected_revision, read_envelope


async def list_vmboxes(request: web.Request) -> web.Response:
    """Boxes of the account, ordered by mailbox number, with message counts."""
    store = request.app[STORE]
    page = requested_page(request)
    boxes = await vmbox_listing.list_vmboxes(
        store.db, request[ACCOUNT_ID], store.cutoff(), text_start(page), fetch_limit(page)
    )
    return listing_reply(request, page, boxes, kept=True)


async def create_vmbox(request: web.Request) -> web.Response:
    """Create a box (201)."""
    data, _ = await read_envelope(request)
    box = await vmboxes.create_vmbox(request.app[STORE].db, request[ACCOUNT_ID], data)
    return reply(request, box.public(), status=201, revision=box.revision)


async def get_vmbox(request: web.Request) -> web.Response:
    """One box."""
    ident = box_id(request)
    found = await vmboxes.vmbox_json(request.app[STORE].db, request[ACCOUNT_ID], ident)
    if found is None:
        raise bad_identifier(ident)
    return reply(request, RawJSON(found[0]), revision=found[1])


# What a box's owner may change from a box login (the web page): what the phone's options menu and
# the owner's own notifications touch. The rest (number, name, owner, limits, greetings' media ids,
# whether the owner may configure the box at all) is the account's to set.
OWNER_SETTINGS = frozenset(
    {
        "pin",
        "notify_email_addresses",
        "notify",
        "include_message_on_notify",
        "include_transcription_on_notify",
        "save_after_notify",
        "delete_after_notify",
        "is_voicemail_ff_rw_enabled",
        "seek_duration_ms",
        "timezone",
        "skip_greeting",
        "skip_instructions",
        "skip_envelope",
        "oldest_message_first",
        "announcement_only",
        "is_setup",
        "media_extension",
    }
)


async def check_owner_may_configure(request: web.Request, ident: str) -> None:
    """403 for a box login when the box is `not_configurable` (as its phone menu then offers no
    options); nothing for an account's token."""
    if request[TOKEN_BOX] is None:
        return
    box = await vmboxes.get_vmbox(request.app[STORE].db, request[ACCOUNT_ID], ident)
    if box is not None and box.doc.get("not_configurable"):
        raise ApiError(
            403, "forbidden", {"message": "this box's settings are not configurable by its owner"}
        )


async def _check_owner_settings(request: web.Request, ident: str, data: dict) -> None:
    if request[TOKEN_BOX] is None:
        return
    await check_owner_may_configure(request, ident)
    others = sorted(set(data) - OWNER_SETTINGS)
    if others:
        raise ApiError(
            403,
            "forbidden",
            {
                "message": f"a box login may not change {', '.join(others)}; only:"
                f" {', '.join(sorted(OWNER_SETTINGS))}",
                "cause": others[0],
            },
        )


async def _update(request: web.Request, change) -> web.Response:
    ident = box_id(request)
    data, revision = await read_envelope(request)
    await _check_owner_settings(request, ident, data)
    db = request.app[STORE].db
    box = await change(db, request[ACCOUNT_ID], ident, data, expected_revision(request, revision))
    if "pin" in data:
        # Whoever logged in with the old PIN is logged out; the login changing it stays in.
        await revoke_box_tokens(db, ident, keep=request[AUTH_TOKEN])
        request.app[TOKENS].forget_box(ident, keep=request[AUTH_TOKEN])
    return reply(request, box.public(), revision=box.revision)


async def replace_vmbox(request: web.Request) -> web.Response:
    """Replace a box's settings (a document without `pin` keeps the PIN)."""
    return await _update(request, vmboxes.replace_vmbox)


async def patch_vmbox(request: web.Request) -> web.Response:
    """Merge fields into a box; unknown keys are kept."""
    return await _update(request, vmboxes.patch_vmbox)


async def delete_vmbox(request: web.Request) -> web.Response:
    """Delete a box and its messages; answer with the deleted box."""
    ident = box_id(request)
    _, revision = await read_envelope(request)
    store = request.app[STORE]
    box = await vmboxes.delete_vmbox(
        store, request[ACCOUNT_ID], ident, expected_revision(request, revision)
    )
    return reply(request, box.public(), revision=box.revision)
