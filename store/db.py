"""The one place that talks to SQLite (aiosqlite for work off the loop, the sqlite3 module on it).

Rules:
- Reads go through read-only connections; with WAL they see the last committed state and never wait
  behind a write. `fetch_one`/`fetch_all` run on the event loop's own thread through the standard
  sqlite3 module: an indexed, bounded lookup takes ~10 us there, against ~100 us for a hop to aiosqlite's
  thread and back, and those hops dominated the API's response time. So they are only for queries
  whose cost is bounded by an index and a LIMIT; anything that may scan (unpaginated listings, ad-hoc
  filters) goes through `scan`, which runs on aiosqlite's reader thread and never stalls the loop.
- `remembered` keeps read results (listing pages asked for again and again) until the database changes:
  each is tagged with SQLite's `PRAGMA data_version` read before its query, which changes with every
  commit of any other connection, this process's writers or another process's, so a kept result is
  never older than the data. Results that time alone changes (the retention cutoff hides messages)
  also carry the range of cutoffs they hold for.
- Every write runs inside `transaction()`, on the writer connection, one transaction at a time (an
  asyncio lock: coroutines sharing one connection would otherwise interleave their statements).
- Small writes whose callers can share a commit (a new message) go through `write()` instead: concurrent
  ones are committed together, several in one fsync (group commit, store/group_commit.py). Each
  caller's coroutine resumes only once the commit holding its write is durable (synchronous=FULL: the
  WAL is fsynced before COMMIT returns), so nothing is acknowledged before it would survive a power cut.
- The schema version lives in `PRAGMA user_version`; `open_database` applies missing migrations.
"""

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import aiosqlite

from store.errors import SchemaTooNew
from store.group_commit import GroupCommit
from store.migrations import MIGRATIONS
from store.sql import Statement, spelled

logger = logging.getLogger(__name__)

T = TypeVar("T")
REMEMBERED = 512  # read results kept at most (the oldest go first)
Row = sqlite3.Row
IntegrityError = sqlite3.IntegrityError

_PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    # FULL: a message a caller left must survive a power cut, not only a crash of this process.
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 5000",
)


class Transaction:
    """Statements of one write transaction; valid only inside `Database.transaction()`."""

    dialect = "sqlite"  # which SQL the statements are in (store/postgres.py is the other)

    def __init__(self, conn: aiosqlite.Connection):
        self._conn = conn

    async def execute(self, sql: Statement, params: Sequence = ()) -> int:
        """Run one statement; return the number of rows it changed."""
        cursor = await self._conn.execute(spelled(sql, "sqlite"), params)
        return cursor.rowcount

    async def execute_many(self, sql: Statement, rows: Iterable[Sequence]) -> None:
        """Run one statement for each parameter row (none at all, not even a trip to the writer's thread,
        for no rows: a job worker finding nothing due would otherwise pay two after every commit)."""
        rows = list(rows)
        if rows:
            await self._conn.executemany(spelled(sql, "sqlite"), rows)

    async def fetch_all(self, sql: Statement, params: Sequence = ()) -> list[Row]:
        """Rows of a query, seeing this transaction's own writes."""
        return list(await self._conn.execute_fetchall(spelled(sql, "sqlite"), params))

    async def fetch_one(self, sql: Statement, params: Sequence = ()) -> Row | None:
        """The first row of a query, or None."""
        rows = await self._conn.execute_fetchall(spelled(sql, "sqlite"), params)
        return rows[0] if rows else None


class Database:
    """Connections to one SQLite file: a writer, a reader thread for scans, and a quick reader."""

    dialect = "sqlite"

    def __init__(
        self,
        writer: aiosqlite.Connection,
        reader: aiosqlite.Connection,
        quick: sqlite3.Connection,
        grouped: sqlite3.Connection,
        key_directory: Path,
    ):
        self.key_directory = key_directory  # where secrets kept out of the database live (PIN keys)
        self._writer = writer
        self._reader = reader
        self._quick = quick
        self._write_lock = asyncio.Lock()
        self._commit_listeners: list = []
        self._group = GroupCommit(grouped, self._write_lock, self._committed)
        self._remembered: dict[Hashable, tuple[int, float, float, object]] = {}

    def on_commit(self, listener) -> None:
        """Call `listener()` after every commit of this process (e.g. to wake the job worker)."""
        self._commit_listeners.append(listener)

    async def fetch_all(self, sql: Statement, params: Sequence = ()) -> list[Row]:
        """Rows of an indexed, bounded read-only query, against the last committed state."""
        return self._quick.execute(spelled(sql, "sqlite"), params).fetchall()

    async def fetch_one(self, sql: Statement, params: Sequence = ()) -> Row | None:
        """The first row of an indexed read-only query, or None."""
        return self._quick.execute(spelled(sql, "sqlite"), params).fetchone()

    async def remembered(
        self, key: Hashable, read: Callable[[], Awaitable[tuple[T, float]]], cutoff: float = 0
    ) -> T:
        """The result of `read()` for `key`, read again only after a commit to the database (by any
        connection or process), or when `cutoff` leaves the range the kept result holds for: from the
        cutoff it was read at to the bound `read()` returns with it (math.inf: any later cutoff)."""
        version = self._quick.execute("PRAGMA data_version").fetchone()[0]
        kept = self._remembered.get(key)
        if kept is not None and kept[0] == version and kept[1] <= cutoff <= kept[2]:
            return kept[3]
        result, valid_to = await read()
        if key not in self._remembered and len(self._remembered) >= REMEMBERED:
            del self._remembered[next(iter(self._remembered))]
        self._remembered[key] = (version, cutoff, valid_to, result)
        return result

    async def scan(self, sql: Statement, params: Sequence = ()) -> list[Row]:
        """Rows of a read-only query that may touch many rows (run off the event loop)."""
        return list(await self._reader.execute_fetchall(spelled(sql, "sqlite"), params))

    @asynccontextmanager
    async def transaction(self, serialized: bool = True) -> AsyncIterator[Transaction]:
        """A write transaction: committed when the block ends, rolled back if it raises. SQLite runs
        one at a time whatever `serialized` says (store/postgres.py: transactions that may overlap)."""
        async with self._write_lock:
            try:
                # Inside the try: a task cancelled while awaiting BEGIN leaves it queued on aiosqlite's
                # thread, which still runs it; without the ROLLBACK the connection would stay inside that
                # transaction and every later write of the process would fail.
                await self._writer.execute("BEGIN IMMEDIATE")
                yield Transaction(self._writer)
            except BaseException:
                await self._rollback()
                raise
            await self._writer.execute("COMMIT")
        self._committed()

    async def write(self, work: Callable[[Transaction], Awaitable[T]]) -> T:
        """Run `work(tx)` in a write transaction shared with concurrent callers of `write`; return its
        result once that transaction is durably committed, or raise what `work` raised (its statements
        then undone, the others' kept) or what the commit raised (nothing of the batch kept).

        `work` runs on the event loop's thread, after the writes queued before it: its statements must
        be bounded by an index (they stall the loop while they run). If the caller is cancelled, `work`
        still runs and may commit; nobody hears of it.
        """
        return await self._group.run(work)

    def _committed(self) -> None:
        for listener in self._commit_listeners:
            listener()

    async def _rollback(self) -> None:
        """End the writer's transaction, if one was started (BEGIN itself may have failed)."""
        try:
            await self._writer.execute("ROLLBACK")
        except sqlite3.OperationalError:
            if self._writer.in_transaction:
                raise

    async def close(self) -> None:
        """Close every connection (once the writes already handed to `write()` are committed)."""
        await self._group.close()
        self._quick.close()
        await self._reader.close()
        await self._writer.close()


async def _connect(path: Path, *pragmas: str) -> aiosqlite.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves (aiosqlite's setter for it is broken in 0.22).
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    for pragma in (*_PRAGMAS, *pragmas):
        await conn.execute(pragma)
    return conn


async def _migrate(conn: aiosqlite.Connection) -> None:
    (version,) = await (await conn.execute("PRAGMA user_version")).fetchone()
    if version > len(MIGRATIONS):
        raise SchemaTooNew(
            f"database schema version {version} is newer than this vmbox ({len(MIGRATIONS)}); upgrade vmbox"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        logger.info("applying schema migration %d", number)
        # The migration and its version bump form one transaction: all of it lands or none.
        try:
            await conn.executescript(
                f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;"
            )
        except sqlite3.Error:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
            raise


async def open_database(path: Path) -> Database:
    """Open (creating if needed) the database at `path` and bring its schema up to date."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = await _connect(path)
    try:
        await _migrate(writer)
        reader = await _connect(path, "PRAGMA query_only = ON")
    except BaseException:
        await writer.close()
        raise
    quick = _connect_here(path, "PRAGMA query_only = ON")
    # The group-commit writer runs statements here and BEGIN/COMMIT on its own thread, one at a time.
    grouped = _connect_here(path, "PRAGMA busy_timeout = 0", check_same_thread=False)
    return Database(writer, reader, quick, grouped, path.absolute().parent)


def _connect_here(path: Path, *pragmas: str, check_same_thread: bool = True) -> sqlite3.Connection:
    """A plain sqlite3 connection (no thread of its own), for statements run on the event loop."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=check_same_thread)
    conn.row_factory = sqlite3.Row
    for pragma in (*_PRAGMAS, *pragmas):
        conn.execute(pragma)
    return conn
