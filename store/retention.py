"""Retention sweeps: messages past retention are hidden for good, and audio no one can reach is freed."""

from store.core import Store


async def expire_messages(store: Store) -> int:
    """Mark messages past retention as expired (they already are hidden; this keeps counting cheap)."""
    async with store.db.transaction() as tx:
        return await tx.execute(
            "UPDATE messages SET state = 'expired' WHERE state = 'active' AND timestamp < ?",
            (store.cutoff(),),
        )


async def purge_messages(store: Store) -> int:
    """Free the disk space of messages no one can reach any more; how many audio files went.

    Messages deleted through the API go for good, row and audio: an unknown id answers the same as a
    deleted one. Messages past retention keep their row, so asking for one still answers
    `prior_to_retention_duration`, but lose their audio (and its encodings). The files are removed after the commit; a
    crash in between leaves orphans, which the next start removes.
    """
    async with store.db.transaction() as tx:
        rows = await tx.fetch_all(
            "SELECT media_file FROM messages WHERE state != 'active' AND media_file IS NOT NULL"
        )
        await tx.execute("DELETE FROM messages WHERE state = 'removed'")
        await tx.execute(
            "UPDATE messages SET media_file = NULL WHERE state = 'expired' AND media_file IS NOT NULL"
        )
    store.media.discard(row["media_file"] for row in rows)
    return len(rows)
