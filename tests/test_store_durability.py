"""Group-committed messages survive `vmbox serve` killed with SIGKILL in the middle of a burst of
creations: after a restart on the same data directory, every message whose 201 the client received is
there with its audio, and nothing half-written is visible (every listed message plays in full, every
stored file belongs to a listed message, the box counts agree with the listing).

The process is killed the moment the client holds the KILL_AFTER-th 201, while the rest of the burst is
still being converted, queued or committed: a reply sent before its commit would name a message that
the restarted server does not have.
"""

import asyncio
import io
import json
import os
import signal
import wave

import aiohttp
import pytest

from tests.conftest import ApiClient, make_tone, media_files
from tests.servekit import Serve

BURST = 48  # concurrent creations
KILL_AFTER = 10  # 201s received before the kill
SECONDS = 0.5  # of audio per message


async def create(client: ApiClient, box_id: str, audio: bytes, n: int, acknowledged) -> dict | None:
    """PUT one message with its audio; call `acknowledged()` the moment a 201 arrives (before its body is
    read); the message's metadata, or None when the connection died first."""
    form = aiohttp.FormData()
    metadata = {"data": {"caller_id_number": f"{6000 + n}"}}
    form.add_field("content", json.dumps(metadata), content_type="application/json")
    form.add_field("content", audio, content_type="audio/wav", filename=f"{n}.wav")
    url = client.url(f"/vmboxes/{box_id}/messages")
    try:
        async with client.session.put(
            url, data=form, headers={"X-Auth-Token": client.token}
        ) as reply:
            assert reply.status == 201, await reply.text()
            acknowledged()
            return (await reply.json())["data"]
    except aiohttp.ClientError:
        return None


async def burst_then_kill(serve: Serve, client: ApiClient, box_id: str, audio: bytes) -> dict:
    """Start BURST creations; SIGKILL the server on the KILL_AFTER-th 201. The acknowledged messages
    by id."""
    acknowledged: dict[str, dict] = {}

    received = 0

    def one_more() -> None:
        nonlocal received
        received += 1
        if received == KILL_AFTER:
            serve.process.send_signal(
                signal.SIGKILL
            )  # at once: no await between the 201 and the kill

    async def one(n: int) -> None:
        created = await create(client, box_id, audio, n, one_more)
        if created is not None:
            acknowledged[created["media_id"]] = created

    await asyncio.gather(*(one(n) for n in range(BURST)))
    assert await serve.stop() == -signal.SIGKILL
    return acknowledged


def frames(wav: bytes) -> int:
    with wave.open(io.BytesIO(wav)) as reader:
        assert (reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) == (8000, 1, 2)
        return reader.getnframes()


@pytest.fixture
async def serve(tmp_path):
    process = Serve(tmp_path / "data", {})
    yield process
    if process.process is not None and process.process.returncode is None:
        await process.stop(signal.SIGKILL)


async def test_every_acknowledged_message_survives_a_kill_in_the_middle_of_a_burst(serve, tmp_path):
    audio = make_tone(tmp_path, SECONDS).read_bytes()
    await serve.start()
    # The server and its ffmpeg conversions yield the CPU to this client, so the kill follows the 201
    # promptly instead of waiting behind the rest of the burst.
    os.setpriority(os.PRIO_PROCESS, serve.process.pid, 10)
    connector = aiohttp.TCPConnector(limit=BURST)
    async with aiohttp.ClientSession(connector=connector) as session:
        client = await serve.api(session)
        box = await client.create_box("3000", media_extension="wav")
        acknowledged = await burst_then_kill(serve, client, box["id"], audio)
    assert KILL_AFTER <= len(acknowledged) < BURST, "the kill must land in the middle of the burst"

    await serve.start()
    async with aiohttp.ClientSession() as session:
        client = await serve.api(session)
        listing = await client.get(f"/vmboxes/{box['id']}/messages?paginate=false")
        listed = {message["media_id"]: message for message in listing.data}
        assert set(acknowledged) <= set(listed)
        for message_id, message in listed.items():
            assert message["length"] == SECONDS * 1000
            raw = await client.get(f"/vmboxes/{box['id']}/messages/{message_id}/raw")
            assert raw.status == 200, raw.body
            assert frames(raw.body) == SECONDS * 8000
        for message_id, created in acknowledged.items():
            assert listed[message_id]["caller_id_number"] == created["caller_id_number"]
        [summary] = (await client.get("/vmboxes")).data
        # No message at all: KAZOO's listing leaves `folders` out.
        assert summary.get("folders", {"new": 0, "saved": 0}) == {"new": len(listed), "saved": 0}
    assert len(media_files(serve.cwd / "data")) == len(listed)
    assert await serve.stop() == 0
