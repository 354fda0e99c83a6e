"""The store as one object: database, media files and the retention rule, opened and closed together."""

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

from store.audio import FFmpeg
from store.db import Database, open_database
from store.ids import now_gregorian
from store.media import MediaFiles

logger = logging.getLogger(__name__)
ORPHAN_AGE_S = 3600  # an unreferenced file this old is no other node's write in progress


@dataclass(frozen=True)
class Store:
    db: Database
    media: MediaFiles
    retention_s: int
    default_timezone: str = "America/Los_Angeles"  # where boxes and their owners name none

    def cutoff(self) -> int:
        """Messages older than this (Gregorian seconds) are past retention: hidden and read-only."""
        return now_gregorian() - self.retention_s


def without_password(url: str) -> str:
    """`url` with its password masked, for messages, logs and `vmbox config`."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:********@", url)


def database_path(url: str | None, data_dir: Path) -> Path | None:
    """The SQLite file `url` names (`sqlite:///<path>`; none: `vmbox.sqlite3` in the data directory),
    or None for a PostgreSQL URL. Raises ValueError for anything else."""
    if not url:
        return data_dir / "vmbox.sqlite3"
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).absolute()
    if url.startswith(("postgresql://", "postgres://")):
        return None
    raise ValueError(
        f"store url {url!r} is neither sqlite:///<path> nor postgresql://user:password@host/database"
    )


async def _open_database(url: str | None, data_dir: Path, pool_size: int) -> Database:
    path = database_path(url, data_dir)
    if path is not None:
        return await open_database(path)
    from store.postgres import open_postgres  # asyncpg is loaded only by a store that uses it

    data_dir.mkdir(parents=True, exist_ok=True)
    return await open_postgres(url, data_dir, pool_size)


async def open_store(
    data_dir: Path,
    retention_days: int,
    ffmpeg: FFmpeg | None = None,
    default_timezone: str = "America/Los_Angeles",
    url: str | None = None,
    pool_size: int = 10,
) -> Store:
    """Open the store under `data_dir` (database `vmbox.sqlite3` unless `url` names another SQLite
    file or a PostgreSQL database; audio under `media/`); messages are kept `retention_days` days and
    an hour.

    Media files that no message or media row refers to (a crash between writing a file and committing
    its row) are removed.
    """
    data_dir = (
        data_dir.absolute()
    )  # file names go to Asterisk, which would resolve relative ones elsewhere
    media = MediaFiles(data_dir, ffmpeg or FFmpeg())
    media.prepare()
    db = await _open_database(url, data_dir, pool_size)
    if db.dialect == "postgresql":
        media.shared = db  # the audio is kept in the database too: nodes share no filesystem
    # KAZOO keeps messages an hour past their days (kvm_util:retention_seconds).
    store = Store(db, media, retention_days * 86400 + 3600, default_timezone)
    await remove_unreferenced_audio(store)
    return store


async def remove_unreferenced_audio(store: Store) -> int:
    """Remove the audio no message or media row refers to (left by a crash between writing a file and
    committing its row, or by a deletion): files in this node's media directory and, on PostgreSQL,
    in the database. With several nodes, only what has been unreferenced for ORPHAN_AGE_S: another
    node may be between writing a file and committing its row. How many files went from the database."""
    rows = await store.db.scan(
        "SELECT media_file FROM messages WHERE media_file IS NOT NULL"
        " UNION ALL SELECT media_file FROM media WHERE media_file IS NOT NULL"
    )
    if store.media.shared is None:
        store.media.remove_orphans({row[0] for row in rows})
        return 0
    settled = time.time() - ORPHAN_AGE_S
    store.media.remove_orphans({row[0] for row in rows}, settled)
    return await store.db.forget_audio(settled)
