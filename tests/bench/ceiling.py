"""The ceiling for the API benchmark: a bare aiohttp handler answering a constant KAZOO envelope.

Run as `python ceiling.py PORT [BODIES]`; it serves until killed. With BODIES (a directory), a request
for `/<name>` gets the bytes of `BODIES/<name>` instead: the same answer vmbox gave, so a page of fifty
messages is compared with a bare server sending as many bytes.
"""

import json
import sys
from pathlib import Path

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


def make_app(bodies: dict[str, bytes]) -> web.Application:
    async def constant(request: web.Request) -> web.Response:
        body = bodies.get(request.match_info["tail"])
        if body is None:
            return web.Response(text=ENVELOPE, content_type="application/json")
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", constant)
    return app


if __name__ == "__main__":
    directory = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    bodies = {path.name: path.read_bytes() for path in directory.iterdir()} if directory else {}
    web.run_app(
        make_app(bodies), host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None
    )
