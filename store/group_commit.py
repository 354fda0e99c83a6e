"""Group commit: concurrent small writes committed together, several in one fsync.

Part of the one funnel to SQLite (only `store.db` uses it). Rules:
- Callers hand in `work(tx)`; a committer task takes every work queued so far as one batch: BEGIN
  IMMEDIATE, each work inside a SAVEPOINT of its own, then one COMMIT (with synchronous=FULL, one fsync
  of the WAL for the whole batch). Works queued while a batch commits form the next batch, so the more
  writers wait on the disk, the more each fsync carries; a lone writer pays no added delay.
- A work that raises is rolled back to its savepoint and only its caller gets the error: the others'
  statements stay in the batch. If SQLite itself ended the transaction (a full disk, an I/O error), or
  COMMIT fails, nothing of the batch is kept and every caller of the batch gets the error.
- No caller is answered before COMMIT has returned: a result handed out is on disk.
- The batch runs under the database's write lock, so it never interleaves with `transaction()`.
  Statements run on the event loop's thread (a hop to another thread per statement would cost more than
  the statements), BEGIN too unless another process holds the write lock (it then waits on the
  committer's own thread); COMMIT (the fsync) runs on that thread while the loop serves everything else.
"""

import asyncio
import concurrent.futures
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from store.sql import Statement, spelled

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000  # how long BEGIN waits for another process's write, as the other connections

Work = Callable[["SharedTransaction"], Awaitable[Any]]


class SharedTransaction:
    """Statements of one work within a shared transaction: the same methods as `db.Transaction`."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    async def execute(self, sql: Statement, params: Sequence = ()) -> int:
        """Run one statement; return the number of rows it changed."""
        return self._conn.execute(spelled(sql, "sqlite"), params).rowcount

    async def execute_many(self, sql: Statement, rows: Iterable[Sequence]) -> None:
        """Run one statement for each parameter row."""
        self._conn.executemany(spelled(sql, "sqlite"), rows)

    async def fetch_all(self, sql: Statement, params: Sequence = ()) -> list[sqlite3.Row]:
        """Rows of a query, seeing the batch's writes so far."""
        return self._conn.execute(spelled(sql, "sqlite"), params).fetchall()

    async def fetch_one(self, sql: Statement, params: Sequence = ()) -> sqlite3.Row | None:
        """The first row of a query, or None."""
        return self._conn.execute(spelled(sql, "sqlite"), params).fetchone()


class GroupCommit:
    """The queue of works waiting for a commit, and the task that commits them in batches."""

    def __init__(self, conn: sqlite3.Connection, lock: asyncio.Lock, committed: Callable[[], None]):
        self._conn = conn
        self._lock = lock
        self._committed = committed
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="vmbox-commit")
        self._queue: list[tuple[Work, asyncio.Future]] = []
        self._committer: asyncio.Task | None = None

    async def run(self, work: Work) -> Any:
        """`work`'s result once the batch holding it is committed; see `Database.write`."""
        outcome = asyncio.get_running_loop().create_future()
        self._queue.append((work, outcome))
        if self._committer is None:
            self._committer = asyncio.create_task(self._commit_batches())
        try:
            # Shielded: a cancelled caller does not pull its work out of a batch that may hold it already.
            return await asyncio.shield(outcome)
        except asyncio.CancelledError:
            outcome.add_done_callback(_ignore)
            raise

    async def close(self) -> None:
        """Commit what is queued, then close the connection."""
        if self._committer is not None:
            await self._committer
        self._thread.shutdown()
        self._conn.close()

    async def _commit_batches(self) -> None:
        try:
            while self._queue:
                async with self._lock:
                    batch, self._queue = self._queue, []
                    committed = await self._commit(batch)
                if committed:
                    self._committed()
        finally:
            self._committer = None

    async def _commit(self, batch: list[tuple[Work, asyncio.Future]]) -> bool:
        """Run and commit one batch, then settle every caller's future; False when nothing was kept."""
        results: list[tuple[asyncio.Future, BaseException | None, Any]] = []
        try:
            await self._begin()
            tx = SharedTransaction(self._conn)
            for work, outcome in batch:
                results.append((outcome, *await self._run_one(work, tx)))
            await self._on_thread(self._conn.execute, "COMMIT")
        except BaseException as exc:
            self._rollback()
            for _, outcome in batch:
                _settle(outcome, exc, None)
            if not isinstance(exc, Exception):
                raise
            logger.error("a shared commit of %d writes failed: %s", len(batch), exc)
            return False
        for outcome, failure, result in results:
            _settle(outcome, failure, result)
        return True

    async def _run_one(self, work: Work, tx: SharedTransaction) -> tuple[Exception | None, Any]:
        """Run one work in a savepoint: (None, its result), or (its exception, None) with its
        statements undone. Raises when the batch as a whole cannot go on."""
        self._conn.execute("SAVEPOINT work")
        try:
            result = await work(tx)
        except Exception as exc:
            if (
                not self._conn.in_transaction
            ):  # SQLite rolled everything back (disk full, I/O error)
                raise
            self._conn.execute("ROLLBACK TO work")
            self._conn.execute("RELEASE work")
            return exc, None
        self._conn.execute("RELEASE work")
        return None, result

    async def _begin(self) -> None:
        try:
            self._conn.execute(
                "BEGIN IMMEDIATE"
            )  # never waits here: this connection's busy_timeout is 0
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                raise
            await self._on_thread(
                _begin_waiting, self._conn
            )  # another process writes: wait off the loop

    async def _on_thread(self, function: Callable, *args) -> None:
        running = self._thread.submit(function, *args)
        try:
            await asyncio.wrap_future(running)
        except asyncio.CancelledError:
            # The statement goes on in its thread; the connection is free again only once it ends.
            concurrent.futures.wait([running])
            raise

    def _rollback(self) -> None:
        # Reached only on the loop thread after the committer thread finished its statement, so the
        # connection is free. A failed BEGIN leaves no transaction; a failed COMMIT may have ended it.
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")


def _begin_waiting(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    try:
        conn.execute("BEGIN IMMEDIATE")
    finally:
        conn.execute("PRAGMA busy_timeout = 0")


def _settle(outcome: asyncio.Future, failure: BaseException | None, result: Any) -> None:
    if outcome.done():
        return
    if isinstance(failure, asyncio.CancelledError):
        outcome.cancel()
    elif failure is not None:
        outcome.set_exception(failure)
    else:
        outcome.set_result(result)


def _ignore(outcome: asyncio.Future) -> None:
    """Mark the outcome of a cancelled caller's work as seen (nobody is left to read it)."""
    if not outcome.cancelled():
        outcome.exception()
