"""`vmbox migrate`: an embedded store (SQLite and audio files) copied into PostgreSQL.

Audio is copied first, file by file (so every row's audio is there before the row, as when vmbox
writes), then rows, table by table, parents first, in batches. Every copy is idempotent (a row or file already there is left alone), so a migration that stopped (a crash, Ctrl-C,
the network) is resumed by running it again. Then it is verified: every table holds at least the rows
of the source, each box's folder counts are what its messages make, and every audio file's SHA-256 is
the source file's.

Counts: boxes are copied with their counters at zero; the target's triggers count each message as it
arrives, so a resumed copy never counts one twice.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from store.core import Store

BATCH = 500
# Parents before children; what a migration carries. mwi_pending is left out: a node refreshes every
# lamp when it connects to Asterisk.
TABLES = (
    ("accounts", "id"),
    ("api_keys", "key_hash"),
    ("vmboxes", "id"),
    ("auth_tokens", "token_hash"),
    ("users", "id"),
    (
        "user_phones",
        None,
    ),  # None: no key of its own; copied in one transaction, into an empty table
    ("media", "id"),
    ("messages", "id"),
    ("login_failures", None),
    ("box_lockouts", "box_id"),
    ("jobs", "id"),
    ("job_attempts", None),
)
Progress = Callable[[str, int, int], None]  # (what, done, total)


@dataclass
class Report:
    rows: dict[str, int] = field(default_factory=dict)  # copied now, per table
    audio_files: int = 0  # copied now
    problems: list[str] = field(default_factory=list)  # what verification found

    @property
    def verified(self) -> bool:
        return not self.problems


async def migrate(source: Store, target: Store, progress: Progress) -> Report:
    """Copy `source` (SQLite) into `target` (PostgreSQL), then verify; resumable."""
    report = Report()
    report.audio_files = await _copy_audio(source, target, progress)
    for table, key in TABLES:
        report.rows[table] = await _copy_table(source, target, table, key, progress)
    await _continue_job_ids(target)
    report.problems = await verify(source, target, progress)
    return report


async def _columns(store: Store, table: str) -> list[str]:
    rows = await store.db.scan(f"SELECT * FROM {table} LIMIT 1")
    if rows:
        return list(rows[0].keys())
    return [row[1] for row in await store.db.scan(f"PRAGMA table_info({table})")]


async def _copy_table(source: Store, target: Store, table: str, key: str | None, progress) -> int:
    (total,) = await source.db.fetch_one(f"SELECT count(*) FROM {table}")
    (present,) = await target.db.fetch_one(f"SELECT count(*) FROM {table}")
    if key is None and present:
        progress(table, total, total)  # copied before, in one go
        return 0
    columns = await _columns(source, table)
    values = [
        "0" if table == "vmboxes" and column in ("new_count", "saved_count") else "?"
        for column in columns
    ]
    insert = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(values)})"
        " ON CONFLICT DO NOTHING"
    )
    kept = [index for index, value in enumerate(values) if value == "?"]
    if key is None:  # all in one transaction: a table without a key cannot be resumed row by row
        async with target.db.transaction() as tx:
            rows = await source.db.scan(f"SELECT * FROM {table}")
            await tx.execute_many(insert, ([row[index] for index in kept] for row in rows))
        progress(table, total, total)
        return len(rows)
    copied = done = 0
    after = None
    while rows := await source.db.scan(
        f"SELECT * FROM {table} WHERE ? IS NULL OR {key} > ? ORDER BY {key} LIMIT ?",
        (after, after, BATCH),
    ):
        async with target.db.transaction() as tx:
            for row in rows:
                copied += await tx.execute(insert, [row[index] for index in kept])
        done += len(rows)
        after = rows[-1][key]
        progress(table, done, total)
    if total == 0:
        progress(table, 0, 0)
    return copied


async def _continue_job_ids(target: Store) -> None:
    """New jobs get ids after the copied ones (an identity column does not see explicit ids)."""
    async with target.db.transaction() as tx:
        await tx.execute(
            "SELECT setval(pg_get_serial_sequence('jobs', 'id'),"
            " greatest((SELECT max(id) FROM jobs), 1))"
        )


async def _audio_files(store: Store) -> list[str]:
    rows = await store.db.scan(
        "SELECT media_file FROM messages WHERE media_file IS NOT NULL"
        " UNION SELECT media_file FROM media WHERE media_file IS NOT NULL ORDER BY 1"
    )
    return [row[0] for row in rows]


async def _copy_audio(source: Store, target: Store, progress) -> int:
    files = await _audio_files(source)
    present = {row[0] for row in await target.db.scan("SELECT file FROM audio_files")}
    copied = 0
    for done, file in enumerate(files, start=1):
        path = source.media.path(file)
        if file not in present and path.exists():
            await target.db.put_audio(file, path)
            copied += 1
        progress("audio", done, len(files))
    if not files:
        progress("audio", 0, 0)
    return copied


def _sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as audio:  # noqa: ASYNC230 - a local file, a part at a time
        while part := audio.read(256 * 1024):
            digest.update(part)
    return digest.hexdigest()


async def verify(source: Store, target: Store, progress) -> list[str]:
    """What differs between `source` and its copy `target` (nothing: an empty list)."""
    problems = []
    for table, _ in TABLES:
        (have,) = await source.db.fetch_one(f"SELECT count(*) FROM {table}")
        (copied,) = await target.db.fetch_one(f"SELECT count(*) FROM {table}")
        if copied < have:
            problems.append(f"{table}: {copied} rows of {have}")
    miscounted = await target.db.scan(
        "SELECT v.id FROM vmboxes v WHERE new_count != (SELECT count(*) FROM messages m"
        " WHERE m.box_id = v.id AND m.state = 'active' AND m.folder = 'new')"
        " OR saved_count != (SELECT count(*) FROM messages m"
        " WHERE m.box_id = v.id AND m.state = 'active' AND m.folder = 'saved')"
    )
    problems += [f"box {row[0]}: folder counts differ from its messages" for row in miscounted]
    sums = {row[0]: row[1] for row in await target.db.scan("SELECT file, sha256 FROM audio_files")}
    files = await _audio_files(source)
    for done, file in enumerate(files, start=1):
        path = source.media.path(file)
        if path.exists():
            if sums.get(file) != _sha256(path):
                problems.append(f"audio {file}: {'missing' if file not in sums else 'differs'}")
        progress("checksums", done, len(files))
    return problems
