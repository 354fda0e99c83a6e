"""Handlers for /v2/accounts/{account_id}/vmboxes and /vmboxes/{box_id}."""

from aiohttp import web

from store import vmbox_listing, vmboxes
from store.api.envelope import RawJSON, bad_identifier, reply
from store.api.keys import ACCOUNT_ID, STORE
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


async def _update(request: web.Request, change) -> web.Response:
    ident = box_id(request)
    data, revision = await read_envelope(request)
    box = await change(
        request.app[STORE].db,
        request[ACCOUNT_ID],
        ident,
        data,
        expected_revision(request, revision),
    )
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
