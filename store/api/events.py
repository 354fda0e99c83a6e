"""Handler for `GET …/vmboxes/{box_id}/events`: a box's changes as server-sent events
(text/event-stream), for a page that shows messages as they arrive.

The stream: `retry: 3000` (an EventSource reconnects after 3 s when the stream drops), then an event
`counts` with `{"new": n, "saved": m, "deleted": d}` at once and again whenever the box's messages
change (store/box_watch.py), and a comment line every `heartbeat_s` seconds without a change, so
proxies keep the connection open and a client gone away is noticed. It ends when the box is deleted
or the server stops.
"""

import json

from aiohttp import web

from store.api.envelope import bad_identifier
from store.api.keys import ACCOUNT_ID, OPTIONS, REQUEST_ID, WATCH
from store.api.requests import box_id
from store.box_watch import WatchEnded
from store.errors import NotFound

_CLIENT_GONE = (
    ConnectionError,
    RuntimeError,
)  # aiohttp raises either when writing to a gone client


async def box_events(request: web.Request) -> web.StreamResponse:
    """The box's message counts, now and at every change, as server-sent events."""
    ident = box_id(request)
    try:
        async with request.app[WATCH].watching(request[ACCOUNT_ID], ident) as watcher:
            response = web.StreamResponse(
                headers={
                    "Content-Type": "text/event-stream",
                    "Cache-Control": "no-cache",
                    "X-Accel-Buffering": "no",  # nginx: pass events on as they come
                    "X-Request-ID": request[REQUEST_ID],
                }
            )
            await response.prepare(request)
            try:
                await response.write(b"retry: 3000\n\n")
                while True:
                    counts = await watcher.next(request.app[OPTIONS].heartbeat_s)
                    await response.write(_event(counts))
            except WatchEnded:
                await response.write_eof()
            except _CLIENT_GONE:
                pass
            return response
    except NotFound:
        raise bad_identifier(ident) from None
    except WatchEnded:
        raise web.HTTPServiceUnavailable(text="the server is stopping") from None


def _event(counts: dict[str, int] | None) -> bytes:
    if counts is None:
        return b": heartbeat\n\n"
    return f"event: counts\ndata: {json.dumps(counts, separators=(',', ':'))}\n\n".encode()
