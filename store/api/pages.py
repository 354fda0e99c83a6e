"""Pagination as KAZOO does it: `page_size`, opaque `start_key` / `next_start_key`, `paginate=false`."""

import base64
import binascii
import json
from dataclasses import dataclass

from aiohttp import web

from store.api.envelope import RawJSON, json_text, reply, validation_error
from store.api.keys import OPTIONS
from store.api.requests import flag, integer
from store.validation import error


@dataclass(frozen=True)
class Page:
    size: int | None  # None: not paginated, everything at once
    start: object  # decoded start key, or None for the first page
    start_text: str | None


def encode_key(value: object) -> str:
    """An opaque start key for `value` (URL-safe, no padding)."""
    return base64.urlsafe_b64encode(json_text(value).encode()).decode().rstrip("=")


def _decode_key(text: str) -> object:
    try:
        return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):
        raise validation_error(
            error(
                "start_key",
                "type",
                "Invalid start key; pass back a next_start_key unchanged",
                value=text,
            )
        ) from None


def requested_page(request: web.Request) -> Page:
    """The page a listing request asks for."""
    options = request.app[OPTIONS]
    if not flag(request, "paginate", True):
        return Page(None, None, None)
    size = integer(request, "page_size", 1, options.max_page_size) or options.page_size
    start_text = request.query.get("start_key")
    return Page(size, _decode_key(start_text) if start_text else None, start_text)


def page_fields(page: Page, returned: int, next_key: object) -> dict:
    """Envelope fields of a page: `page_size` (entries returned), `start_key`, `next_start_key` when more."""
    if page.size is None:
        return {}
    fields: dict = {"page_size": returned}
    if page.start_text:
        fields["start_key"] = page.start_text
    if next_key is not None:
        fields["next_start_key"] = encode_key(next_key)
    return fields


def text_start(page: Page) -> str | None:
    """The id (or other text key) a page of a listing ordered by text starts after; 400 for another key."""
    if page.start is not None and not isinstance(page.start, str):
        raise validation_error(
            error("start_key", "type", "Invalid start key", value=page.start_text)
        )
    return page.start


def fetch_limit(page: Page) -> int | None:
    """Rows to fetch for `page`: one more than it shows, to know whether another page follows."""
    return None if page.size is None else page.size + 1


def listing_reply(request: web.Request, page: Page, rows: list[tuple[object, str]]) -> web.Response:
    """A listing from (key, entry as JSON text) rows fetched with `fetch_limit(page)`."""
    more = page.size is not None and len(rows) > page.size
    rows = rows[: page.size] if more else rows
    data = RawJSON("[" + ",".join(entry for _, entry in rows) + "]")
    return reply(request, data, page=page_fields(page, len(rows), rows[-1][0] if more else None))
