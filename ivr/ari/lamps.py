"""Message-waiting lamps over ARI: the LampLink of ivr/notify/lamps.py, carried by res_ari_mailboxes
(which needs res_mwi_external), so that an ARI-only set-up lights phones' lamps without AMI.

  PUT /mailboxes/<mailbox@context>?oldMessages=N&newMessages=M   set a lamp (204)
  DELETE /mailboxes/<mailbox@context>                             forget it (204; 404 if unknown: done)

The requests need no websocket, but a (re)registration of the application is what tells vmbox that
Asterisk is back (maybe restarted, its lamps lost): each one is a new generation, and every lamp is
refreshed. Unreachable, Asterisk is waited for: until the next registration, or RETRY_DOWN_S.
"""

import asyncio
from urllib.parse import quote

from ivr.ari.app import StasisApp
from ivr.ari.client import AriDown, AriError
from ivr.notify.lamps import LampRefused
from ivr.notify.originate import LinkDown
from ivr.notify.worker import SystemClock

RETRY_DOWN_S = (
    30.0  # Asterisk unreachable while the websocket looked connected: wait this long at most
)


class AriLamps:
    def __init__(self, app: StasisApp, clock=None):
        self.app = app
        self.clock = clock or SystemClock()
        self._down_in: int | None = None  # the generation in which Asterisk was found unreachable
        self._registered = asyncio.Event()
        app.on_up(self._registered.set)

    @property
    def generation(self) -> int:
        return self.app.client.generation

    def on_up(self, listener) -> None:
        self.app.on_up(listener)

    async def wait_up(self) -> None:
        """Return once the application is registered and, after Asterisk was found unreachable, once it
        registered again or RETRY_DOWN_S have passed (so that a link down is never a busy loop)."""
        await self.app.up.wait()
        if self._down_in == self.generation:
            await self.clock.sleep(RETRY_DOWN_S, self._registered)
        self._down_in = None

    async def update(self, lamp: str, new: int, old: int) -> None:
        """Set `lamp`'s counts. Raises LinkDown, LampRefused."""
        await self._request("PUT", lamp, oldMessages=old, newMessages=new)

    async def delete(self, lamp: str) -> None:
        """Forget `lamp` (its phones' lamps go off); one Asterisk does not know is gone already.
        Raises LinkDown, LampRefused."""
        await self._request("DELETE", lamp, unknown_ok=True)

    async def _request(self, method: str, lamp: str, unknown_ok: bool = False, **params) -> None:
        path = f"/mailboxes/{quote(lamp, safe='')}"
        try:
            await self.app.client.request(method, path, **params)
        except AriDown as exc:
            self._down_in = self.generation
            self._registered.clear()
            raise LinkDown(str(exc)) from None
        except AriError as exc:
            if unknown_ok and exc.status == 404:
                return
            if not self.app.up.is_set():
                raise LinkDown(str(exc)) from None
            raise LampRefused(
                f"{exc} (are res_ari_mailboxes and res_mwi_external loaded, and may the ARI"
                " user write?)"
            ) from None
