"""Messages the REST API makes are no news: as KAZOO's crossbar does, vmbox queues no new-message
notification (no email, call back or transcription) when a message is created, moved or copied through
the API, or gets its audio with PUT …/raw; only the lamps follow (the store marks them on every change
of a box's counts). A message left by phone, and a forward by phone, are still announced.

A real server and a real store: the job queue and the lamps' table are read straight from SQLite.
"""

import pytest

from store.message_changes import copy_messages
from store.messages import create_message
from tests.conftest import make_tone


async def queued(api) -> list[str]:
    """The kinds of every job ever queued."""
    return [row["kind"] for row in await api.store.db.fetch_all("SELECT kind FROM jobs")]


async def lamp_marks(api, box_id: str) -> int:
    """How many changes of the box's counts wait for its lamp (0: none)."""
    row = await api.store.db.fetch_one(
        "SELECT changes FROM mwi_pending WHERE box_id = ?", (box_id,)
    )
    return row["changes"] if row else 0


@pytest.fixture
async def boxes(api) -> tuple[str, str]:
    transcribing = {"transcribe": True, "notify_email_addresses": ["ann@example.com"]}
    callback = {"notify": {"callback": {"number": "5551234"}}}
    first = await api.client.create_box("3000", **transcribing, **callback)
    second = await api.client.create_box("3001", **transcribing, **callback)
    return first["id"], second["id"]


async def test_a_message_created_with_audio_is_no_news_but_lights_the_lamp(api, boxes, tmp_path):
    box, _ = boxes
    await api.client.create_message(box, audio=make_tone(tmp_path, 1))
    assert await queued(api) == []
    assert await lamp_marks(api, box) == 1


async def test_audio_put_later_is_no_news(api, boxes, tmp_path):
    box, _ = boxes
    message = await api.client.create_message(box)
    assert await lamp_marks(api, box) == 1  # counted, and lit, from its creation
    reply = await api.client.call(
        "PUT",
        f"/vmboxes/{box}/messages/{message['media_id']}/raw",
        data=make_tone(tmp_path, 1).read_bytes(),
        headers={"Content-Type": "audio/wav"},
    )
    assert reply.status == 200, reply.body
    assert await queued(api) == []


@pytest.mark.parametrize("kind", ["move", "copy"])
async def test_a_message_moved_or_copied_is_no_news_in_its_new_box(api, boxes, tmp_path, kind):
    box, other = boxes
    message = await api.client.create_message(box, audio=make_tone(tmp_path, 1))
    target = other if kind == "move" else [other]
    reply = await api.client.post(
        f"/vmboxes/{box}/messages/{message['media_id']}", {"data": {"source_id": target}}
    )
    assert reply.status == 200, reply.body
    assert await queued(api) == []
    assert await lamp_marks(api, other) == 1
    assert await lamp_marks(api, box) == (2 if kind == "move" else 1)


async def test_bulk_moves_and_copies_are_no_news(api, boxes, tmp_path):
    box, other = boxes
    ids = [
        (await api.client.create_message(box, audio=make_tone(tmp_path, 1)))["media_id"]
        for _ in range(2)
    ]
    for target in ([other], other):
        reply = await api.client.post(
            f"/vmboxes/{box}/messages", {"data": {"source_id": target, "messages": ids}}
        )
        assert reply.status == 200, reply.body
        assert len(reply.body["data"]["succeeded"]) == 2
    assert await queued(api) == []
    assert await lamp_marks(api, other) == 4


async def test_a_message_left_by_phone_and_its_forward_by_phone_are_news(api, boxes, tmp_path):
    # The phone's store calls (ivr/services.py): create_message and copy_messages as they are called.
    box, other = boxes
    account = api.client.account_id
    audio = await api.store.media.store(make_tone(tmp_path, 1), account)
    message = await create_message(api.store, account, box, {"caller_id_number": "6001"}, audio)
    await copy_messages(api.store, account, box, [message.id], [other])
    assert await queued(api) == ["message.new", "message.new"]
