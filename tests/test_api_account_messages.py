"""`PUT /v2/accounts/{A}/messages`: the seed document's single-request example, a message created with no
box in the path. The metadata names the box (`vmbox_id`, or the mailbox in `to`'s user part); without
either the answer is KAZOO's 400 naming `vmbox_id` and pointing at the per-box path.

Black-box: a real server on a loopback port, a real SQLite file and real audio (ffmpeg).
"""

import json

import aiohttp
import pytest

from tests.conftest import make_tone, media_files, tmp_files
from tests.test_api_messages import REALM, UNKNOWN_BOX, listed_ids


@pytest.fixture
async def box(api) -> str:
    return (await api.client.create_box("3000"))["id"]


def multipart(metadata: dict, audio=None, subtype: str = "mixed") -> aiohttp.MultipartWriter:
    """The seed's request: `content` parts, the JSON metadata then the audio."""
    writer = aiohttp.MultipartWriter(subtype)
    writer.append(json.dumps({"data": metadata}), {"Content-Type": "application/json"})
    if audio is not None:
        part = writer.append(audio.read_bytes(), {"Content-Type": "audio/mp3"})
        part.set_content_disposition("form-data", name="content", filename=audio.name)
    return writer


async def test_the_seed_s_multipart_example_creates_the_message_with_its_audio(api, box, tone_mp3):
    sent = {"caller_id_number": "6001", "caller_id_name": "someone", "vmbox_id": box}
    reply = await api.client.call("PUT", "/messages", data=multipart(sent, tone_mp3))
    assert reply.status == 201, reply.body
    message = reply.data
    assert (message["caller_id_number"], message["to"]) == ("6001", f"3000@{REALM}")
    assert 2900 <= message["length"] <= 3100  # the 3 s tone
    assert "vmbox_id" not in message  # it names the box; it is not part of the message
    assert await listed_ids(api.client, box) == [message["media_id"]]
    fetched = await api.client.get(f"/vmboxes/{box}/messages/{message['media_id']}")
    assert fetched.data == message
    raw = await api.client.get(f"/vmboxes/{box}/messages/{message['media_id']}/raw")
    assert raw.status == 200 and len(raw.body) > 0


async def test_json_metadata_alone_creates_the_message(api, box):
    reply = await api.client.put("/messages", {"data": {"vmbox_id": box, "folder": "saved"}})
    assert reply.status == 201, reply.body
    assert reply.data["folder"] == "saved"
    assert await listed_ids(api.client, box) == [reply.data["media_id"]]


@pytest.mark.parametrize("to", ["3001", f"3001@{REALM}"])
async def test_the_mailbox_in_to_names_the_box(api, box, to):
    other = (await api.client.create_box("3001"))["id"]
    reply = await api.client.put("/messages", {"data": {"to": to}})
    assert reply.status == 201, reply.body
    assert (reply.data["to"], reply.data["to_user"]) == (f"3001@{REALM}", "3001")
    assert await listed_ids(api.client, other) == [reply.data["media_id"]]
    assert await listed_ids(api.client, box) == []


async def test_vmbox_id_wins_over_to(api, box):
    await api.client.create_box("3001")
    reply = await api.client.put("/messages", {"data": {"vmbox_id": box, "to": "3001"}})
    assert reply.status == 201, reply.body
    assert await listed_ids(api.client, box) == [reply.data["media_id"]]


@pytest.mark.parametrize("metadata", [{}, {"to": ""}, {"to": f"@{REALM}"}, {"folder": "new"}])
async def test_without_a_box_it_is_400_naming_vmbox_id_and_the_per_box_path(api, box, metadata):
    reply = await api.client.put("/messages", {"data": metadata})
    assert reply.status == 400, reply.body
    assert reply.body["message"] == "validation error"
    text = reply.data["vmbox_id"]["required"]["message"]
    assert f"/v2/accounts/{api.client.account_id}/vmboxes/" in text
    assert "/messages" in text
    assert await listed_ids(api.client, box) == []


async def test_a_multipart_upload_without_a_box_keeps_no_audio(api, box, tmp_path):
    before = media_files(api.data_dir)
    reply = await api.client.call(
        "PUT", "/messages", data=multipart({}, make_tone(tmp_path, 1), "form-data")
    )
    assert reply.status == 400, reply.body
    assert "vmbox_id" in reply.data
    assert media_files(api.data_dir) == before
    assert tmp_files(api.data_dir) == []


@pytest.mark.parametrize("metadata", [{"vmbox_id": UNKNOWN_BOX}, {"to": "4000"}])
async def test_an_unknown_box_or_mailbox_is_404_bad_identifier(api, box, metadata, tmp_path):
    reply = await api.client.call(
        "PUT", "/messages", data=multipart(metadata, make_tone(tmp_path, 1))
    )
    assert reply.status == 404, reply.body
    assert reply.body["message"] == "bad_identifier"
    assert reply.data["cause"] == metadata.get("vmbox_id", "4000")
    assert tmp_files(api.data_dir) == []


async def test_another_account_s_box_is_404(api, box):
    reply = await api.other.put("/messages", {"data": {"vmbox_id": box}})
    assert reply.status == 404, reply.body
    reply = await api.other.put("/messages", {"data": {"to": "3000"}})
    assert reply.status == 404, reply.body
    assert await listed_ids(api.client, box) == []


async def test_a_vmbox_id_that_is_no_string_is_a_type_error(api, box):
    reply = await api.client.put("/messages", {"data": {"vmbox_id": 3000}})
    assert reply.status == 400, reply.body
    assert "type" in reply.data["vmbox_id"]


async def test_invalid_metadata_is_a_validation_error(api, box):
    reply = await api.client.put("/messages", {"data": {"vmbox_id": box, "folder": "inbox"}})
    assert reply.status == 400, reply.body
    assert "enum" in reply.data["folder"]
    assert await listed_ids(api.client, box) == []


async def test_a_message_created_so_is_no_news(api, box, tmp_path):
    sent = {"vmbox_id": box}
    reply = await api.client.call("PUT", "/messages", data=multipart(sent, make_tone(tmp_path, 1)))
    assert reply.status == 201, reply.body
    assert await api.store.db.fetch_all("SELECT kind FROM jobs") == []
