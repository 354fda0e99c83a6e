"""Logging in and out: an API key for an account's token (`PUT /v2/api_auth`), a mailbox and PIN for a
box's token (`PUT /v2/vmbox_auth`), who a token is (`GET /v2/vmbox_auth`), and logging out
(`DELETE /v2/vmbox_auth`).

Both logins set the `vmbox_token` cookie beside the token in the answer, so the web page needs no
script to hold it, and both count failures per client address (store/api/login_limits.py). A box
login's PIN check is the phone's, lockout included (store/pin_logins.py).
"""

import time

from aiohttp import web

from store.accounts import (
    Account,
    Token,
    account_for_api_key,
    accounts_named,
    create_token,
    get_account,
    list_accounts,
    revoke_token,
)
from store.api.auth import unauthorized
from store.api.cookies import clear_token_cookie, set_token_cookie
from store.api.envelope import ApiError, reply, validation_error
from store.api.keys import (
    ACCOUNT_ID,
    AUTH_TOKEN,
    ECHOED_TOKEN,
    LOGIN_LIMITS,
    OPTIONS,
    PROXIES,
    STORE,
    TOKEN_BOX,
    TOKENS,
)
from store.api.requests import read_envelope
from store.pin_logins import log_in_with_pin
from store.validation import error
from store.vmboxes import VMBox, find_vmbox, get_vmbox


def _text_field(data: dict, name: str, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if value is None or value == "":
        raise validation_error(error(name, "required", "Field is required but missing"))
    if not isinstance(value, str):
        raise validation_error(
            error(name, "type", "Value did not match type(s): string", target="string", value=value)
        )
    return value


def _check_rate(request: web.Request) -> str:
    """The client's address; 429 when it failed too many logins lately."""
    address = request.app[PROXIES].client_address(request)
    wait = request.app[LOGIN_LIMITS].retry_after(address, time.time())
    if wait is not None:
        raise ApiError(
            429,
            "too_many_requests",
            {"message": f"too many failed logins from your address; try again in {wait} s"},
            headers={"Retry-After": str(wait)},
        )
    return address


def _failed(request: web.Request, address: str, failure: ApiError) -> ApiError:
    """Count a failed login of `address`; the answer to give it."""
    request.app[LOGIN_LIMITS].failed(address, time.time())
    return failure


async def _issue(request: web.Request, account: Account, box: VMBox | None) -> web.Response:
    """A new token for `account` (for `box` alone, when given), in the answer and in the cookie."""
    ttl = request.app[OPTIONS].token_ttl_s
    token, info = await create_token(
        request.app[STORE].db, account.id, ttl, box.id if box else None
    )
    request.app[TOKENS].put(token, info)
    request[AUTH_TOKEN] = request[ECHOED_TOKEN] = token
    response = reply(request, _identity(account, info, box), status=201)
    set_token_cookie(request, response, token, ttl)
    return response


def _identity(account: Account, info: Token, box: VMBox | None) -> dict:
    expires_in = max(0, int(info.expires - time.time()))
    identity = {"account_id": account.id, "account_name": account.name, "expires_in_s": expires_in}
    if box is None:
        return identity
    return {**identity, "vmbox_id": box.id, "mailbox": box.mailbox}


async def put_api_auth(request: web.Request) -> web.Response:
    """Exchange an API key for an auth token scoped to the key's account."""
    address = _check_rate(request)
    data, _ = await read_envelope(request)
    api_key = _text_field(data, "api_key")
    account = await account_for_api_key(request.app[STORE].db, api_key)
    if account is None:
        raise _failed(request, address, unauthorized())
    return await _issue(request, account, None)


async def _login_accounts(request: web.Request, name: str | None) -> list[Account]:
    """The accounts a box login may mean: those named `name`, or every one when none is named; 400
    when vmbox holds several and none is named."""
    db = request.app[STORE].db
    if name is not None:
        return await accounts_named(db, name)
    accounts = await list_accounts(db)
    if len(accounts) > 1:
        raise validation_error(
            error(
                "account_name",
                "required",
                "This vmbox holds several accounts: give the name of yours",
            )
        )
    return accounts


def _locked(until: int) -> ApiError:
    wait = max(1, until - int(time.time()))
    at = time.strftime("%H:%M:%S UTC", time.gmtime(until))
    return ApiError(
        423,
        "locked",
        {
            "message": f"too many wrong PINs: this box is locked; try again after {at}"
            f" (in {wait // 60} min {wait % 60} s)",
            "retry_after_s": wait,
        },
        headers={"Retry-After": str(wait)},
    )


async def put_vmbox_auth(request: web.Request) -> web.Response:
    """Exchange a mailbox number and its PIN for a token that reaches that box alone."""
    address = _check_rate(request)
    data, _ = await read_envelope(request)
    mailbox, pin = _text_field(data, "mailbox"), _text_field(data, "pin")
    name = _text_field(data, "account_name", required=False)
    found = [
        (account, box)
        for account in await _login_accounts(request, name)
        if (box := await find_vmbox(request.app[STORE].db, account.id, mailbox)) is not None
    ]
    # An unknown mailbox answers as a wrong PIN does: nobody learns which boxes exist.
    if len(found) != 1:
        raise _failed(request, address, _wrong_pin())
    account, box = found[0]
    login = await log_in_with_pin(
        request.app[STORE].db, box.id, pin, int(time.time()), request.app[OPTIONS].lockout
    )
    if login.accepted:
        return await _issue(request, account, box)
    if login.locked_until is not None:
        raise _failed(request, address, _locked(login.locked_until))
    raise _failed(request, address, _wrong_pin())


def _wrong_pin() -> ApiError:
    return unauthorized("wrong mailbox or PIN")


async def get_vmbox_auth(request: web.Request) -> web.Response:
    """Who the request's token is: its account, and its box for a box login's token."""
    store, box_id = request.app[STORE], request[TOKEN_BOX]
    account = await get_account(store.db, request[ACCOUNT_ID])
    box = await get_vmbox(store.db, request[ACCOUNT_ID], box_id) if box_id else None
    info = request.app[TOKENS].get(request[AUTH_TOKEN])
    if account is None or info is None or (box_id and box is None):
        raise unauthorized()
    return reply(request, _identity(account, info, box))


async def delete_vmbox_auth(request: web.Request) -> web.Response:
    """Log out: the request's token stops working at once and the browser forgets the cookie."""
    token = request[AUTH_TOKEN]
    request.app[TOKENS].forget(token)
    await revoke_token(request.app[STORE].db, token)
    request[ECHOED_TOKEN] = ""
    response = reply(request, {"logged_out": True})
    clear_token_cookie(request, response)
    return response
