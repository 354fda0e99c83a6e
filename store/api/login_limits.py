"""Failed logins per client address: past `limit` failures within `window_s` seconds, an address
must wait before it may try again (429 with Retry-After), whichever boxes or keys it guessed at.

This stands beside the per-box lockout (store/lockout.py): the lockout stops guessing one box's PIN
from many addresses; this stops one address guessing across many boxes (each below its lockout).
Kept in memory: a restart forgets it, which costs a guesser nothing it could not get by waiting a
minute. Times are the caller's, so tests pass them and never wait on a clock.
"""

import math
from collections import deque


class FailedLogins:
    """Recent failed logins by address, at most `max_addresses` addresses remembered."""

    def __init__(self, limit: int = 10, window_s: float = 60, max_addresses: int = 100_000):
        self.limit = limit
        self.window_s = window_s
        self._max_addresses = max_addresses
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, address: str, now: float) -> int | None:
        """Seconds `address` must wait before its next login is looked at, or None when it may try."""
        failures = self._recent(address, now)
        if failures is None or len(failures) < self.limit:
            return None
        # Allowed again once enough of them are older than the window to bring the count under the limit.
        return max(1, math.ceil(failures[-self.limit] + self.window_s - now))

    def failed(self, address: str, now: float) -> None:
        """Count a failed login from `address` at `now`."""
        failures = self._recent(address, now)
        if failures is None:
            if len(self._failures) >= self._max_addresses:
                self._forget_quiet(now)
            failures = self._failures[address] = deque()
        failures.append(now)

    def _recent(self, address: str, now: float) -> deque[float] | None:
        failures = self._failures.get(address)
        if failures is None:
            return None
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return None
        return failures

    def _forget_quiet(self, now: float) -> None:
        """Make room: drop the addresses without a recent failure, or all of them if every one has
        (a flood of addresses must not grow memory without bound)."""
        for address in list(self._failures):
            self._recent(address, now)
        if len(self._failures) >= self._max_addresses:
            self._failures.clear()
