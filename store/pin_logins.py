"""Logging in to a box with its PIN: the one check the phone and the web page share, so both count
failures towards the same lockout (store/lockout.py).

Rules:
- A locked box refuses every PIN, the right one too, until its lock ends.
- A wrong PIN is a failure of the box; the failure that reaches the threshold locks it.
- The right PIN forgets the box's failures.
"""

from dataclasses import dataclass

from store import lockout
from store.db import Database
from store.vmboxes import check_pin


@dataclass(frozen=True)
class LockoutPolicy:
    """`failures` wrong PINs within `window_s` seconds lock a box for `lock_s` seconds."""

    failures: int = lockout.DEFAULT_THRESHOLD
    window_s: int = lockout.DEFAULT_WINDOW_S
    lock_s: int = lockout.DEFAULT_LOCK_S


@dataclass(frozen=True)
class PinLogin:
    accepted: bool
    locked_until: int | None = (
        None  # Unix seconds, when the box is locked (after this try or before)
    )
    locked_now: bool = False  # this wrong PIN is the one that locked it


async def log_in_with_pin(
    db: Database, box_id: str, pin: str, now: int, policy: LockoutPolicy
) -> PinLogin:
    """Check `pin` against box `box_id` at `now` (Unix seconds) under the lockout `policy`. Raises
    PinKeyError when the PIN key file cannot be used."""
    until = await lockout.locked_until(db, box_id, now)
    if until is not None:
        return PinLogin(False, until)
    if await check_pin(db, box_id, pin):
        await lockout.clear_failures(db, box_id)
        return PinLogin(True)
    locked = await lockout.record_failure(
        db, box_id, now, policy.window_s, policy.failures, policy.lock_s
    )
    return PinLogin(False, now + policy.lock_s if locked else None, locked)
