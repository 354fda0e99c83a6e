"""The one place that talks to PostgreSQL (asyncpg), behind the interface of store/db.py's Database.

The store's queries are written once, with `?` placeholders as SQLite takes them; here they are
rewritten to PostgreSQL's `$1, $2, …` (once per statement text, then kept). Where the two dialects
differ in more than placeholders, a module picks its statement by `db.dialect`.

Differences from the SQLite store, and why:
- No group commit of our own: PostgreSQL commits concurrent transactions together itself, and each
  `write()` is a transaction on a pooled connection that returns once it is durable.
- `remembered` reads every time: other nodes change the database without telling this process.
- Integrity violations (a unique key, a foreign key) raise store.db.IntegrityError, as SQLite's do,
  so callers catch one exception whichever database is behind the store.
"""

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

import asyncpg

from store.db import IntegrityError
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

_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?")


@lru_cache(maxsize=1024)
def placeholders(sql: str) -> str:
    """`sql` with each `?` outside quotes numbered as PostgreSQL's `$n`."""
    number = 0

    def renumber(match: re.Match) -> str:
        nonlocal number
        if match.group() != "?":
            return match.group()
        number += 1
        return f"${number}"

    return _TOKENS.sub(renumber, sql)


def _changed(status: str) -> int:
    """Rows a statement changed, from its command tag ("UPDATE 3", "INSERT 0 1", "DELETE 0")."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class _Statements:
    """Statements on one connection (a transaction's, or a pooled one for a single read)."""

    dialect = "postgresql"

    def __init__(self, conn: asyncpg.Connection):
        self._conn = conn

    async def execute(self, sql: Statement, params: Sequence = ()) -> int:
        with _integrity():
            return _changed(
                await self._conn.execute(placeholders(spelled(sql, "postgresql")), *params)
            )

    async def execute_many(self, sql: Statement, rows: Iterable[Sequence]) -> None:
        rows = list(rows)
        if rows:
            with _integrity():
                await self._conn.executemany(placeholders(spelled(sql, "postgresql")), rows)

    async def fetch_all(self, sql: Statement, params: Sequence = ()) -> list[Row]:
        with _integrity():
            return await self._conn.fetch(placeholders(spelled(sql, "postgresql")), *params)

    async def fetch_one(self, sql: Statement, params: Sequence = ()) -> Row | None:
        with _integrity():
            return await self._conn.fetchrow(placeholders(spelled(sql, "postgresql")), *params)


class _integrity:
    """Turns PostgreSQL's integrity violations into the store's IntegrityError."""

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if isinstance(error, asyncpg.IntegrityConstraintViolationError):
            raise IntegrityError(str(error)) from error
        return False


class PostgresDatabase:
    """A pool of connections to one PostgreSQL database, with store/db.py's Database interface."""

    dialect = "postgresql"

    def __init__(self, pool: asyncpg.Pool, key_directory: Path):
        self.key_directory = (
            key_directory  # the node's data directory: PIN keys are never in the database
        )
        self._pool = pool
        self._commit_listeners: list = []

    def on_commit(self, listener) -> None:
        """Call `listener()` after every commit of this process."""
        self._commit_listeners.append(listener)

    async def fetch_all(self, sql: Statement, params: Sequence = ()) -> list[Row]:
        async with self._pool.acquire() as conn:
            return await _Statements(conn).fetch_all(sql, params)

    async def fetch_one(self, sql: Statement, params: Sequence = ()) -> Row | None:
        async with self._pool.acquire() as conn:
            return await _Statements(conn).fetch_one(sql, params)

    scan = fetch_all  # the server does the scanning: nothing here stalls the event loop

    async def remembered(
        self, key: Hashable, read: Callable[[], Awaitable[tuple[T, float]]], cutoff: float = 0
    ) -> T:
        """The result of `read()`, read every time (other nodes change the data unannounced)."""
        result, _ = await read()
        return result

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_Statements]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        async with self._pool.acquire() as conn, conn.transaction():
            yield _Statements(conn)
        self._committed()

    async def write(self, work: Callable[[_Statements], Awaitable[T]]) -> T:
        """Run `work(tx)` in a transaction of its own; return its result once committed (durable)."""
        async with self.transaction() as tx:
            return await work(tx)

    def _committed(self) -> None:
        for listener in self._commit_listeners:
            listener()

    async def close(self) -> None:
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
            raise RuntimeError(
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
        raise ConnectionError(
            f"cannot reach the PostgreSQL store at {safe_url(url)}: {exc}"
        ) from exc
    try:
        async with pool.acquire() as conn:
            await _migrate(conn)
    except BaseException:
        await pool.close()
        raise
    return PostgresDatabase(pool, key_directory)


def safe_url(url: str) -> str:
    """`url` without its password, for messages and logs."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)
