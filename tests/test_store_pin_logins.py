"""The PIN login the phone and the web page share (store/pin_logins.py): accepted, refused and counted,
locked at the threshold, refusing even the right PIN while locked, and open again after. Explicit
Unix times: no clock, no waiting."""

import pytest

from store.pin_logins import LockoutPolicy, PinLogin, log_in_with_pin
from store.vmboxes import create_vmbox

T0 = 1_700_000_000
POLICY = LockoutPolicy(failures=3, window_s=900, lock_s=600)


@pytest.fixture
async def box(store, account) -> str:
    document = {"name": "Ann", "mailbox": "3000", "pin": "1234"}
    return (await create_vmbox(store.db, account, document)).id


async def test_the_right_pin_is_accepted(store, box):
    assert await log_in_with_pin(store.db, box, "1234", T0, POLICY) == PinLogin(True)


async def test_the_failure_at_the_threshold_locks_the_box_until_the_lock_ends(store, box):
    attempts = [await log_in_with_pin(store.db, box, "0000", T0 + n, POLICY) for n in range(3)]
    assert attempts == [PinLogin(False), PinLogin(False), PinLogin(False, T0 + 2 + 600, True)]
    assert await log_in_with_pin(store.db, box, "1234", T0 + 3, POLICY) == PinLogin(False, T0 + 602)
    assert await log_in_with_pin(store.db, box, "1234", T0 + 602, POLICY) == PinLogin(True)


async def test_failures_older_than_the_window_do_not_count(store, box):
    for at in (T0, T0 + 1):
        await log_in_with_pin(store.db, box, "0000", at, POLICY)
    assert await log_in_with_pin(store.db, box, "0000", T0 + 901, POLICY) == PinLogin(False)
