"""The ceiling for the API benchmark: a bare aiohttp handler answering a constant KAZOO envelope.

Run as `python ceiling.py PORT`; it serves until killed.
"""

import json
import sys

from aiohttp import web

ENVELOPE = json.dumps(
    {
        "data": {
            "name": "VMBox 0",
            "mailbox": "3000",
            "require_pin": True,
            "is_setup": False,
            "timezone": "America/Los_Angeles",
            "check_if_owner": True,
            "id": "3a63acc3694ba189947235ae4727941b",
        },
        "auth_token": "x" * 43,
        "request_id": "0" * 32,
        "timestamp": "2026-11-27T00:00:00Z",
        "revision": "1-" + "0" * 32,
        "status": "success",
    }
)


async def constant(request: web.Request) -> web.Response:
    return web.Response(text=ENVELOPE, content_type="application/json")


if __name__ == "__main__":
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", constant)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
