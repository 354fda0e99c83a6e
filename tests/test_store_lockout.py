"""PIN lockout across calls: failures recorded per box, a lock after `threshold` failures within a window,
its expiry, and its reset on a successful login.

Store level: a real store in tmp_path. Every time is an explicit Unix second: no clock, no waiting.
"""

import pytest

from store.lockout import (
    DEFAULT_LOCK_S,
    DEFAULT_THRESHOLD,
    DEFAULT_WINDOW_S,
    clear_failures,
    is_locked,
    record_failure,
)
from store.vmboxes import create_vmbox, delete_vmbox

T0 = 1_700_000_000
POLICY = {"window_s": 900, "threshold": 10, "lock_s": 900}


async def new_box(store, account: str, mailbox: str = "3000") -> str:
    return (
        await create_vmbox(
            store.db, account, {"name": f"Box {mailbox}", "mailbox": mailbox, "pin": "1234"}
        )
    ).id


@pytest.fixture
async def box(store, account) -> str:
    return await new_box(store, account)


async def fail(store, box_id: str, times: list[int], **policy) -> list[bool]:
    """record_failure at each time; what each call returned."""
    return [await record_failure(store.db, box_id, at, **{**POLICY, **policy}) for at in times]


async def failure_rows(store) -> int:
    return (await store.db.fetch_one("SELECT count(*) FROM login_failures"))[0]


async def test_the_defaults_are_ten_failures_in_fifteen_minutes_for_fifteen_minutes():
    assert (DEFAULT_THRESHOLD, DEFAULT_WINDOW_S, DEFAULT_LOCK_S) == (10, 900, 900)


async def test_a_box_that_never_failed_is_not_locked(store, box):
    assert not await is_locked(store.db, box, T0)


async def test_the_tenth_failure_within_the_window_locks_the_box(store, box):
    results = await fail(store, box, [T0 + 10 * n for n in range(10)])
    assert results == [False] * 9 + [True]
    assert await is_locked(store.db, box, T0 + 90)


async def test_nine_failures_do_not_lock(store, box):
    assert await fail(store, box, [T0 + n for n in range(9)]) == [False] * 9
    assert not await is_locked(store.db, box, T0 + 9)


async def test_failures_older_than_the_window_do_not_count(store, box):
    # Ten failures 100 s apart span exactly 900 s: at the tenth, the first has left the window.
    times = [T0 + 100 * n for n in range(10)]
    assert await fail(store, box, times) == [False] * 10
    assert not await is_locked(store.db, box, times[-1])
    # One more, and the last ten (T0+100 .. T0+950) are within 900 s.
    assert await fail(store, box, [T0 + 950]) == [True]


async def test_the_lock_lasts_lock_s_and_then_ends_by_itself(store, box):
    lock_at = T0 + 9
    await fail(store, box, [T0 + n for n in range(10)])
    assert await is_locked(store.db, box, lock_at)
    assert await is_locked(store.db, box, lock_at + 899)
    assert not await is_locked(store.db, box, lock_at + 900)
    assert not await is_locked(store.db, box, lock_at + 100_000)


async def test_a_lock_forgets_the_failures_behind_it(store, box):
    await fail(store, box, [T0 + n for n in range(10)])
    assert await failure_rows(store) == 0
    after = T0 + 9 + 900
    assert await fail(store, box, [after]) == [False]
    assert not await is_locked(store.db, box, after)
    assert await fail(store, box, [after + n for n in range(1, 10)]) == [False] * 8 + [True]
    assert await is_locked(store.db, box, after + 9)


async def test_a_successful_login_clears_the_failures(store, box):
    await fail(store, box, [T0 + n for n in range(9)])
    await clear_failures(store.db, box)
    assert await fail(store, box, [T0 + 20 + n for n in range(9)]) == [False] * 9
    assert not await is_locked(store.db, box, T0 + 30)
    assert await fail(store, box, [T0 + 30]) == [True]


async def test_clearing_failures_does_not_lift_a_running_lock(store, box):
    await fail(store, box, [T0 + n for n in range(10)])
    await clear_failures(store.db, box)
    assert await is_locked(store.db, box, T0 + 10)


async def test_the_policy_comes_from_the_caller(store, box):
    assert await fail(store, box, [T0, T0 + 1, T0 + 2], threshold=3, window_s=60, lock_s=30) == [
        False,
        False,
        True,
    ]
    assert await is_locked(store.db, box, T0 + 31)
    assert not await is_locked(store.db, box, T0 + 32)


async def test_a_threshold_of_one_locks_on_the_first_failure(store, box):
    assert await fail(store, box, [T0], threshold=1) == [True]
    assert await is_locked(store.db, box, T0)


async def test_boxes_are_counted_and_locked_separately(store, account, box):
    other = await new_box(store, account, "3001")
    for n in range(9):
        await fail(store, box, [T0 + n])
        await fail(store, other, [T0 + n])
    assert await fail(store, box, [T0 + 9]) == [True]
    assert await is_locked(store.db, box, T0 + 9)
    assert not await is_locked(store.db, other, T0 + 9)


async def test_failures_to_an_unknown_box_are_not_recorded(store):
    unknown = "0123456789abcdef0123456789abcdef"
    assert await fail(store, unknown, [T0 + n for n in range(10)]) == [False] * 10
    assert await failure_rows(store) == 0
    assert not await is_locked(store.db, unknown, T0 + 9)


async def test_deleting_a_box_removes_its_failures_and_lock(store, account, box):
    other = await new_box(store, account, "3001")
    await fail(store, box, [T0 + n for n in range(10)])
    await fail(store, box, [T0 + 20, T0 + 21])
    await fail(store, other, [T0])
    await delete_vmbox(store, account, box)
    assert await store.db.fetch_all("SELECT box_id FROM box_lockouts") == []
    rows = await store.db.fetch_all("SELECT box_id FROM login_failures")
    assert [row[0] for row in rows] == [other]
