"""KAZOO's response envelope and error shapes.

Success: {"data", "revision", "request_id", "status": "success", "auth_token", "timestamp"} plus, on
paginated lists, "page_size", "start_key", "next_start_key". Errors: the same envelope with status
"error", "error" (the HTTP code as a string) and "message" (KAZOO's error name).
"""

import functools
import itertools
import json
import secrets
import time
import zlib

from aiohttp import web

from store.api.keys import ECHOED_TOKEN, REQUEST_ID
from store.documents import dumps
from store.validation import Errors


class RawJSON(str):
    """JSON text that goes into a response as it is (already serialised, e.g. straight from the store)."""


class ApiError(Exception):
    """An error response in KAZOO's shape."""

    def __init__(self, status: int, message: str, data: object, headers: dict | None = None):
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.data = data
        self.headers = headers or {}


def bad_identifier(ident: str) -> ApiError:
    return ApiError(404, "bad_identifier", {"message": "bad identifier", "cause": ident})


def validation_error(errors: Errors) -> ApiError:
    return ApiError(400, "validation error", errors)


class RequestIds:
    """Request ids unique across processes and restarts: a random prefix per process and a counter
    (cheaper per request than fresh random bytes, which cost a system call)."""

    def __init__(self):
        self._prefix = secrets.token_hex(8)
        self._count = itertools.count(1)

    def new(self, header: str | None) -> str:
        """The caller's X-Request-ID when it is sane, else a fresh id."""
        if header and len(header) <= 64 and header.replace("-", "").replace("_", "").isalnum():
            return header
        return f"{self._prefix}{next(self._count):016x}"


@functools.lru_cache(maxsize=1)
def _iso_time(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))


def _timestamp() -> str:
    """The envelope's ISO timestamp (formatted once per second, not once per response)."""
    return _iso_time(int(time.time()))


# The same text as store.documents.dumps, without building an encoder on every call.
json_text = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def digest(text: str) -> str:
    """The revision of a list: a digest of its JSON text (CRC-32: it only has to change with the data)."""
    return f"{zlib.crc32(text.encode()):08x}"


def _head(request: web.Request, data: object) -> str:
    # Built as text: the token (one we issued), request id (hex, or a caller's id checked to be
    # alphanumeric) and timestamp need no escaping.
    data_text = data if isinstance(data, RawJSON) else json_text(data)
    token = request.get(ECHOED_TOKEN, "")
    return f'{{"data":{data_text},"auth_token":"{token}","request_id":"{request[REQUEST_ID]}","timestamp":"{_timestamp()}"'


def reply(
    request: web.Request,
    data: object,
    *,
    status: int = 200,
    revision: str | None = None,
    page: dict | None = None,
) -> web.Response:
    """A success response; without a `revision`, the revision is a digest of the data (as KAZOO's lists).

    The digest only has to change when the data does; CRC-32 does that at a fraction of MD5's cost on
    a page of fifty messages. A `revision` is the store's own (`<n>-<hex>`), so it needs no escaping;
    `page` values may hold client text (a start key) and are encoded.
    """
    if revision is None:
        text = data if isinstance(data, RawJSON) else json_text(data)
        revision, data = digest(text), RawJSON(text)
    fields = "".join(f',"{key}":{json_text(value)}' for key, value in page.items()) if page else ""
    body = f'{_head(request, data)},"revision":"{revision}"{fields},"status":"success"}}'
    return web.Response(text=body, status=status, content_type="application/json")


def error_reply(request: web.Request, error: ApiError) -> web.Response:
    """An error response in KAZOO's shape."""
    fields = {"error": str(error.status), "message": error.message, "status": "error"}
    body = f"{_head(request, error.data)},{dumps(fields)[1:]}"
    return web.Response(
        text=body, status=error.status, content_type="application/json", headers=error.headers
    )
