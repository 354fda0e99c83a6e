"""Message-waiting lamps (`<mailbox>@<mwi_context>`, res_mwi_external), whatever carries them: AMI's
MWIUpdate/MWIDelete (ivr/notify/ami.py AmiLamps) or ARI's PUT/DELETE /mailboxes (ivr/ari/lamps.py).

LampRefresher drains the store's mwi_pending table, one row per box (so bursts coalesce), through a
LampLink; it refreshes every lamp after each (re)connection, since phones may have missed changes
while the link was down. A row is forgotten only once its lamp was sent and its box did not change
again meanwhile (store/jobs.py lamp_updated).
"""

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from ivr.notify.originate import LinkDown
from ivr.notify.worker import IDLE_POLL_S
from store.core import Store
from store.errors import NotFound
from store.jobs import LampChange, lamp_updated, lamps_to_update, refresh_every_lamp
from store.vmboxes import find_vmbox, folder_counts

logger = logging.getLogger(__name__)

LAMP_RETRY_S = (
    60.0  # lamps Asterisk refused are tried again this much later (or after a reconnection)
)


class LampRefused(Exception):
    """Asterisk refused to set or delete a lamp: try again later."""


class LampLink(Protocol):
    """What carries lamps to Asterisk. `generation` changes with every (re)connection; `update` and
    `delete` raise LinkDown (no connection: retry once it is back), LampRefused (Asterisk refused) or
    ValueError (a mailbox the link cannot carry: retrying cannot help)."""

    generation: int

    async def wait_up(self) -> None: ...

    def on_up(self, listener: Callable[[], None]) -> None: ...

    async def update(self, lamp: str, new: int, old: int) -> None: ...

    async def delete(self, lamp: str) -> None: ...


class LampRefresher:
    """Keeps phones' message-waiting lamps (`<mailbox>@<mwi_context>`) in step with the boxes' counts."""

    def __init__(self, store: Store, link: LampLink, mwi_context: str, clock):
        self.store, self.link, self.mwi_context, self.clock = store, link, mwi_context, clock
        self.wake = asyncio.Event()  # set by every commit of this process and every (re)connection
        self.reconnected = asyncio.Event()
        store.db.on_commit(self.wake.set)
        link.on_up(self.wake.set)
        link.on_up(self.reconnected.set)

    async def run(self) -> None:
        """Refresh every lamp after each (re)connection, then each box whose counts changed, until cancelled."""
        refreshed = 0  # the link generation whose lamps were all marked for refreshing
        while True:
            await self.link.wait_up()
            if self.link.generation != refreshed:
                refreshed = self.link.generation
                logger.info(
                    "refreshing the lamps of %d boxes", await refresh_every_lamp(self.store.db)
                )
            self.wake.clear()
            self.reconnected.clear()
            changes = await lamps_to_update(self.store.db)
            if not changes:
                await self.clock.sleep(IDLE_POLL_S, self.wake)
                continue
            try:
                refused = await self._refresh_all(changes)
            except LinkDown:
                continue  # wait for the link; every lamp is refreshed after the next connection
            if refused:
                await self.clock.sleep(LAMP_RETRY_S, self.reconnected)

    async def _refresh_all(self, changes: list[LampChange]) -> int:
        """Send each lamp, deletions first; how many Asterisk refused. Raises LinkDown."""
        refused = 0
        for change in sorted(changes, key=lambda change: not change.deleted):
            try:
                await self._refresh(change)
            except LampRefused as exc:
                logger.warning(
                    "lamp %s not refreshed: %s; trying again in %.0f s",
                    self._lamp(change),
                    exc,
                    LAMP_RETRY_S,
                )
                refused += 1
            except ValueError as exc:  # a mailbox the link cannot carry: retrying cannot help
                logger.warning("lamp %s dropped: %s", self._lamp(change), exc)
                await lamp_updated(self.store.db, change)
        return refused

    async def _refresh(self, change: LampChange) -> None:
        lamp = self._lamp(change)
        counts = await self._counts(change)
        if counts is None:
            await self.link.delete(lamp)
            logger.debug("lamp %s deleted with its box", lamp)
        else:
            await self.link.update(lamp, counts["new"], counts["saved"])
            logger.debug("lamp %s: %d new, %d saved", lamp, counts["new"], counts["saved"])
        await lamp_updated(self.store.db, change)

    async def _counts(self, change: LampChange) -> dict | None:
        """What the lamp must show: its box's counts or, the box being gone, those of the box of the same
        account that has its mailbox now; None when there is none."""
        box_id = None if change.deleted else change.box_id
        if box_id is None:
            box = await find_vmbox(self.store.db, change.account_id, change.mailbox)
            box_id = box.id if box else None
        try:
            return (
                None
                if box_id is None
                else await folder_counts(self.store.db, box_id, self.store.cutoff())
            )
        except NotFound:  # deleted since the row was read; its row is marked deleted now
            return None

    def _lamp(self, change: LampChange) -> str:
        return f"{change.mailbox}@{self.mwi_context}"
