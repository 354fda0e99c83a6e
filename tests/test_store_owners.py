"""Who is calling: `endpoint_of` (channel name -> endpoint) and `owner_ids_for_caller` (the users whose phone
a call comes from), the facts behind check_if_owner.

Store level: a real store in tmp_path, users written through the store's own functions.
"""

import pytest

from store.accounts import create_account
from store.users import (
    create_user,
    delete_user,
    endpoint_of,
    owner_ids_for_caller,
    patch_user,
    replace_user,
)


@pytest.fixture
async def accounts(store) -> tuple[str, str]:
    first, _ = await create_account(store.db, "A")
    second, _ = await create_account(store.db, "B")
    return first.id, second.id


async def user(
    store, account: str, endpoints: list[str] | None = None, numbers: list[str] | None = None
) -> str:
    doc = {"first_name": "Test", "last_name": "User"}
    if endpoints is not None:
        doc["endpoints"] = endpoints
    if numbers is not None:
        doc["caller_id_numbers"] = numbers
    return (await create_user(store.db, account, doc)).id


# --- endpoint_of ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "channel, endpoint",
    [
        ("PJSIP/1001-0000002a", "PJSIP/1001"),
        ("SIP/1001-00000001", "SIP/1001"),
        ("PJSIP/alice-phone-0000002a", "PJSIP/alice-phone"),
        ("IAX2/trunk_1-12345", "IAX2/trunk_1"),
        ("DAHDI/1-1", "DAHDI/1"),
        ("Local/1001@from-internal-00000001;1", "Local/1001@from-internal"),
        ("Local/1001@from-internal-00000001;2", "Local/1001@from-internal"),
        ("PJSIP/1001", "PJSIP/1001"),
        ("", ""),
        ("not a channel", "not a channel"),
    ],
)
def test_endpoint_of_strips_the_channel_suffix(channel, endpoint):
    assert endpoint_of(channel) == endpoint


# --- the rule -------------------------------------------------------------------------------------------


async def test_a_user_with_endpoints_is_matched_by_endpoint_whatever_the_number(store, accounts):
    alice = await user(store, accounts[0], endpoints=["PJSIP/1001"], numbers=["1001"])
    assert await owner_ids_for_caller(store.db, accounts[0], "PJSIP/1001", "") == {alice}
    assert await owner_ids_for_caller(store.db, accounts[0], "PJSIP/1001", "5550100") == {alice}


async def test_endpoint_wins_over_number_a_spoofed_number_is_not_the_owner(store, accounts):
    await user(store, accounts[0], endpoints=["PJSIP/1001"], numbers=["1001"])
    assert await owner_ids_for_caller(store.db, accounts[0], "PJSIP/trunk", "1001") == set()
    assert await owner_ids_for_caller(store.db, accounts[0], "", "1001") == set()


async def test_a_user_without_endpoints_is_matched_by_caller_id_number(store, accounts):
    bob = await user(store, accounts[0], numbers=["+15550100", "1002"])
    assert await owner_ids_for_caller(store.db, accounts[0], "PJSIP/trunk", "1002") == {bob}
    assert await owner_ids_for_caller(store.db, accounts[0], "", "+15550100") == {bob}
    assert await owner_ids_for_caller(store.db, accounts[0], "PJSIP/trunk", "15550100") == set()


async def test_endpoints_compare_exactly_and_case_sensitively(store, accounts):
    await user(store, accounts[0], endpoints=["PJSIP/alice"])
    for endpoint in (
        "pjsip/alice",
        "PJSIP/Alice",
        "PJSIP/alice-00000001",
        "PJSIP/ali",
        "PJSIP/alice2",
    ):
        assert await owner_ids_for_caller(store.db, accounts[0], endpoint, "") == set(), endpoint


async def test_a_channel_name_matches_once_its_suffix_is_stripped(store, accounts):
    alice = await user(store, accounts[0], endpoints=["PJSIP/1001"])
    channel = "PJSIP/1001-0000002a"
    assert await owner_ids_for_caller(store.db, accounts[0], channel, "") == set()
    assert await owner_ids_for_caller(store.db, accounts[0], endpoint_of(channel), "") == {alice}


async def test_every_user_the_call_belongs_to_is_returned(store, accounts):
    by_endpoint = await user(store, accounts[0], endpoints=["PJSIP/1001", "PJSIP/1001b"])
    by_number = await user(store, accounts[0], numbers=["1001"])
    shared_desk = await user(store, accounts[0], endpoints=["PJSIP/1001"])
    await user(store, accounts[0], endpoints=["PJSIP/2002"], numbers=["1001"])
    found = await owner_ids_for_caller(store.db, accounts[0], "PJSIP/1001", "1001")
    assert found == {by_endpoint, by_number, shared_desk}


async def test_an_unknown_caller_owns_nothing(store, accounts):
    await user(store, accounts[0], endpoints=["PJSIP/1001"], numbers=["1001"])
    await user(store, accounts[0], numbers=["1002"])
    assert await owner_ids_for_caller(store.db, accounts[0], "", "") == set()
    assert await owner_ids_for_caller(store.db, accounts[0], "PJSIP/9999", "9999") == set()


async def test_another_accounts_users_never_match(store, accounts):
    mine, theirs = accounts
    await user(store, theirs, endpoints=["PJSIP/1001"])
    await user(store, theirs, numbers=["1002"])
    assert await owner_ids_for_caller(store.db, mine, "PJSIP/1001", "1002") == set()
    alice = await user(store, mine, endpoints=["PJSIP/1001"])
    assert await owner_ids_for_caller(store.db, mine, "PJSIP/1001", "1002") == {alice}


# --- the lookup follows every write ---------------------------------------------------------------------


async def test_a_deleted_user_is_no_longer_an_owner(store, accounts):
    alice = await user(store, accounts[0], endpoints=["PJSIP/1001"])
    bob = await user(store, accounts[0], numbers=["1002"])
    await delete_user(store.db, accounts[0], alice)
    await delete_user(store.db, accounts[0], bob)
    assert await owner_ids_for_caller(store.db, accounts[0], "PJSIP/1001", "1002") == set()
    assert await store.db.fetch_all("SELECT * FROM user_phones") == []


async def test_adding_an_endpoint_stops_the_number_from_matching(store, accounts):
    bob = await user(store, accounts[0], numbers=["1002"])
    await patch_user(store.db, accounts[0], bob, {"endpoints": ["PJSIP/1002"]})
    assert await owner_ids_for_caller(store.db, accounts[0], "PJSIP/trunk", "1002") == set()
    assert await owner_ids_for_caller(store.db, accounts[0], "PJSIP/1002", "") == {bob}


async def test_removing_every_endpoint_lets_the_number_match_again(store, accounts):
    alice = await user(store, accounts[0], endpoints=["PJSIP/1001"], numbers=["1001"])
    await replace_user(
        store.db,
        accounts[0],
        alice,
        {"first_name": "A", "last_name": "B", "endpoints": [], "caller_id_numbers": ["1001"]},
    )
    assert await owner_ids_for_caller(store.db, accounts[0], "PJSIP/trunk", "1001") == {alice}
    assert await owner_ids_for_caller(store.db, accounts[0], "PJSIP/1001", "") == set()


async def test_repeated_phones_are_stored_once(store, accounts):
    alice = await user(
        store, accounts[0], endpoints=["PJSIP/1001", "PJSIP/1001"], numbers=["1001", "1001"]
    )
    rows = await store.db.fetch_all(
        "SELECT kind, value FROM user_phones WHERE user_id = ? ORDER BY kind", (alice,)
    )
    assert [tuple(row) for row in rows] == [("endpoint", "PJSIP/1001"), ("number", "1001")]
