"""The fake ARI's message-waiting lamps: res_ari_mailboxes' `PUT` and `DELETE /mailboxes/{name}` over
res_mwi_external's mailboxes, answered as Asterisk answers them (204; 400 for a count that is not an
integer of 0 or more, as ARI's own parameter check; 404 when deleting a mailbox it does not know)."""

import asyncio

from aiohttp import web

from ivr.simulator.ari_channel import Refused


class FakeMailboxes:
    """The mailboxes' counts (`state`: name -> (new, old)) and every lamp request in order (`requests`:
    ("PUT", name, new, old) or ("DELETE", name)); malformed requests go to the shared `errors`."""

    def __init__(self, errors: list[str]):
        self.state: dict[str, tuple[int, int]] = {}
        self.requests: list[tuple] = []
        self.errors = errors
        self._changed = asyncio.Condition()

    async def wait(self, count: int) -> list[tuple]:
        """The first `count` lamp requests, once that many have come."""
        async with self._changed:
            await self._changed.wait_for(lambda: len(self.requests) >= count)
        return self.requests[:count]

    async def put(self, request: web.Request, name: str) -> web.Response:
        """Set a lamp, creating the mailbox if need be."""
        counts = self._count(request, "newMessages"), self._count(request, "oldMessages")
        self.state[name] = counts
        await self._requested(("PUT", name, *counts))
        return web.Response(status=204)

    async def delete(self, request: web.Request, name: str) -> web.Response:
        known = self.state.pop(name, None) is not None
        await self._requested(("DELETE", name))
        if not known:
            raise Refused(404, "Mailbox does not exist")
        return web.Response(status=204)

    def _count(self, request: web.Request, name: str) -> int:
        value = request.query.get(name)
        if value is None:
            self.errors.append(f"{request.method} {request.path} without {name}")
            raise Refused(400, f"{name}: Missing required parameter")
        if not value.isdigit():
            self.errors.append(f"{request.method} {request.path} with {name}={value!r}")
            raise Refused(400, f"{name}: Invalid integer value")
        return int(value)

    async def _requested(self, lamp: tuple) -> None:
        async with self._changed:
            self.requests.append(lamp)
            self._changed.notify_all()
