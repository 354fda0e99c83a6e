"""Pagination as KAZOO does it: `page_size`, opaque `start_key` / `next_start_key`, `paginate=false`."""

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from aiohttp import web

from store.api.envelope import RawJSON, digest, json_text, reply
from store.api.keys import OPTIONS, RENDERINGS
from store.api.requests import flag


@dataclass(frozen=True)
class Page:
    size: int | None  # None: not paginated, everything at once
    start: object  # decoded start key, or None for the first page (or for a key not read)
    start_text: str | None
    # A start key the server did not give, or of another listing: the page is empty, as KAZOO's
    # view answers a start key no entry follows (KAZOO never refuses one).
    past_the_end: bool = False


def encode_key(value: object) -> str:
    """An opaque start key for `value` (URL-safe, no padding)."""
    return base64.urlsafe_b64encode(json_text(value).encode()).decode().rstrip("=")


_UNREADABLE = object()


def _decode_key(text: str) -> object:
    try:
        return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):
        return _UNREADABLE


def _is_text(key: object) -> bool:
    return isinstance(key, str)


def requested_page(request: web.Request, is_key: Callable[[object], bool] = _is_text) -> Page:
    """The page a listing request asks for; `is_key` tells the listing's start keys (by default an
    id or other text) from any other."""
    if not flag(request, "paginate", True):
        return Page(None, None, None)
    start_text = request.query.get("start_key")
    if not start_text:
        return Page(_page_size(request), None, None)
    start = _decode_key(start_text)
    if start is _UNREADABLE or not is_key(start):
        return Page(_page_size(request), None, start_text, past_the_end=True)
    return Page(_page_size(request), start, start_text)


def _page_size(request: web.Request) -> int:
    """`page_size` when it is a whole number above 0, at most `max_page_size` (the rest follows with
    next_start_key); anything else is the default, 50, as KAZOO's cb_context reads it."""
    options = request.app[OPTIONS]
    try:
        size = int(request.query.get("page_size", ""))
    except ValueError:
        return options.page_size
    return min(size, options.max_page_size) if size > 0 else options.page_size


def page_fields(page: Page, returned: int, next_key: str | None) -> dict:
    """Envelope fields of a page: `page_size` (entries returned), `start_key`, `next_start_key` (an
    encoded key) when more."""
    if page.size is None:
        return {}
    fields: dict = {"page_size": returned}
    if page.start_text:
        fields["start_key"] = page.start_text
    if next_key is not None:
        fields["next_start_key"] = next_key
    return fields


@dataclass(frozen=True)
class Rendered:
    """A page as it goes out: the JSON array of its entries, its digest, how many, the next start key."""

    data: RawJSON
    digest: str
    count: int
    next_key: str | None


class Renderings:
    """Rendered pages, by the identity of the rows they were made from. A page the store keeps
    (`Database.remembered`) comes back as the very same list until the data changes, so it is joined
    and digested once. Each rendering holds its rows, so no id is reused while it is a key."""

    def __init__(self, limit: int = 512):
        self._kept: dict[int, tuple[Sequence, Rendered]] = {}
        self._limit = limit

    def get(self, rows: Sequence, render: Callable[[], Rendered]) -> Rendered:
        """The rendering of `rows`, made by `render()` the first time."""
        kept = self._kept.get(id(rows))
        if kept is not None and kept[0] is rows:
            return kept[1]
        rendered = render()
        if len(self._kept) >= self._limit:
            del self._kept[next(iter(self._kept))]
        self._kept[id(rows)] = (rows, rendered)
        return rendered


def render(
    page: Page, rows: Sequence, entry: Callable[[tuple], str], key: Callable[[tuple], object]
) -> Rendered:
    """`rows` fetched with `fetch_limit(page)` as a page: each shown row as `entry(row)`, and the next
    start key `key(last shown row)` when a row beyond the page was fetched."""
    more = page.size is not None and len(rows) > page.size
    shown = rows[: page.size] if more else rows
    text = "[" + ",".join(entry(row) for row in shown) + "]"
    next_key = encode_key(key(shown[-1])) if more else None
    return Rendered(RawJSON(text), digest(text), len(shown), next_key)


def page_reply(
    request: web.Request,
    page: Page,
    rows: Sequence,
    entry: Callable[[tuple], str],
    key: Callable[[tuple], object],
    kept: bool,
) -> web.Response:
    """A listing from rows fetched with `fetch_limit(page)` (see `render`); `kept`: the rows are a page
    the store keeps, so its rendering is kept with it."""
    if page.past_the_end:
        rows, kept = (), False
    make = partial(render, page, rows, entry, key)
    rendered = request.app[RENDERINGS].get(rows, make) if kept and page.size else make()
    fields = page_fields(page, rendered.count, rendered.next_key)
    return reply(request, rendered.data, revision=rendered.digest, page=fields)


def text_start(page: Page) -> str | None:
    """The id (or other text key) a page of a listing ordered by text starts after, if any."""
    return page.start


def fetch_limit(page: Page) -> int | None:
    """Rows to fetch for `page`: one more than it shows, to know whether another page follows."""
    return None if page.size is None else page.size + 1


def listing_reply(
    request: web.Request, page: Page, rows: list[tuple[object, str]], kept: bool = False
) -> web.Response:
    """A listing from (key, entry as JSON text) rows fetched with `fetch_limit(page)`."""
    return page_reply(request, page, rows, _entry, _key, kept)


def _entry(row: tuple) -> str:
    return row[1]


def _key(row: tuple) -> object:
    return row[0]
