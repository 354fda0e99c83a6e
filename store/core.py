"""The store as one object: database, media files and the retention rule, opened and closed together."""

import logging
from dataclasses import dataclass
from pathlib import Path

from store.audio import FFmpeg
from store.db import Database, open_database
from store.ids import now_gregorian
from store.media import MediaFiles

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Store:
    db: Database
    media: MediaFiles
    retention_s: int
    default_timezone: str = "America/Los_Angeles"  # where boxes and their owners name none

    def cutoff(self) -> int:
        """Messages older than this (Gregorian seconds) are past retention: hidden and read-only."""
        return now_gregorian() - self.retention_s


async def open_store(
    data_dir: Path,
    retention_days: int,
    ffmpeg: FFmpeg | None = None,
    default_timezone: str = "America/Los_Angeles",
) -> Store:
    """Open the store under `data_dir` (database `vmbox.sqlite3`, audio under `media/`); messages are
    kept `retention_days` days and an hour.

    Media files that no message or media row refers to (a crash between writing a file and committing
    its row) are removed.
    """
    data_dir = (
        data_dir.absolute()
    )  # file names go to Asterisk, which would resolve relative ones elsewhere
    media = MediaFiles(data_dir, ffmpeg or FFmpeg())
    media.prepare()
    db = await open_database(data_dir / "vmbox.sqlite3")
    rows = await db.scan(
        "SELECT media_file FROM messages WHERE media_file IS NOT NULL"
        " UNION ALL SELECT media_file FROM media WHERE media_file IS NOT NULL"
    )
    media.remove_orphans({row[0] for row in rows})
    # KAZOO keeps messages an hour past their days (kvm_util:retention_seconds).
    return Store(db, media, retention_days * 86400 + 3600, default_timezone)
