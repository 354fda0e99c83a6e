"""Message-waiting lamps over ARI (res_ari_mailboxes): vmbox in ARI mode, without AMI, against the fake
ARI server, which records every PUT and DELETE /mailboxes/… it gets. Nothing waits but for the fake's
requests and the store's commits."""

import asyncio

import aiohttp
import pytest

from store.accounts import create_account
from store.core import open_store
from store.messages import create_message
from store.vmboxes import create_vmbox
from tests.callkit import ARI_PASSWORD, settings_for, start

LEAVE = "say tone 3s then press #; press 1"


async def lamps_settled(system, timeout: float = 10) -> None:
    """Wait, on the store's commits, until no lamp is left to send (mwi_pending is empty)."""
    db = system.running.store.db
    committed = asyncio.Event()
    db.on_commit(committed.set)

    async def until_empty():
        while True:
            committed.clear()
            if not await db.fetch_all("SELECT box_id FROM mwi_pending"):
                return
            await committed.wait()

    await asyncio.wait_for(until_empty(), timeout)


async def sent(system, count: int) -> list[tuple]:
    """The lamp requests from the `count`-th on, once they are all in and nothing is left to send."""
    fake = system.fake_ari
    await asyncio.wait_for(fake.wait_lamps(count), 10)
    await lamps_settled(system)
    return fake.lamps


@pytest.fixture
async def system(tmp_path):
    async with await start(settings_for(tmp_path), "ari") as running:
        yield running


async def test_every_lamp_is_refreshed_at_start(tmp_path):
    settings = settings_for(tmp_path)
    store = await open_store(settings.data_dir, 93)
    try:
        account = (await create_account(store.db, "A"))[0].id
        first = await create_vmbox(store.db, account, {"name": "Ann", "mailbox": "1001"})
        await create_vmbox(store.db, account, {"name": "Bob", "mailbox": "1002"})
        for folder in ("new", "new", "saved"):
            await create_message(
                store, account, first.id, {"caller_id_number": "5550100", "folder": folder}
            )
    finally:
        await store.db.close()
    async with await start(settings, "ari") as system:
        lamps = await sent(system, 2)
        assert sorted(lamps) == [("PUT", "1001@vmbox", 2, 1), ("PUT", "1002@vmbox", 0, 0)]
        assert system.fake_ari.mailboxes == {"1001@vmbox": (2, 1), "1002@vmbox": (0, 0)}


async def test_a_deposit_by_an_ari_call_sends_one_update_with_the_new_counts(system):
    await system.api.create_box("3000")  # a new box has no lamp to set yet
    call = await system.call(LEAVE, leave="3000")
    assert call.ok, call.errors
    assert await sent(system, 1) == [("PUT", "3000@vmbox", 1, 0)]


async def deposit(system, box: dict) -> None:
    """A message put straight in the store (as the REST API or a call would)."""
    await create_message(
        system.running.store, system.running.account_id, box["id"], {"caller_id_number": "5550100"}
    )


async def test_a_deleted_box_has_its_lamp_deleted(system):
    box = await system.api.create_box("3000")
    await deposit(system, box)
    assert await sent(system, 1) == [("PUT", "3000@vmbox", 1, 0)]
    assert (await system.api.delete(f"/vmboxes/{box['id']}")).status == 200
    assert (await sent(system, 2))[1:] == [("DELETE", "3000@vmbox")]
    assert system.fake_ari.mailboxes == {}


async def test_deleting_a_lamp_asterisk_does_not_know_is_done(system):
    box = await system.api.create_box("3000")  # never set: Asterisk answers the DELETE with 404
    assert (await system.api.delete(f"/vmboxes/{box['id']}")).status == 200
    assert await sent(system, 1) == [("DELETE", "3000@vmbox")]  # and yet nothing is left to send


async def test_every_lamp_is_refreshed_when_the_websocket_comes_back(system):
    first = await system.api.create_box("3000")
    await system.api.create_box("3001")
    await deposit(system, first)
    await sent(system, 1)
    await system.fake_ari.drop_events()  # Asterisk restarted: it may have lost its lamps
    await asyncio.wait_for(system.fake_ari.wait_connected(2), 10)
    again = (await sent(system, 3))[1:]
    assert sorted(again) == [("PUT", "3000@vmbox", 1, 0), ("PUT", "3001@vmbox", 0, 0)]


@pytest.mark.parametrize(
    "query",
    [
        "newMessages=1",
        "oldMessages=0",
        "newMessages=-1&oldMessages=0",
        "newMessages=x&oldMessages=0",
    ],
)
async def test_the_fake_refuses_a_lamp_without_both_counts(system, query):
    url = f"{system.settings.ari.url}/ari/mailboxes/3000%40vmbox?{query}"
    auth = {"Authorization": aiohttp.encode_basic_auth("vmbox", ARI_PASSWORD)}
    async with aiohttp.ClientSession() as http:
        async with http.put(url, headers=auth) as reply:
            assert reply.status == 400
    assert len(system.fake_ari.errors) == 1 and system.fake_ari.lamps == []
    system.fake_ari.errors.clear()  # the fixture's teardown checks nothing else went unexpected
