"""Watching boxes for changes to their messages, for live pages (the API's server-sent events).

The store learns of every change in one place: `Database.on_commit`, called after each commit of this
process, whoever made it (a message left by phone, the API, the job worker, the retention sweep).
A commit wakes the watch, which reads the state of every watched box in one query and tells the
watchers of each box whose state changed. Nothing is read while nobody watches, and nothing on a
timer. (Changes a `vmbox` command makes from another process are seen at this process's next
commit.)

A box's state is the count of its visible messages in each folder (new, saved, deleted) and a
fingerprint of them (per folder, the sum of their revisions and the greatest id), so a change that
leaves the counts alone (a transcription added, a new and a saved message trading folders) is seen
too.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from store.core import Store
from store.db import Database
from store.errors import NotFound

logger = logging.getLogger(__name__)

FOLDERS = ("new", "saved", "deleted")


@dataclass(frozen=True)
class BoxState:
    counts: dict[str, int]  # {"new": n, "saved": m, "deleted": d}
    fingerprint: tuple


async def box_states(
    db: Database, account_id: str, box_ids: list[str], cutoff: int
) -> dict[str, BoxState]:
    """The state of each box of `box_ids` that exists in `account_id`, counting messages at or
    after `cutoff` (Gregorian seconds); boxes that do not exist are left out."""
    rows = await db.scan(
        "SELECT v.id AS box_id, m.folder, count(m.id) AS n, CAST(coalesce(sum(m.rev), 0) AS BIGINT) AS revs,"
        " max(m.id) AS last"
        " FROM vmboxes v LEFT JOIN messages m"
        " ON m.box_id = v.id AND m.state = 'active' AND m.timestamp >= ?"
        f" WHERE v.account_id = ? AND v.id IN ({','.join('?' * len(box_ids))})"
        " GROUP BY v.id, m.folder",
        (cutoff, account_id, *box_ids),
    )
    found: dict[str, list] = {}
    for row in rows:
        found.setdefault(row["box_id"], []).append(row)
    return {box_id: _state(rows) for box_id, rows in found.items()}


def _state(rows: list) -> BoxState:
    by_folder = {row["folder"]: row for row in rows if row["folder"] is not None}
    counts = {folder: by_folder[folder]["n"] if folder in by_folder else 0 for folder in FOLDERS}
    fingerprint = tuple(
        (folder, row["n"], row["revs"], row["last"]) for folder, row in sorted(by_folder.items())
    )
    return BoxState(counts, fingerprint)


class WatchEnded(Exception):
    """The watch is over: the box is gone, or the process is stopping."""


class Watcher:
    """One watcher of one box: the counts it has not taken yet, and whether the watch ended."""

    def __init__(self, account_id: str, box_id: str):
        self.account_id, self.box_id = account_id, box_id
        self._changed = asyncio.Event()
        self._state: BoxState | None = None
        self._ended = False

    async def next(self, timeout: float) -> dict[str, int] | None:
        """The box's counts once they changed since last taken (at once the first time), or None
        after `timeout` seconds without a change. Raises WatchEnded."""
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except TimeoutError:
            return None
        self._changed.clear()
        if self._ended:
            raise WatchEnded(self.box_id)
        return dict(self._state.counts)

    def offer(self, state: BoxState | None) -> None:
        """The box's state as just read (None: the box is gone)."""
        if state is None:
            self.end()
        elif state != self._state:
            self._state = state
            self._changed.set()

    def end(self) -> None:
        self._ended = True
        self._changed.set()


class BoxWatch:
    """The watched boxes of one store, read again after every commit."""

    def __init__(self, store: Store):
        self._store = store
        self._watchers: dict[str, set[Watcher]] = {}
        self._wake = asyncio.Event()
        self._reader: asyncio.Task | None = None
        self._closed = False
        store.db.on_commit(self._wake.set)

    @asynccontextmanager
    async def watching(self, account_id: str, box_id: str) -> AsyncIterator[Watcher]:
        """A watcher of box `box_id` of `account_id` for the block. Raises NotFound for no such box,
        WatchEnded when the watch is closed."""
        if self._closed:
            raise WatchEnded(box_id)
        watcher = Watcher(account_id, box_id)
        self._watchers.setdefault(box_id, set()).add(watcher)
        try:
            states = await box_states(self._store.db, account_id, [box_id], self._store.cutoff())
            if box_id not in states:
                raise NotFound(box_id)
            watcher.offer(states[box_id])
            if self._reader is None:
                self._reader = asyncio.create_task(self._read_on_commits())
            yield watcher
        finally:
            watchers = self._watchers.get(box_id, set())
            watchers.discard(watcher)
            if not watchers:
                self._watchers.pop(box_id, None)

    async def close(self) -> None:
        """End every watch (the process is stopping)."""
        self._closed = True
        for watchers in self._watchers.values():
            for watcher in watchers:
                watcher.end()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)

    async def _read_on_commits(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._read()
            except Exception:  # the next commit reads again; the watchers must not be dropped
                logger.exception("reading the watched boxes failed")

    async def _read(self) -> None:
        by_account: dict[str, list[str]] = {}
        for box_id, watchers in self._watchers.items():
            for watcher in watchers:
                by_account.setdefault(watcher.account_id, []).append(box_id)
        for account_id, box_ids in by_account.items():
            box_ids = list(dict.fromkeys(box_ids))
            states = await box_states(self._store.db, account_id, box_ids, self._store.cutoff())
            for box_id in box_ids:
                for watcher in list(self._watchers.get(box_id, ())):
                    if watcher.account_id == account_id:
                        watcher.offer(states.get(box_id))
