"""`vmbox migrate --to postgresql://…`: this node's embedded store copied into PostgreSQL (store/migration.py),
with progress, then verified. Run it again to resume one that stopped."""

import sys
import tempfile
from pathlib import Path

from ivr.config import Settings
from ivr.serve import open_settings_store
from store.core import database_path, open_store, without_password
from store.migration import migrate


def add_parser(commands) -> None:
    command = commands.add_parser(
        "migrate",
        help="copy this embedded store (rows and audio) into PostgreSQL, resumably, and verify it",
        description="Copies the SQLite store of [store] data_dir, rows and audio, into the PostgreSQL"
        " database --to names (its schema is created), then verifies the copy: row counts, each"
        " box's folder counts, every audio file's SHA-256. Stop vmbox serve first: a row changed"
        " after it was copied is not copied again. Stopped midway, a migration resumes where it was"
        " when run again. Then set [store] url.",
    )
    command.add_argument(
        "--to", required=True, metavar="URL", help="postgresql://user:password@host:port/database"
    )


class Bar:
    """Progress on stderr: one line redrawn on a terminal, a line per quarter elsewhere (logs)."""

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.shown: dict[str, int] = {}

    def __call__(self, what: str, done: int, total: int) -> None:
        share = 1.0 if total == 0 else done / total
        line = f"{what:<14} [{'#' * int(share * 30):<30}] {done}/{total}"
        if self.stream.isatty():
            end = "\n" if done >= total else ""
            print(f"\r{line}", end=end, file=self.stream, flush=True)
        elif done >= total or int(share * 4) != self.shown.get(what, -1):
            print(line, file=self.stream, flush=True)
        self.shown[what] = int(share * 4)


async def run(settings: Settings, args) -> int:
    if database_path(args.to, settings.data_dir) is not None:
        print("vmbox migrate: --to must be a postgresql:// URL", file=sys.stderr)
        return 2
    if database_path(settings.store.url, settings.data_dir) is None:
        print(
            "vmbox migrate: this vmbox's store is PostgreSQL already ([store] url); migrate copies"
            " an embedded (SQLite) store",
            file=sys.stderr,
        )
        return 2
    source = await open_settings_store(settings)
    try:
        # The target's own data directory is a scratch one: this node's media directory must not be
        # swept against a database that does not name its files yet.
        with tempfile.TemporaryDirectory(prefix="vmbox-migrate-") as scratch:
            target = await open_store(Path(scratch), settings.store.retention_days, url=args.to)
            try:
                report = await migrate(source, target, Bar())
            finally:
                await target.db.close()
    finally:
        await source.db.close()
    copied = sum(report.rows.values())
    print(f"copied now: {copied} rows, {report.audio_files} audio files")
    if not report.verified:
        print("vmbox migrate: the copy differs:", *report.problems, sep="\n  ", file=sys.stderr)
        return 1
    print(
        f"verified: {without_password(args.to)} holds every row and audio file of {settings.data_dir}."
        f"\nNext: set [store] url (VMBOX_STORE_URL) to it on every node, copy {settings.data_dir}"
        "/pin.key into each node's data directory, and start vmbox serve."
    )
    return 0
