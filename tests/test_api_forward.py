"""Forwarding a message by mailbox number (`POST …/messages/{M}/forward`), as the phone does: a copy
arrives new in that box, announced to its owner, and the original is filed as saved."""

import json

import pytest

from tests.conftest import make_tone


@pytest.fixture
async def world(api, tmp_path) -> dict:
    ann = await api.client.create_box("3000", pin="1234")
    bob = await api.client.create_box("3001")
    message = await api.client.create_message(
        ann["id"], make_tone(tmp_path, 1.0), caller_id_number="5550100"
    )
    return {"ann": ann["id"], "bob": bob["id"], "message": message["media_id"]}


def forward_path(world) -> str:
    return f"/vmboxes/{world['ann']}/messages/{world['message']}/forward"


async def announced_in(api, box_id: str) -> list[str]:
    rows = await api.store.db.fetch_all("SELECT payload FROM jobs WHERE kind = 'message.new'")
    return [
        json.loads(row["payload"])["message_id"]
        for row in rows
        if json.loads(row["payload"])["box_id"] == box_id
    ]


async def test_a_forward_copies_the_message_new_and_announced_and_files_it_as_saved(api, world):
    reply = await api.client.post(forward_path(world), {"data": {"mailbox": "3001"}})
    assert reply.status == 200, reply.body
    assert reply.data["media_id"] == world["message"] and reply.data["folder"] == "saved"
    [copy] = (await api.client.get(f"/vmboxes/{world['bob']}/messages")).data
    assert copy["folder"] == "new" and copy["caller_id_number"] == "5550100"
    assert copy["to"].startswith("3001@")
    assert await announced_in(api, world["bob"]) == [copy["media_id"]]
    original = await api.client.get(f"/vmboxes/{world['ann']}/messages/{world['message']}/raw")
    forwarded = await api.client.get(f"/vmboxes/{world['bob']}/messages/{copy['media_id']}/raw")
    assert forwarded.body == original.body


async def test_the_box_s_own_login_forwards_by_mailbox(api, world):
    login = await api.client.put(
        "/v2/vmbox_auth",
        {"data": {"mailbox": "3000", "pin": "1234", "account_name": "A"}},
        token="",
    )
    token = login.body["auth_token"]
    reply = await api.client.post(forward_path(world), {"data": {"mailbox": "3001"}}, token=token)
    assert reply.status == 200, reply.body
    assert len((await api.client.get(f"/vmboxes/{world['bob']}/messages")).data) == 1


async def test_a_forward_to_no_box_names_the_mailbox_and_changes_nothing(api, world):
    reply = await api.client.post(forward_path(world), {"data": {"mailbox": "3999"}})
    assert reply.status == 404
    assert reply.data == {"message": "there is no mailbox 3999 to forward to", "cause": "3999"}
    message = await api.client.get(f"/vmboxes/{world['ann']}/messages/{world['message']}")
    assert message.data["folder"] == "new"


async def test_a_box_of_another_account_is_no_box_to_forward_to(api, world):
    await api.other.create_box("3002")
    reply = await api.client.post(forward_path(world), {"data": {"mailbox": "3002"}})
    assert reply.status == 404


@pytest.mark.parametrize(
    "data, field, rule",
    [({}, "mailbox", "required"), ({"mailbox": 3001}, "mailbox", "type")],
)
async def test_a_forward_without_a_mailbox_is_a_validation_error(api, world, data, field, rule):
    reply = await api.client.post(forward_path(world), {"data": data})
    assert reply.status == 400 and rule in reply.data[field]


async def test_a_message_is_not_forwarded_to_its_own_box(api, world):
    reply = await api.client.post(forward_path(world), {"data": {"mailbox": "3000"}})
    assert reply.status == 400 and "not" in reply.data["mailbox"]
    assert len((await api.client.get(f"/vmboxes/{world['ann']}/messages")).data) == 1


async def test_an_unknown_message_is_not_found(api, world):
    path = f"/vmboxes/{world['ann']}/messages/202601-{'0' * 32}/forward"
    reply = await api.client.post(path, {"data": {"mailbox": "3001"}})
    assert reply.status == 404
    assert (await api.client.get(f"/vmboxes/{world['bob']}/messages")).data == []
