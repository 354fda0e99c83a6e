"""Authentication: API key -> auth token (`PUT /v2/api_auth`), and the token check on every request.

A token is scoped to one account. A request naming another account in its path gets 403 before any
handler runs, so no handler can leak another account's data; ids of another account under one's own
account path are simply not found (every store query is filtered by account).
"""

import time

from aiohttp import web

from store.accounts import Token, account_for_api_key, create_token, token_info
from store.api.envelope import ApiError, reply
from store.api.keys import ACCOUNT_ID, AUTH_TOKEN, OPTIONS, STORE, TOKENS
from store.api.page import is_page
from store.api.requests import read_envelope
from store.validation import error

_PUBLIC = frozenset({"/v2/api_auth", "/healthz", "/v2/openapi.json"})


class TokenCache:
    """Valid tokens seen recently, so the per-request check costs no database round trip."""

    def __init__(self, limit: int = 10_000):
        self._tokens: dict[str, Token] = {}
        self._limit = limit

    def get(self, token: str) -> Token | None:
        found = self._tokens.get(token)
        if found and found.expires > time.time():
            return found
        self._tokens.pop(token, None)
        return None

    def put(self, token: str, info: Token) -> None:
        if len(self._tokens) >= self._limit:
            now = time.time()
            self._tokens = {
                key: value for key, value in self._tokens.items() if value.expires > now
            }
            if len(self._tokens) >= self._limit:
                self._tokens.clear()
        self._tokens[token] = info


def _unauthorized() -> ApiError:
    return ApiError(
        401,
        "invalid_credentials",
        {"message": "invalid credentials"},
        headers={"WWW-Authenticate": "X-Auth-Token"},
    )


async def _token(request: web.Request, token: str) -> Token | None:
    cache: TokenCache = request.app[TOKENS]
    found = cache.get(token)
    if found is None:
        found = await token_info(request.app[STORE].db, token)
        if found is not None:
            cache.put(token, found)
    return found


async def authorize(request: web.Request) -> None:
    """Check the X-Auth-Token of a request to a non-public path: 401 without a valid token, 403 when the
    path names another account. Sets the request's AUTH_TOKEN and ACCOUNT_ID."""
    if (
        request.path in _PUBLIC
        or is_page(request.path)
        or request.match_info.http_exception is not None
    ):
        return
    token = request.headers.get("X-Auth-Token", "")
    found = await _token(request, token) if token else None
    if found is None:
        raise _unauthorized()
    request[AUTH_TOKEN] = token
    account_id = request.match_info.get("account_id")
    if account_id is not None and account_id != found.account_id:
        raise ApiError(
            403, "forbidden", {"message": "this token does not grant access to that account"}
        )
    request[ACCOUNT_ID] = found.account_id


async def put_api_auth(request: web.Request) -> web.Response:
    """Exchange an API key for an auth token scoped to the key's account."""
    data, _ = await read_envelope(request)
    api_key = data.get("api_key")
    if not isinstance(api_key, str) or not api_key:
        raise ApiError(
            400, "validation error", error("api_key", "required", "Field is required but missing")
        )
    account = await account_for_api_key(request.app[STORE].db, api_key)
    if account is None:
        raise _unauthorized()
    token, info = await create_token(
        request.app[STORE].db, account.id, request.app[OPTIONS].token_ttl_s
    )
    request.app[TOKENS].put(token, info)
    request[AUTH_TOKEN] = token
    expires_in = max(0, int(info.expires - time.time()))
    data = {"account_id": account.id, "account_name": account.name, "expires_in_s": expires_in}
    return reply(request, data, status=201)
