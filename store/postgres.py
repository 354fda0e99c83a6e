"""The one place that talks to PostgreSQL (asyncpg), behind the interface of store/db.py's Database.

The store's queries are written once, with `?` placeholders as SQLite takes them; here they are
rewritten to PostgreSQL's `$1, $2, …` (once per statement text, then kept). Where the two dialects
differ in more than placeholders, a module picks its statement by `db.dialect`.

Differences from the SQLite store, and why:
- Write transactions take one lock, on every node (a transaction-scoped advisory lock): they run one
  at a time, as SQLite's do (the job queue's excepted: its claims take due jobs with
  `FOR UPDATE SKIP LOCKED`, so nodes claim side by side, never the same job), so every read-modify-write of the store (a box's revision, a folder
  change, a lockout count, a job's claim) means what it means on SQLite, whichever node runs it.
  Reads never take it. A finer rule (row locks where a transaction reads what it then writes) would
  let writes of different boxes overlap; the single writer is the simple, correct start.
- No group commit of our own: PostgreSQL commits concurrent transactions together itself, and each
  `write()` is a transaction on a pooled connection that returns once it is durable.
- `remembered` reads every time: other nodes change the database without telling this process.
- Audio is kept in the database (`put_audio`, `get_audio`, `copy_audio`, `forget_audio`), in parts
  of AUDIO_PART bytes: nodes share no filesystem, and no file is ever whole in memory.
- Every write transaction notifies the channel `vmbox_commit` (LISTEN/NOTIFY, delivered at commit);
  each node listens on a connection of its own and calls its commit listeners when another node
  commits, so a job queued, a message left or a folder changed on one node wakes the workers and
  the owners' live pages of all of them at once, with no polling storm. Were that connection lost,
  the workers' idle poll (seconds) still finds the work.
- Integrity violations (a unique key, a foreign key) raise store.db.IntegrityError, as SQLite's do,
  so callers catch one exception whichever database is behind the store.
"""

import asyncio
import hashlib
import logging
import re
import time
import uuid
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Hashable,
    Iterable,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

import asyncpg

from store.core import without_password
from store.db import IntegrityError
from store.errors import SchemaTooNew, StoreUnreachable
from store.pg_schema import MIGRATIONS
from store.sql import Statement, spelled

logger = logging.getLogger(__name__)

T = TypeVar("T")
Row = asyncpg.Record
POOL_SIZE = (
    10  # connections per node; PostgreSQL's default max_connections (100) fits several nodes
)
# Two nodes starting at once must not both migrate: the first takes this lock, the second waits.
MIGRATION_LOCK = 0x766D626F78  # "vmbox"
WRITE_LOCK = MIGRATION_LOCK + 1  # held by each write transaction (see above)
CHANNEL = "vmbox_commit"
AUDIO_PART = 256 * 1024

_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|::|\?|:[A-Za-z_]\w*")


@lru_cache(maxsize=1024)
def placeholders(sql: str) -> tuple[str, tuple[str, ...]]:
    """`sql` with its parameters outside quotes numbered as PostgreSQL's `$n`: each `?` in turn, or each
    `:name` (the same name, the same number); with the names in their numbers' order (none for `?`)."""
    names: list[str] = []
    count = 0

    def renumber(match: re.Match) -> str:
        nonlocal count
        token = match.group()
        if token == "?":
            count += 1
            return f"${count}"
        if token.startswith(":") and token != "::":
            if token[1:] not in names:
                names.append(token[1:])
            return f"${names.index(token[1:]) + 1}"
        return token

    return _TOKENS.sub(renumber, sql), tuple(names)


def _prepared(sql: Statement, params: Sequence | Mapping) -> tuple[str, list]:
    """PostgreSQL's text of `sql` and its arguments in order."""
    text, names = placeholders(spelled(sql, "postgresql"))
    return text, [params[name] for name in names] if names else list(params)


def _changed(status: str) -> int:
    """Rows a statement changed, from its command tag ("UPDATE 3", "INSERT 0 1", "DELETE 0")."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class _Statements:
    """Statements on one connection (a transaction's, or a pooled one for a single read)."""

    dialect = "postgresql"

    def __init__(self, conn: asyncpg.Connection):
        self._conn = conn

    async def execute(self, sql: Statement, params: Sequence | Mapping = ()) -> int:
        text, args = _prepared(sql, params)
        with _integrity():
            return _changed(await self._conn.execute(text, *args))

    async def execute_many(self, sql: Statement, rows: Iterable[Sequence]) -> None:
        rows = list(rows)
        if rows:
            text, _ = _prepared(sql, ())
            with _integrity():
                await self._conn.executemany(text, rows)

    async def fetch_all(self, sql: Statement, params: Sequence | Mapping = ()) -> list[Row]:
        text, args = _prepared(sql, params)
        with _integrity():
            return await self._conn.fetch(text, *args)

    async def fetch_one(self, sql: Statement, params: Sequence | Mapping = ()) -> Row | None:
        text, args = _prepared(sql, params)
        with _integrity():
            return await self._conn.fetchrow(text, *args)


# What a database that cannot be reached (down, restarting, the network cut) raises.
_UNREACHABLE = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up
)


class _integrity:
    """Turns PostgreSQL's integrity violations into the store's IntegrityError, and a database out of
    reach into StoreUnreachable (callers keep what they hold and try again later)."""

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if isinstance(error, asyncpg.IntegrityConstraintViolationError):
            raise IntegrityError(str(error)) from error
        if isinstance(error, _UNREACHABLE):
            raise StoreUnreachable(f"the PostgreSQL store cannot be reached: {error}") from error
        return False


class PostgresDatabase:
    """A pool of connections to one PostgreSQL database, with store/db.py's Database interface."""

    dialect = "postgresql"

    def __init__(self, pool: asyncpg.Pool, key_directory: Path, url: str):
        # The node's data directory: PIN keys are never in the database.
        self.key_directory = key_directory
        self.node = uuid.uuid4().hex  # this process, in its notifications
        self._pool = pool
        self._url = url
        self._listening: asyncpg.Connection | None = None
        self._relisten: asyncio.Task | None = None
        self._commit_listeners: list = []

    async def listen(self) -> None:
        """LISTEN on a connection of this node's own; when it is lost, connect again in the background
        (meanwhile the workers' idle poll finds other nodes' work)."""
        conn = await asyncpg.connect(self._url)
        await conn.add_listener(CHANNEL, self._heard)
        conn.add_termination_listener(self._lost)
        self._listening = conn

    def _lost(self, conn) -> None:
        if self._relisten is None or self._relisten.done():
            logger.warning("the PostgreSQL LISTEN connection was lost; connecting again")
            self._relisten = asyncio.get_running_loop().create_task(self._listen_again())

    async def _listen_again(self) -> None:
        delay = 0.5
        while True:
            await asyncio.sleep(delay)
            try:
                await self.listen()
            except (*_UNREACHABLE, asyncpg.PostgresError) as exc:
                delay = min(delay * 2, 30.0)
                logger.debug("LISTEN connection not back yet: %s", exc)
                continue
            logger.info("listening for other nodes' commits again")
            self._committed()  # what they committed meanwhile was not heard
            return

    def _heard(self, conn, pid: int, channel: str, payload: str) -> None:
        if payload != self.node:  # this node's own commits were told already
            self._committed()

    @asynccontextmanager
    async def _connected(self, transaction: bool = False) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection (in a transaction, committed when the block ends), any failure to
        reach the database raised as StoreUnreachable."""
        with _integrity():
            async with self._pool.acquire() as conn:
                if not transaction:
                    yield conn
                    return
                async with conn.transaction():
                    yield conn

    def on_commit(self, listener) -> None:
        """Call `listener()` after every commit of this process."""
        self._commit_listeners.append(listener)

    async def fetch_all(self, sql: Statement, params: Sequence = ()) -> list[Row]:
        async with self._connected() as conn:
            return await _Statements(conn).fetch_all(sql, params)

    async def fetch_one(self, sql: Statement, params: Sequence = ()) -> Row | None:
        async with self._connected() as conn:
            return await _Statements(conn).fetch_one(sql, params)

    scan = fetch_all  # the server does the scanning: nothing here stalls the event loop

    async def remembered(
        self, key: Hashable, read: Callable[[], Awaitable[tuple[T, float]]], cutoff: float = 0
    ) -> T:
        """The result of `read()`, read every time (other nodes change the data unannounced)."""
        result, _ = await read()
        return result

    @asynccontextmanager
    async def transaction(self, serialized: bool = True) -> AsyncIterator[_Statements]:
        """A write transaction: committed when the block ends, rolled back if it raises. Serialized
        with every other one of every node, unless `serialized` is False: for transactions whose
        every statement is safe beside others (the job queue's: row locks, SKIP LOCKED, and
        conditions each UPDATE checks again on the row it changes)."""
        async with self._connected(transaction=True) as conn:
            if serialized:
                await conn.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK)
            yield _Statements(conn)
            await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, self.node)
        self._committed()

    async def write(self, work: Callable[[_Statements], Awaitable[T]]) -> T:
        """Run `work(tx)` in a transaction of its own; return its result once committed (durable)."""
        async with self.transaction() as tx:
            return await work(tx)

    def _committed(self) -> None:
        for listener in self._commit_listeners:
            listener()

    async def put_audio(self, file: str, path: Path) -> None:
        """Store the local file `path` as the audio `file`, part by part, in one transaction."""
        digest, size = hashlib.sha256(), 0
        async with self._connected(transaction=True) as conn:
            await conn.execute(
                "INSERT INTO audio_files (file, bytes, sha256, written) VALUES ($1, 0, '', $2)",
                file,
                time.time(),
            )
            with open(path, "rb") as source:  # noqa: ASYNC230 - local disk, a part at a time
                part = 0
                while chunk := await asyncio.to_thread(source.read, AUDIO_PART):
                    await conn.execute(
                        "INSERT INTO audio_parts (file, part, data) VALUES ($1, $2, $3)",
                        file,
                        part,
                        chunk,
                    )
                    digest.update(chunk)
                    size += len(chunk)
                    part += 1
            await conn.execute(
                "UPDATE audio_files SET bytes = $2, sha256 = $3 WHERE file = $1",
                file,
                size,
                digest.hexdigest(),
            )

    async def get_audio(self, file: str, path: Path) -> bool:
        """Write the stored audio `file` to the local `path`, part by part; False when there is none."""
        async with self._connected(transaction=True) as conn:
            if await conn.fetchval("SELECT 1 FROM audio_files WHERE file = $1", file) is None:
                return False
            with open(path, "wb") as out:  # noqa: ASYNC230 - local disk, a part at a time
                parts = conn.cursor(
                    "SELECT data FROM audio_parts WHERE file = $1 ORDER BY part", file, prefetch=4
                )
                async for (chunk,) in parts:
                    out.write(chunk)
        return True

    async def copy_audio(self, file: str, copy: str) -> None:
        """A new stored audio `copy` with the parts of `file`, copied by the server."""
        async with self._connected(transaction=True) as conn:
            await conn.execute(
                "INSERT INTO audio_files (file, bytes, sha256, written)"
                " SELECT $2, bytes, sha256, $3 FROM audio_files WHERE file = $1",
                file,
                copy,
                time.time(),
            )
            await conn.execute(
                "INSERT INTO audio_parts (file, part, data)"
                " SELECT $2, part, data FROM audio_parts WHERE file = $1",
                file,
                copy,
            )

    async def forget_audio(self, written_before: float) -> int:
        """Free the stored audio no message or media row names, written before `written_before` (a
        file written since may be a node's whose row is not committed yet); how many files went."""
        async with self._connected() as conn:
            return _changed(
                await conn.execute(
                    "DELETE FROM audio_files a WHERE written < $1"
                    " AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.media_file = a.file)"
                    " AND NOT EXISTS (SELECT 1 FROM media d WHERE d.media_file = a.file)",
                    written_before,
                )
            )

    async def close(self) -> None:
        if self._relisten is not None:
            self._relisten.cancel()
        if self._listening is not None:
            self._listening.remove_termination_listener(self._lost)
            await self._listening.close()
        await self._pool.close()


async def _migrate(conn: asyncpg.Connection) -> None:
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute("CREATE TABLE IF NOT EXISTS vmbox_schema (version INTEGER NOT NULL)")
        version = await conn.fetchval("SELECT version FROM vmbox_schema")
        if version is None:
            await conn.execute("INSERT INTO vmbox_schema VALUES (0)")
            version = 0
        if version > len(MIGRATIONS):
            raise SchemaTooNew(
                f"database schema version {version} is newer than this vmbox ({len(MIGRATIONS)});"
                " upgrade vmbox on this node"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            logger.info("applying PostgreSQL schema migration %d", number)
            await conn.execute(script)
            await conn.execute("UPDATE vmbox_schema SET version = $1", number)


async def open_postgres(
    url: str, key_directory: Path, pool_size: int = POOL_SIZE
) -> PostgresDatabase:
    """Connect to the PostgreSQL database at `url` and bring its schema up to date; secrets kept out
    of the database (the PIN keys, the same file on every node) are in `key_directory`."""
    try:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=pool_size)
    except (OSError, asyncpg.PostgresError) as exc:
        raise StoreUnreachable(
            f"cannot reach the PostgreSQL store at {without_password(url)} ({exc});"
            " check [store] url (VMBOX_STORE_URL) and that the database server is running"
        ) from exc
    try:
        async with pool.acquire() as conn:
            await _migrate(conn)
        database = PostgresDatabase(pool, key_directory, url)
        await database.listen()
    except BaseException:
        await pool.close()
        raise
    return database
