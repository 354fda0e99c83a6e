"""Accounts' realms, on a real store: given, made from the name, and made up for older accounts."""

import pytest

from store.accounts import account_for_api_key, account_realm, create_account, list_accounts


async def test_a_given_realm_is_kept_lower_cased(store):
    account, key = await create_account(store.db, "Acme", "PBX.Example.COM")
    assert account.realm == "pbx.example.com"
    assert await account_realm(store.db, account.id) == "pbx.example.com"
    assert (await account_for_api_key(store.db, key)).realm == "pbx.example.com"


@pytest.mark.parametrize(
    "name, realm",
    [("Acme", "acme.vmbox"), ("Globex Corp", "globex-corp.vmbox"), ("!!!", "account.vmbox")],
)
async def test_without_a_realm_one_is_made_from_the_name(store, name, realm):
    account, _ = await create_account(store.db, name)
    assert account.realm == realm
    assert [a.realm for a in await list_accounts(store.db)] == [realm]


async def test_an_account_made_before_realms_gets_one_from_its_name(store):
    account, _ = await create_account(store.db, "Old Timer", "kept.example.com")
    async with store.db.transaction() as tx:  # as the migration leaves an older account
        await tx.execute("UPDATE accounts SET realm = NULL WHERE id = ?", (account.id,))
    assert await account_realm(store.db, account.id) == "old-timer.vmbox"


@pytest.mark.parametrize("realm", ["a b", "a..b", "-a.b", "a_b", "", "x" * 64 + ".com"])
async def test_a_realm_that_is_no_domain_name_is_refused(store, realm):
    with pytest.raises(ValueError):
        await create_account(store.db, "Acme", realm)
    assert await list_accounts(store.db) == []


async def test_an_unknown_account_has_no_realm(store):
    assert await account_realm(store.db, "0" * 32) is None
