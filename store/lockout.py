"""PIN guessing across calls: a box locks after too many failed logins within a sliding window.

Rules:
- Every failed login to a box is recorded with its time. When `threshold` failures fall within the last
  `window_s` seconds, the box is locked until `now + lock_s` and its failures are forgotten: once the lock
  ends, locking it again takes `threshold` fresh failures, and the failures behind one lock never count
  towards the next.
- A successful login forgets the box's failures; it does not lift a running lock (while locked, the IVR
  accepts no PIN at all, so such a login can only be an owner's that needs none).
- Times are Unix seconds chosen by the caller, so tests pass explicit times and never wait on a clock.
- Failures and locks go with their box (ON DELETE CASCADE); failures to a box that does not exist are
  not recorded.
"""

import logging

from store.db import Database

logger = logging.getLogger(__name__)

# The defaults callers (the IVR's configuration) use: 10 failures within 15 minutes lock a box for 15 minutes.
DEFAULT_WINDOW_S = 900
DEFAULT_THRESHOLD = 10
DEFAULT_LOCK_S = 900


async def record_failure(
    db: Database, box_id: str, now: int, window_s: int, threshold: int, lock_s: int
) -> bool:
    """Record a failed login to `box_id` at `now`; True when this failure locks the box (it is the
    `threshold`-th within the last `window_s` seconds). False, recording nothing, for an unknown box."""
    async with db.transaction() as tx:
        added = await tx.execute(
            "INSERT INTO login_failures (box_id, at) SELECT ?, ? WHERE EXISTS (SELECT 1 FROM vmboxes WHERE id = ?)",
            (box_id, now, box_id),
        )
        if not added:
            return False
        await tx.execute(
            "DELETE FROM login_failures WHERE box_id = ? AND at <= ?", (box_id, now - window_s)
        )
        (count,) = await tx.fetch_one(
            "SELECT count(*) FROM login_failures WHERE box_id = ?", (box_id,)
        )
        if count < threshold:
            return False
        await tx.execute(
            "INSERT INTO box_lockouts (box_id, locked_until) VALUES (?, ?)"
            " ON CONFLICT (box_id) DO UPDATE SET locked_until = CASE"
            " WHEN excluded.locked_until > box_lockouts.locked_until THEN excluded.locked_until"
            " ELSE box_lockouts.locked_until END",
            (box_id, now + lock_s),
        )
        await tx.execute("DELETE FROM login_failures WHERE box_id = ?", (box_id,))
    logger.warning(
        "box %s locked until %d after %d failed logins within %d s",
        box_id,
        now + lock_s,
        count,
        window_s,
    )
    return True


async def is_locked(db: Database, box_id: str, now: int) -> bool:
    """True while a lock of `box_id` runs at `now`."""
    return await locked_until(db, box_id, now) is not None


async def locked_until(db: Database, box_id: str, now: int) -> int | None:
    """When the lock of `box_id` running at `now` ends (Unix seconds), or None when none runs."""
    row = await db.fetch_one(
        "SELECT locked_until FROM box_lockouts WHERE box_id = ? AND locked_until > ?", (box_id, now)
    )
    return row[0] if row else None


async def clear_failures(db: Database, box_id: str) -> None:
    """Forget the failed logins of `box_id` (after a successful login); a running lock stays.
    Most logins follow no failure: they are answered by one indexed read, with no write at all."""
    if not await db.fetch_one("SELECT 1 FROM login_failures WHERE box_id = ? LIMIT 1", (box_id,)):
        return
    async with db.transaction() as tx:
        await tx.execute("DELETE FROM login_failures WHERE box_id = ?", (box_id,))
