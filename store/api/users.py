"""Handlers for /v2/accounts/{account_id}/users and /users/{user_id}."""

from aiohttp import web

from store import users
from store.api.envelope import bad_identifier, reply
from store.api.keys import ACCOUNT_ID, STORE
from store.api.pages import fetch_limit, listing_reply, requested_page, text_start
from store.api.requests import expected_revision, hex_id, read_envelope


def _user_id(request: web.Request) -> str:
    return hex_id(request, "user_id")


async def list_users(request: web.Request) -> web.Response:
    """Users of the account, ordered by id, each as its whole document."""
    page = requested_page(request)
    rows = await users.list_users(
        request.app[STORE].db, request[ACCOUNT_ID], text_start(page), fetch_limit(page)
    )
    return listing_reply(request, page, rows)


async def create_user(request: web.Request) -> web.Response:
    """Create a user (201)."""
    data, _ = await read_envelope(request)
    user = await users.create_user(request.app[STORE].db, request[ACCOUNT_ID], data)
    return reply(request, user.public(), status=201, revision=user.revision)


async def get_user(request: web.Request) -> web.Response:
    """One user."""
    ident = _user_id(request)
    user = await users.get_user(request.app[STORE].db, request[ACCOUNT_ID], ident)
    if user is None:
        raise bad_identifier(ident)
    return reply(request, user.public(), revision=user.revision)


async def _update(request: web.Request, change) -> web.Response:
    ident = _user_id(request)
    data, revision = await read_envelope(request)
    user = await change(
        request.app[STORE].db,
        request[ACCOUNT_ID],
        ident,
        data,
        expected_revision(request, revision),
    )
    return reply(request, user.public(), revision=user.revision)


async def replace_user(request: web.Request) -> web.Response:
    """Replace a user's document."""
    return await _update(request, users.replace_user)


async def patch_user(request: web.Request) -> web.Response:
    """Merge fields into a user; a null removes a field."""
    return await _update(request, users.patch_user)


async def delete_user(request: web.Request) -> web.Response:
    """Delete a user; answer with the deleted user."""
    ident = _user_id(request)
    _, revision = await read_envelope(request)
    user = await users.delete_user(
        request.app[STORE].db, request[ACCOUNT_ID], ident, expected_revision(request, revision)
    )
    return reply(request, user.public(), revision=user.revision)
