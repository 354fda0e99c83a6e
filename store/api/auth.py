"""The token check on every request: who may call what.

A token is scoped to one account. A request naming another account in its path gets 403 before any
handler runs, so no handler can leak another account's data; ids of another account under one's own
account path are simply not found (every store query is filtered by account).

A box login's token (`PUT /v2/vmbox_auth`) is scoped further, to its box: it may call only the routes
the route table marks for box logins, and only with its own box in the path; anything else is 403.

The token comes from the X-Auth-Token header, else from the `vmbox_token` cookie (store/api/cookies.py,
which also holds the CSRF rule applied here to cookie-authenticated requests).
"""

import time

from aiohttp import web

from store.accounts import Token, token_info
from store.api.cookies import cookie_token, is_same_origin, needs_origin_check
from store.api.envelope import ApiError
from store.api.keys import (
    ACCOUNT_ID,
    AUTH_TOKEN,
    BOX_ROUTES,
    ECHOED_TOKEN,
    PUBLIC_ROUTES,
    STORE,
    TOKEN_BOX,
    TOKENS,
)
from store.api.page import is_page


class TokenCache:
    """Valid tokens seen recently, so the per-request check costs no database round trip. Each is
    read again after `recheck_s`, so a token revoked elsewhere (a PIN changed by phone logs the box's
    logins out) stops working within that time."""

    def __init__(self, limit: int = 10_000, recheck_s: float = 60):
        self._tokens: dict[str, tuple[Token, float]] = {}  # token -> (its info, when it was read)
        self._limit = limit
        self._recheck_s = recheck_s

    def get(self, token: str) -> Token | None:
        found = self._tokens.get(token)
        now = time.time()
        if found and found[0].expires > now and now - found[1] < self._recheck_s:
            return found[0]
        self._tokens.pop(token, None)
        return None

    def put(self, token: str, info: Token) -> None:
        now = time.time()
        if len(self._tokens) >= self._limit:
            self._tokens = {
                key: value for key, value in self._tokens.items() if value[0].expires > now
            }
            if len(self._tokens) >= self._limit:
                self._tokens.clear()
        self._tokens[token] = (info, now)

    def forget(self, token: str) -> None:
        """Drop a revoked token."""
        self._tokens.pop(token, None)

    def forget_box(self, box_id: str, keep: str | None = None) -> None:
        """Drop the tokens of box `box_id`'s logins, but `keep` (revoked with the box's old PIN)."""
        self._tokens = {
            token: value
            for token, value in self._tokens.items()
            if value[0].box_id != box_id or token == keep
        }


def unauthorized(message: str = "invalid credentials") -> ApiError:
    return ApiError(
        401,
        "invalid_credentials",
        {"message": message},
        headers={"WWW-Authenticate": "X-Auth-Token"},
    )


def _forbidden(message: str) -> ApiError:
    return ApiError(403, "forbidden", {"message": message})


async def _token(request: web.Request, token: str) -> Token | None:
    cache: TokenCache = request.app[TOKENS]
    found = cache.get(token)
    if found is None:
        found = await token_info(request.app[STORE].db, token)
        if found is not None:
            cache.put(token, found)
    return found


def _route_key(request: web.Request) -> tuple[str, str]:
    return request.method, request.match_info.route.resource.canonical


async def authorize(request: web.Request) -> None:
    """Check the token of a request to a non-public route: 401 without a valid token, 403 when the
    path names another account, or another box than a box login's, or a route box logins may not
    call, or when a cookie-authenticated change fails the CSRF rule. Sets the request's AUTH_TOKEN,
    ECHOED_TOKEN, ACCOUNT_ID and TOKEN_BOX."""
    if request.match_info.http_exception is not None:
        return
    route = _route_key(request)
    if route in request.app[PUBLIC_ROUTES] or is_page(request.path):
        return
    token = request.headers.get("X-Auth-Token", "")
    from_cookie = not token
    token = token or cookie_token(request)
    found = await _token(request, token) if token else None
    if found is None:
        raise unauthorized()
    if from_cookie and needs_origin_check(request) and not is_same_origin(request):
        raise _forbidden(
            "a request authenticated by the cookie that changes something must come from vmbox's"
            " own page (an Origin header of this site, or X-Requested-With)"
        )
    request[AUTH_TOKEN] = token
    request[ECHOED_TOKEN] = "" if from_cookie else token  # a cookie's token stays out of bodies
    account_id = request.match_info.get("account_id")
    if account_id is not None and account_id != found.account_id:
        raise _forbidden("this token does not grant access to that account")
    if found.box_id is not None:
        box_id = request.match_info.get("box_id")
        if route not in request.app[BOX_ROUTES] or (box_id is not None and box_id != found.box_id):
            raise _forbidden("a box login's token reaches only its own box")
    request[ACCOUNT_ID] = found.account_id
    request[TOKEN_BOX] = found.box_id
