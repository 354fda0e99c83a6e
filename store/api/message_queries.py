"""The query string of a message listing, read as KAZOO reads it: filters, time range, order, page.

Filters (crossbar_filter): `filter_<field>=<value>` and `filter_not_<field>=<value>` (a JSON array value
means any of its strings), `has_key`, `key_missing`, `has_value` and `value_missing` naming a field;
fields may be dotted paths. Any other parameter is not a filter. What they match: store/message_listing.py.
"""

from aiohttp import web

from store.api.envelope import validation_error
from store.api.keys import ACCOUNT_ID
from store.api.pages import Page
from store.api.requests import flag, integer
from store.ids import GREGORIAN_OFFSET, now_gregorian
from store.message_listing import FieldFilter, MessageQuery, accepted_texts
from store.validation import error

MAX_CREATED_SPAN_S = 31 * 86400 + 3600  # KAZOO's longest created_from..created_to range
# SQLite's largest integer: a bigger bound would fail in the query, not as a 400.
_MAX_SQL_INTEGER = 2**63 - 1
_PRESENCE = ("has_key", "key_missing", "has_value", "value_missing")


def listing_filters(request: web.Request) -> tuple[FieldFilter, ...]:
    """The KAZOO filters among a request's query parameters, in their order."""
    filters = []
    for name, value in request.query.items():
        if name.startswith("filter_not_"):
            filters.append(FieldFilter("not_equals", _path(name[11:]), accepted_texts(value)))
        elif name.startswith("filter_"):
            filters.append(FieldFilter("equals", _path(name[7:]), accepted_texts(value)))
        elif name in _PRESENCE:
            filters.append(FieldFilter(name, _path(value)))
    return tuple(filters)


def _path(field: str) -> tuple[str, ...]:
    return tuple(field.split("."))


def _created_range(request: web.Request) -> tuple[int | None, int | None]:
    """(created_from, created_to) as given. With `created_from`, the range up to `created_to` (else
    now) may span at most 31 days and an hour, as KAZOO's; 400 `created_from.date_range` otherwise."""
    bounds = {"minimum": GREGORIAN_OFFSET, "maximum": _MAX_SQL_INTEGER}
    created_from = integer(request, "created_from", **bounds)
    created_to = integer(request, "created_to", **bounds)
    if created_from is None:
        return None, created_to
    end = now_gregorian() if created_to is None else created_to
    if end < created_from:
        message = f"created_to {end} is prior to created_from {created_from}"
        raise validation_error(error("created_from", "date_range", message, cause=created_from))
    if end - created_from > MAX_CREATED_SPAN_S:
        message = (
            f"created_to {end} is more than {MAX_CREATED_SPAN_S} seconds from"
            f" created_from {created_from}"
        )
        raise validation_error(error("created_from", "date_range", message, cause=end))
    return created_from, created_to


def message_query(request: web.Request, page: Page, box: str | None) -> MessageQuery:
    """The listing a request asks for: filters, created_from/created_to, ascending, the page."""
    created_from, created_to = _created_range(request)
    return MessageQuery(
        account_id=request[ACCOUNT_ID],
        box_id=box,
        filters=listing_filters(request),
        created_from=created_from,
        created_to=created_to,
        ascending=flag(request, "ascending", False),
        after=_start_after(page),
        limit=None if page.size is None else page.size + 1,
    )


def is_message_key(key: object) -> bool:
    """Whether `key` is a start key of a message listing: [timestamp, message id]."""
    # `type(...) is int`: a bool is an int to isinstance, and `true` is no timestamp.
    return (
        isinstance(key, list)
        and len(key) == 2
        and type(key[0]) is int
        and 0 <= key[0] <= _MAX_SQL_INTEGER
        and isinstance(key[1], str)
    )


def _start_after(page: Page) -> tuple[int, str] | None:
    """The (timestamp, id) a page starts after (its start key, read by `is_message_key`)."""
    return None if page.start is None else (page.start[0], page.start[1])
