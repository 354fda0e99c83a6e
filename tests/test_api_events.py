"""Live updates: `GET …/vmboxes/{B}/events`, a box's message counts as server-sent events, now and at
every change of its messages (API, phone, job worker), with heartbeats; ended by the box's deletion
and by the server stopping (`vmbox serve` too, without hanging)."""

import asyncio
import json
import signal

import aiohttp
import pytest

from store.api.options import ApiOptions
from store.messages import set_transcription
from tests.callkit import settings_for, start
from tests.conftest import make_tone
from tests.servekit import Serve

READ_GUARD_S = 20  # a stream that stays silent this long is a failure, not a wait


class EventStream:
    """A real HTTP client reading a text/event-stream: `next()` is the next event or comment."""

    def __init__(self, response: aiohttp.ClientResponse):
        self.response = response

    async def next(self) -> tuple[str, object]:
        """("counts", {...}) for an event, ("comment", text), ("retry", ms), or ("end", None)."""
        fields: dict[str, str] = {}
        async with asyncio.timeout(READ_GUARD_S):
            while True:
                line = (await self.response.content.readline()).decode()
                if not line:
                    return "end", None
                line = line.rstrip("\n")
                if line.startswith(":"):
                    return "comment", line[1:].strip()
                if line:
                    name, _, value = line.partition(":")
                    fields[name] = value.strip()
                    continue
                if not fields:  # the blank line ending a comment
                    continue
                if "retry" in fields:
                    return "retry", int(fields["retry"])
                return fields.get("event", "message"), json.loads(fields["data"])

    async def next_counts(self) -> dict:
        kind, value = await self.next()
        assert kind == "counts", (kind, value)
        return value


async def open_events(session, base: str, account_id: str, box_id: str, **headers) -> EventStream:
    url = f"{base}/v2/accounts/{account_id}/vmboxes/{box_id}/events"
    response = await session.get(url, headers=headers)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"] == "text/event-stream"
    stream = EventStream(response)
    assert await stream.next() == ("retry", 3000)
    return stream


@pytest.fixture
async def box(api, tmp_path) -> dict:
    box = await api.client.create_box("3000", pin="1234")
    await api.client.create_message(box["id"], make_tone(tmp_path, 1.0))
    return box


@pytest.fixture
async def events(api, box):
    async with aiohttp.ClientSession() as session:
        stream = await open_events(
            session,
            api.base,
            api.client.account_id,
            box["id"],
            **{"X-Auth-Token": api.client.token},
        )
        yield stream
        stream.response.close()


async def test_the_counts_come_at_once_then_with_every_change(api, box, events, tmp_path):
    assert await events.next_counts() == {"new": 1, "saved": 0, "deleted": 0}
    message = await api.client.create_message(box["id"], make_tone(tmp_path, 1.0))
    assert await events.next_counts() == {"new": 2, "saved": 0, "deleted": 0}
    path = f"/vmboxes/{box['id']}/messages/{message['media_id']}"
    await api.client.post(path, {"data": {"folder": "saved"}})
    assert await events.next_counts() == {"new": 1, "saved": 1, "deleted": 0}
    await api.client.post(path, {"data": {"folder": "deleted"}})
    assert await events.next_counts() == {"new": 1, "saved": 0, "deleted": 1}
    await api.client.delete(path)
    assert await events.next_counts() == {"new": 1, "saved": 0, "deleted": 0}


async def test_a_change_that_leaves_the_counts_alone_is_told_too(api, box, events):
    await events.next_counts()
    [message] = (await api.client.get(f"/vmboxes/{box['id']}/messages")).data
    await set_transcription(
        api.store, api.client.account_id, box["id"], message["media_id"], "success", "hello"
    )
    assert await events.next_counts() == {"new": 1, "saved": 0, "deleted": 0}


async def test_changes_to_other_boxes_are_not_told(api, box, events, tmp_path):
    await events.next_counts()
    other = await api.client.create_box("3001")
    await api.client.create_message(other["id"], make_tone(tmp_path, 1.0))
    await api.client.create_message(box["id"], make_tone(tmp_path, 1.0))
    # The first event after the other box's change is this box's own.
    assert await events.next_counts() == {"new": 2, "saved": 0, "deleted": 0}


@pytest.mark.parametrize("api_options", [ApiOptions(heartbeat_s=0.05)])
async def test_a_quiet_stream_carries_heartbeats(api, box, events, api_options):
    await events.next_counts()
    assert await events.next() == ("comment", "heartbeat")
    assert await events.next() == ("comment", "heartbeat")


async def test_the_stream_ends_when_the_box_is_deleted(api, box, events):
    await events.next_counts()
    await api.client.delete(f"/vmboxes/{box['id']}")
    assert await events.next() == ("end", None)


async def test_a_box_login_watches_its_box_by_cookie_and_no_other(api, box):
    login = await api.client.put(
        "/v2/vmbox_auth",
        {"data": {"mailbox": "3000", "pin": "1234", "account_name": "A"}},
        token="",
    )
    cookie = {"Cookie": f"vmbox_token={login.body['auth_token']}"}
    other = await api.client.create_box("3001")
    async with aiohttp.ClientSession() as session:
        stream = await open_events(session, api.base, api.client.account_id, box["id"], **cookie)
        assert await stream.next_counts() == {"new": 1, "saved": 0, "deleted": 0}
        stream.response.close()
    refused = await api.client.get(f"/vmboxes/{other['id']}/events", token="", headers=cookie)
    assert refused.status == 403


async def test_an_unknown_box_is_not_found(api, box):
    reply = await api.client.get(f"/vmboxes/{'0' * 32}/events")
    assert reply.status == 404 and reply.data["cause"] == "0" * 32


async def test_a_message_left_by_phone_is_told_and_stopping_ends_the_stream(tmp_path):
    started = await start(settings_for(tmp_path))
    system = await started.__aenter__()
    stopped = False
    try:
        box = await system.api.create_box("3000")
        async with aiohttp.ClientSession() as session:
            stream = await open_events(
                session,
                system.api.base,
                system.api.account_id,
                box["id"],
                **{"X-Auth-Token": system.api.token},
            )
            assert await stream.next_counts() == {"new": 0, "saved": 0, "deleted": 0}
            call = await system.call("say tone 2s then press #; press 1", leave="3000")
            assert call.ok, call.errors
            assert await stream.next_counts() == {"new": 1, "saved": 0, "deleted": 0}
            async with asyncio.timeout(10):  # aiohttp would wait 60 s for a handler that never ends
                stopped = True
                await started.__aexit__(None, None, None)
            assert await stream.next() == ("end", None)
    finally:
        if not stopped:
            await started.__aexit__(None, None, None)


async def test_vmbox_serve_stops_at_once_with_a_stream_open(tmp_path):
    serve = await Serve(tmp_path / "data", {}).start()
    try:
        async with aiohttp.ClientSession() as session:
            client = await serve.api(session)
            box = await client.create_box("3000")
            stream = await open_events(
                session,
                serve.api_base,
                client.account_id,
                box["id"],
                **{"X-Auth-Token": client.token},
            )
            assert await stream.next_counts() == {"new": 0, "saved": 0, "deleted": 0}
            async with asyncio.timeout(15):
                assert await serve.stop(signal.SIGTERM) == 0
            assert await stream.next() == ("end", None)
    finally:
        if serve.process.returncode is None:
            await serve.stop(signal.SIGKILL)
