"""Bad input to the REST API: every failure is a clear KAZOO-shaped error, never a 500, and leaves nothing behind.

Black-box: a real server with a small upload limit, real SQLite, real ffmpeg; what is left on disk is read
from the data directory.
"""

import asyncio
import json
import os
import random
import secrets
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest
import yarl

from store.api.options import ApiOptions
from store.audio import MAX_AUDIO_S
from store.core import ORPHAN_AGE_S, open_store
from tests.conftest import Reply, make_tone, media_files, tmp_files

UPLOAD_LIMIT = 200_000
UNKNOWN_BOX = "0123456789abcdef0123456789abcdef"
UNKNOWN_MESSAGE = "202001-0123456789abcdef0123456789abcdef"


@pytest.fixture
def api_options() -> ApiOptions:
    return ApiOptions(max_upload_bytes=UPLOAD_LIMIT)


def assert_error(reply, status: int, message: str | None = None) -> dict:
    """The reply is a KAZOO error envelope with `status`; returns its data."""
    assert reply.status == status, reply.body
    assert reply.headers["Content-Type"].startswith("application/json")
    body = reply.body
    assert body["status"] == "error"
    assert body["error"] == str(status)
    assert isinstance(body["message"], str) and body["message"]
    if message is not None:
        assert body["message"] == message
    assert body["request_id"] and body["request_id"] == reply.headers["X-Request-ID"]
    return body.get("data")


def multipart_body(
    parts: list[tuple[str, bytes]], boundary: str = "vmbox-test-boundary"
) -> tuple[bytes, str]:
    """A multipart/mixed body as curl -F builds it: every part named `content`. Returns (body, Content-Type)."""
    chunks = []
    for index, (content_type, payload) in enumerate(parts):
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename="part{index}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n".encode()
            + payload
            + b"\r\n"
        )
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/mixed; boundary={boundary}"


def metadata_part(**metadata) -> tuple[str, bytes]:
    return "application/json", json.dumps({"data": metadata}).encode()


async def streamed(payload: bytes, chunk: int = 32 * 1024):
    """The payload as an async generator: aiohttp sends it chunked, without a Content-Length."""
    for start in range(0, len(payload), chunk):
        yield payload[start : start + chunk]


async def box_messages(client, box_id: str) -> list:
    reply = await client.get(f"/vmboxes/{box_id}/messages?paginate=false")
    assert reply.status == 200
    return reply.data


async def send_raw(client, method: str, path: str, **kw):
    """A request whose path is sent exactly as written (no client-side normalisation of `..` or escapes)."""
    url = yarl.URL(client.url(path), encoded=True)
    headers = {"X-Auth-Token": client.token, **kw.pop("headers", {})}
    async with client.session.request(method, url, headers=headers, **kw) as response:
        raw = await response.read()
        body = json.loads(raw) if response.content_type == "application/json" else raw
        return Reply(response.status, body, dict(response.headers))


def nothing_stored(data_dir: Path, files_before: set[str]) -> bool:
    return media_files(data_dir) == files_before and tmp_files(data_dir) == []


@pytest.fixture
def short_tone(tmp_path: Path) -> Path:
    """A real upload well under the module's small limit (1 s, 8 kHz mono: 16 kB)."""
    return make_tone(tmp_path, 1)


@pytest.fixture
def big_audio(tone_wav: Path) -> bytes:
    """Real audio over the module's upload limit (3 s of 44.1 kHz stereo WAV: about 530 kB)."""
    audio = tone_wav.read_bytes()
    assert len(audio) > UPLOAD_LIMIT
    return audio


# --- malformed and mistyped bodies ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": {"name": "VMBox 0", "mailbox": "3000"',
        b'{"data": {"name": "VMBox 0", "mailbox": "3000",}}',
        b"{'data': {}}",
        b"data=name",
        b"\xff\xfe{}",
    ],
)
async def test_malformed_json_is_400_invalid_json_and_creates_nothing(api, body):
    reply = await api.client.call(
        "PUT", "/vmboxes", data=body, headers={"Content-Type": "application/json"}
    )
    assert_error(reply, 400, "invalid_json")
    assert (await api.client.get("/vmboxes")).data == []


async def test_malformed_json_message_creates_no_message(api):
    box = await api.client.create_box("3000")
    reply = await api.client.call(
        "PUT",
        f"/vmboxes/{box['id']}/messages",
        data=b'{"data": {"folder": "new"',
        headers={"Content-Type": "application/json"},
    )
    assert_error(reply, 400, "invalid_json")
    assert await box_messages(api.client, box["id"]) == []


async def test_malformed_json_in_a_multipart_metadata_part_is_400_and_stores_nothing(
    api, short_tone
):
    box = await api.client.create_box("3000")
    body, content_type = multipart_body(
        [("application/json", b'{"data": {'), ("audio/wav", short_tone.read_bytes())]
    )
    reply = await api.client.call(
        "PUT", f"/vmboxes/{box['id']}/messages", data=body, headers={"Content-Type": content_type}
    )
    assert_error(reply, 400, "invalid_json")
    assert await box_messages(api.client, box["id"]) == []
    assert nothing_stored(api.data_dir, set())


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("text/xml", b"<data><name>VMBox 0</name><mailbox>3000</mailbox></data>"),
        ("audio/mpeg", b"ID3\x03\x00\x00\x00\x00\x00\x00"),
        ("image/png", b"\x89PNG\r\n\x1a\n"),
        ("text/html", b"<html></html>"),
    ],
)
async def test_wrong_content_type_on_a_json_endpoint_is_415(api, content_type, body):
    reply = await api.client.call(
        "PUT", "/vmboxes", data=body, headers={"Content-Type": content_type}
    )
    assert_error(reply, 415)
    assert (await api.client.get("/vmboxes")).data == []


async def test_wrong_content_type_on_message_create_is_415(api):
    box = await api.client.create_box("3000")
    reply = await api.client.call(
        "PUT",
        f"/vmboxes/{box['id']}/messages",
        data=b"<message/>",
        headers={"Content-Type": "text/xml"},
    )
    assert_error(reply, 415)
    assert await box_messages(api.client, box["id"]) == []


@pytest.mark.parametrize("content_type", ["application/json", "text/xml", "image/png"])
async def test_non_audio_content_type_on_raw_put_is_415(api, content_type):
    box = await api.client.create_box("3000")
    message = await api.client.create_message(box["id"], caller_id_number="6001")
    reply = await api.client.call(
        "PUT",
        f"/vmboxes/{box['id']}/messages/{message['media_id']}/raw",
        data=b'{"data": {}}',
        headers={"Content-Type": content_type},
    )
    assert_error(reply, 415)
    assert nothing_stored(api.data_dir, set())


@pytest.mark.parametrize("body", [b"[]", b'[{"data": {}}]', b'"data"', b"42", b"null", b"true"])
async def test_json_body_that_is_not_an_object_is_400(api, body):
    reply = await api.client.call(
        "PUT", "/vmboxes", data=body, headers={"Content-Type": "application/json"}
    )
    assert_error(reply, 400)
    assert (await api.client.get("/vmboxes")).data == []


@pytest.mark.parametrize("data", [[], ["name"], "VMBox 0", 3000, True])
async def test_data_that_is_not_an_object_is_400_on_data(api, data):
    reply = await api.client.put("/vmboxes", {"data": data})
    errors = assert_error(reply, 400)
    assert "type" in errors["data"]
    assert (await api.client.get("/vmboxes")).data == []


async def test_message_data_that_is_not_an_object_is_400(api):
    box = await api.client.create_box("3000")
    reply = await api.client.put(
        f"/vmboxes/{box['id']}/messages", {"data": ["caller_id_number", "6001"]}
    )
    errors = assert_error(reply, 400)
    assert "type" in errors["data"]
    assert await box_messages(api.client, box["id"]) == []


@pytest.mark.parametrize(
    "field, value",
    [
        ("name", 42),
        ("mailbox", 3000),
        ("require_pin", "yes"),
        ("check_if_owner", 1),
        ("seek_duration_ms", "10000"),
        ("notify_email_addresses", "someone@example.com"),
        ("media", "greeting.mp3"),
        ("timezone", ["America/Los_Angeles"]),
    ],
)
async def test_vmbox_field_of_the_wrong_type_is_400_with_rule_type(api, field, value):
    fields = {"name": "VMBox 0", "mailbox": "3000", field: value}
    reply = await api.client.put("/vmboxes", {"data": fields})
    errors = assert_error(reply, 400, "validation error")
    rule = errors[field]["type"]
    assert rule["value"] == value
    assert rule["message"].startswith("Value did not match type(s)")
    assert (await api.client.get("/vmboxes")).data == []


async def test_vmbox_patch_with_a_wrong_type_is_400_and_changes_nothing(api):
    box = await api.client.create_box("3000")
    reply = await api.client.patch(
        f"/vmboxes/{box['id']}", {"data": {"skip_greeting": "sometimes"}}
    )
    errors = assert_error(reply, 400, "validation error")
    assert "type" in errors["skip_greeting"]
    assert (await api.client.get(f"/vmboxes/{box['id']}")).data["skip_greeting"] is False


@pytest.mark.parametrize(
    "field, value",
    [
        ("caller_id_number", 6001),
        ("caller_id_name", {"first": "user"}),
        ("length", "3000"),
        ("timestamp", "63630058722"),
        ("folder", 1),
        ("from", ["someone@farfaraway.com"]),
    ],
)
async def test_message_field_of_the_wrong_type_is_400_with_rule_type(api, field, value):
    box = await api.client.create_box("3000")
    reply = await api.client.put(f"/vmboxes/{box['id']}/messages", {"data": {field: value}})
    errors = assert_error(reply, 400, "validation error")
    assert errors[field]["type"]["value"] == value
    assert await box_messages(api.client, box["id"]) == []


async def test_message_field_of_the_wrong_type_with_audio_stores_nothing(api, short_tone):
    box = await api.client.create_box("3000")
    body, content_type = multipart_body(
        [metadata_part(length="long"), ("audio/wav", short_tone.read_bytes())]
    )
    reply = await api.client.call(
        "PUT", f"/vmboxes/{box['id']}/messages", data=body, headers={"Content-Type": content_type}
    )
    errors = assert_error(reply, 400, "validation error")
    assert "type" in errors["length"]
    assert await box_messages(api.client, box["id"]) == []
    assert nothing_stored(api.data_dir, set())


async def test_bulk_change_with_messages_not_a_list_of_strings_is_400(api):
    box = await api.client.create_box("3000")
    reply = await api.client.post(
        f"/vmboxes/{box['id']}/messages", {"data": {"messages": [1, 2], "folder": "saved"}}
    )
    errors = assert_error(reply, 400)
    assert "type" in errors["messages"]


async def test_query_flag_of_the_wrong_type_is_400(api):
    box = await api.client.create_box("3000")
    reply = await api.client.get(f"/vmboxes/{box['id']}/messages?ascending=maybe")
    errors = assert_error(reply, 400)
    assert "type" in errors["ascending"]


# --- unknown and hostile identifiers --------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/vmboxes/{unknown_box}"),
        ("POST", "/vmboxes/{unknown_box}"),
        ("PATCH", "/vmboxes/{unknown_box}"),
        ("DELETE", "/vmboxes/{unknown_box}"),
        ("GET", "/vmboxes/{unknown_box}/messages"),
        ("PUT", "/vmboxes/{unknown_box}/messages"),
        ("POST", "/vmboxes/{unknown_box}/messages/raw"),
    ],
)
async def test_unknown_box_is_404_bad_identifier_with_cause(api, method, path):
    bodies = {
        "POST": {"data": {"name": "VMBox 0", "mailbox": "3000", "messages": [UNKNOWN_MESSAGE]}},
        "PATCH": {"data": {"name": "x"}},
        "PUT": {"data": {}},
    }
    reply = await api.client.call(
        method, path.format(unknown_box=UNKNOWN_BOX), json_body=bodies.get(method)
    )
    data = assert_error(reply, 404, "bad_identifier")
    assert data["cause"] == UNKNOWN_BOX
    assert (await api.client.get("/vmboxes")).data == []


@pytest.mark.parametrize(
    "method, suffix",
    [
        ("GET", ""),
        ("POST", ""),
        ("DELETE", ""),
        ("GET", "/raw"),
    ],
)
async def test_unknown_message_is_404_bad_identifier_with_cause(api, method, suffix):
    box = await api.client.create_box("3000")
    body = {"data": {"folder": "saved"}} if method == "POST" else None
    reply = await api.client.call(
        method, f"/vmboxes/{box['id']}/messages/{UNKNOWN_MESSAGE}{suffix}", json_body=body
    )
    data = assert_error(reply, 404, "bad_identifier")
    assert data["cause"] == UNKNOWN_MESSAGE


async def test_raw_put_to_an_unknown_message_is_404_and_leaves_no_file(api, short_tone):
    box = await api.client.create_box("3000")
    reply = await api.client.call(
        "PUT",
        f"/vmboxes/{box['id']}/messages/{UNKNOWN_MESSAGE}/raw",
        data=short_tone.read_bytes(),
        headers={"Content-Type": "audio/wav"},
    )
    data = assert_error(reply, 404, "bad_identifier")
    assert data["cause"] == UNKNOWN_MESSAGE
    assert nothing_stored(api.data_dir, set())


HOSTILE_BOX_IDS = [
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "%2E%2E",
    "..",
    "{box}%2F..%2F{box}",
    "{box}%00",
    "%00",
    "{box}%0A",
    "..%5C..%5Cwindows",
    "0123456789abcdef0123456789abcde",  # 31 hex: too short
    "0123456789abcdef0123456789abcdef0",  # 33 hex: too long
    "0123456789ABCDEF0123456789ABCDEF",  # upper case
    "a" * 4000,
    "%F0%9F%93%9E",
]


@pytest.mark.parametrize("ident", HOSTILE_BOX_IDS)
async def test_hostile_box_id_is_404_never_500(api, ident):
    box = await api.client.create_box("3000")
    ident = ident.replace("{box}", box["id"])
    for method, suffix in [("GET", ""), ("DELETE", ""), ("GET", "/messages"), ("PUT", "/messages")]:
        reply = await send_raw(api.client, method, f"/vmboxes/{ident}{suffix}")
        assert_error(reply, 404)
    assert (await api.client.get(f"/vmboxes/{box['id']}")).status == 200


HOSTILE_MESSAGE_IDS = [
    "..%2F..%2F{box}",
    "{message}%2F..%2F..",
    "%2E%2E",
    "{message}%00",
    "%00",
    "202001-0123456789abcdef0123456789abcde",  # hex part too short
    "202001-0123456789abcdef0123456789abcdef0",  # hex part too long
    "2020011-0123456789abcdef0123456789abcdef",  # month prefix too long
    "0123456789abcdef0123456789abcdef",  # no month prefix
    "202001_0123456789abcdef0123456789abcdef",
    "1" * 6 + "-" + "a" * 4000,
]


@pytest.mark.parametrize("ident", HOSTILE_MESSAGE_IDS)
async def test_hostile_message_id_is_404_never_500(api, ident, short_tone):
    box = await api.client.create_box("3000")
    message = await api.client.create_message(box["id"], short_tone, caller_id_number="6001")
    ident = ident.replace("{box}", box["id"]).replace("{message}", message["media_id"])
    files = media_files(api.data_dir)
    for method, suffix in [("GET", ""), ("DELETE", ""), ("GET", "/raw"), ("PUT", "/raw")]:
        reply = await send_raw(
            api.client,
            method,
            f"/vmboxes/{box['id']}/messages/{ident}{suffix}",
            data=short_tone.read_bytes() if method == "PUT" else None,
            headers={"Content-Type": "audio/wav"} if method == "PUT" else {},
        )
        assert_error(reply, 404)
    assert nothing_stored(api.data_dir, files)
    assert len(await box_messages(api.client, box["id"])) == 1


@pytest.mark.parametrize(
    "path",
    [
        "/vmboxes/../vmboxes/{box}",
        "/vmboxes/{box}/messages/../../{box}",
        "/vmboxes/{box}/messages/{message}/../../../{box}",
    ],
)
async def test_dot_dot_segments_in_the_path_never_reach_another_object(api, path, short_tone):
    box = await api.client.create_box("3000")
    message = await api.client.create_message(box["id"], short_tone, caller_id_number="6001")
    reply = await send_raw(
        api.client, "DELETE", path.format(box=box["id"], message=message["media_id"])
    )
    assert_error(reply, 404)
    assert (await api.client.get(f"/vmboxes/{box['id']}")).status == 200
    assert len(await box_messages(api.client, box["id"])) == 1


@pytest.mark.parametrize("ids", [["../../etc/passwd"], ["%2F"], ["202001-0123456789abcdef"]])
async def test_hostile_message_ids_in_a_zip_request_are_404(api, ids):
    box = await api.client.create_box("3000")
    reply = await api.client.post(f"/vmboxes/{box['id']}/messages/raw", {"data": {"messages": ids}})
    data = assert_error(reply, 404)
    assert data["cause"] == ids[0]


@pytest.mark.parametrize(
    "body",
    [
        {"data": {"messages": ["202001-0123456789abcdef0123456789abcdef\x00"]}},
        {"data": {"name": "Ann\x00"}},
        {"data": {"flags": ["a", {"\x00": 1}]}},
    ],
)
async def test_a_nul_character_anywhere_in_a_body_is_refused_and_changes_nothing(api, body):
    """No name, number or id holds a NUL, and PostgreSQL cannot store one: both stores refuse it."""
    box = await api.client.create_box("3000")
    for method, path in (
        ("POST", f"/vmboxes/{box['id']}/messages/raw"),
        ("POST", f"/vmboxes/{box['id']}"),
        ("PUT", "/vmboxes"),
    ):
        reply = await api.client.call(method, path, json_body=body)
        data = assert_error(reply, 400)
        assert "NUL" in data["message"], data
    assert (await api.client.get(f"/vmboxes/{box['id']}")).data["name"] == "Box 3000"
    assert len((await api.client.get("/vmboxes")).data) == 1


async def test_hostile_source_id_on_move_is_404_and_moves_nothing(api):
    box = await api.client.create_box("3000")
    message = await api.client.create_message(box["id"], caller_id_number="6001")
    reply = await api.client.post(
        f"/vmboxes/{box['id']}/messages/{message['media_id']}",
        {"data": {"source_id": "../" + box["id"]}},
    )
    assert_error(reply, 404)
    assert [m["media_id"] for m in await box_messages(api.client, box["id"])] == [
        message["media_id"]
    ]


# --- another account's ids ------------------------------------------------------------------------------


@pytest.fixture
async def foreign(api, short_tone):
    """A box with a message (with audio) in account B."""
    box = await api.other.create_box("3000")
    message = await api.other.create_message(box["id"], short_tone, caller_id_number="6001")
    return box, message


@pytest.mark.parametrize(
    "method, suffix",
    [
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("GET", "/messages"),
        ("PUT", "/messages"),
    ],
)
async def test_another_accounts_box_under_ones_own_path_is_404(api, foreign, method, suffix):
    box, _ = foreign
    body = {"data": {"name": "taken over"}} if method in ("PATCH", "PUT") else None
    reply = await api.client.call(method, f"/vmboxes/{box['id']}{suffix}", json_body=body)
    data = assert_error(reply, 404, "bad_identifier")
    assert data["cause"] == box["id"]
    theirs = await api.other.get(f"/vmboxes/{box['id']}")
    assert theirs.status == 200 and theirs.data["name"] == box["name"]
    assert len(await box_messages(api.other, box["id"])) == 1


@pytest.mark.parametrize(
    "method, suffix", [("GET", ""), ("POST", ""), ("DELETE", ""), ("GET", "/raw")]
)
async def test_another_accounts_message_under_ones_own_path_is_404(api, foreign, method, suffix):
    box, message = foreign
    body = {"data": {"folder": "saved"}} if method == "POST" else None
    reply = await api.client.call(
        method, f"/vmboxes/{box['id']}/messages/{message['media_id']}{suffix}", json_body=body
    )
    assert_error(reply, 404, "bad_identifier")
    (theirs,) = await box_messages(api.other, box["id"])
    assert theirs["folder"] == "new"


async def test_another_accounts_message_in_ones_own_box_is_404(api, foreign):
    _, message = foreign
    own = await api.client.create_box("3000")
    reply = await api.client.get(f"/vmboxes/{own['id']}/messages/{message['media_id']}")
    data = assert_error(reply, 404, "bad_identifier")
    assert data["cause"] == message["media_id"]


async def test_raw_put_on_another_accounts_message_is_404_and_stores_nothing(
    api, foreign, short_tone
):
    box, message = foreign
    files = media_files(api.data_dir)
    reply = await api.client.call(
        "PUT",
        f"/vmboxes/{box['id']}/messages/{message['media_id']}/raw",
        data=make_tone(short_tone.parent, 4).read_bytes(),
        headers={"Content-Type": "audio/wav"},
    )
    assert_error(reply, 404)
    assert nothing_stored(api.data_dir, files)
    (theirs,) = await box_messages(api.other, box["id"])
    assert abs(theirs["length"] - 1000) <= 50


async def test_zip_of_another_accounts_message_is_404(api, foreign):
    box, message = foreign
    own = await api.client.create_box("3000")
    for box_id in (box["id"], own["id"]):
        reply = await api.client.post(
            f"/vmboxes/{box_id}/messages/raw", {"data": {"messages": [message["media_id"]]}}
        )
        assert_error(reply, 404)


async def test_bulk_change_of_another_accounts_messages_fails_them(api, foreign):
    box, message = foreign
    own = await api.client.create_box("3000")
    reply = await api.client.post(
        f"/vmboxes/{own['id']}/messages",
        {"data": {"messages": [message["media_id"]], "folder": "saved"}},
    )
    assert reply.status == 200
    assert "succeeded" not in reply.data  # KAZOO leaves an empty succeeded out
    assert message["media_id"] in reply.data["failed"]
    (theirs,) = await box_messages(api.other, box["id"])
    assert theirs["folder"] == "new"


async def test_moving_a_message_into_another_accounts_box_is_404(api, foreign):
    box, _ = foreign
    own = await api.client.create_box("3000")
    message = await api.client.create_message(own["id"], caller_id_number="6001")
    reply = await api.client.post(
        f"/vmboxes/{own['id']}/messages/{message['media_id']}", {"data": {"source_id": box["id"]}}
    )
    assert_error(reply, 404)
    assert len(await box_messages(api.client, own["id"])) == 1
    assert len(await box_messages(api.other, box["id"])) == 1


@pytest.mark.parametrize(
    "method, suffix",
    [
        ("GET", "/vmboxes"),
        ("PUT", "/vmboxes"),
        ("GET", "/vmboxes/{box}"),
        ("DELETE", "/vmboxes/{box}"),
        ("GET", "/vmboxes/{box}/messages"),
        ("GET", "/vmboxes/{box}/messages/{message}/raw"),
        ("DELETE", "/vmboxes/{box}/messages"),
        ("GET", "/vmboxes/messages"),
    ],
)
async def test_another_accounts_path_is_403(api, foreign, method, suffix):
    box, message = foreign
    path = f"/v2/accounts/{api.other.account_id}" + suffix.format(
        box=box["id"], message=message["media_id"]
    )
    body = {"data": {"name": "Mine now", "mailbox": "3999"}} if method == "PUT" else None
    reply = await api.client.call(method, path, json_body=body)
    data = assert_error(reply, 403)
    assert box["id"] not in json.dumps(data)
    assert len(await box_messages(api.other, box["id"])) == 1
    assert [b["id"] for b in (await api.other.get("/vmboxes")).data] == [box["id"]]


# --- non-audio and corrupt uploads ----------------------------------------------------------------------


NOT_AUDIO = {
    "text": b"hello, this is not audio at all\n" * 100,
    "random-bytes": random.Random(7).randbytes(50_000),
    "png-header": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + random.Random(3).randbytes(3_000),
    "json": json.dumps({"data": {"caller_id_number": "6001"}}).encode() * 10,
}


@pytest.fixture(params=sorted(NOT_AUDIO))
def not_audio(request) -> bytes:
    return NOT_AUDIO[request.param]


def assert_file_error(reply) -> None:
    errors = assert_error(reply, 400, "validation error")
    assert list(errors) == ["file"]
    (rule,) = errors["file"].values()
    assert rule["message"]


async def test_non_audio_upload_on_create_is_400_on_file_and_stores_nothing(api, not_audio):
    box = await api.client.create_box("3000")
    body, content_type = multipart_body(
        [metadata_part(caller_id_number="6001"), ("audio/mp3", not_audio)]
    )
    reply = await api.client.call(
        "PUT", f"/vmboxes/{box['id']}/messages", data=body, headers={"Content-Type": content_type}
    )
    assert_file_error(reply)
    assert await box_messages(api.client, box["id"]) == []
    assert nothing_stored(api.data_dir, set())


async def test_non_audio_form_data_upload_is_400_on_file_and_stores_nothing(api, not_audio):
    box = await api.client.create_box("3000")
    form = aiohttp.FormData()
    form.add_field("metadata", json.dumps({"data": {}}), content_type="application/json")
    form.add_field("file", not_audio, content_type="audio/wav", filename="voice.wav")
    reply = await api.client.call("PUT", f"/vmboxes/{box['id']}/messages", data=form)
    assert_file_error(reply)
    assert await box_messages(api.client, box["id"]) == []
    assert nothing_stored(api.data_dir, set())


async def test_non_audio_raw_put_is_400_and_keeps_the_old_audio(api, not_audio, short_tone):
    box = await api.client.create_box("3000")
    message = await api.client.create_message(box["id"], short_tone, caller_id_number="6001")
    path = f"/vmboxes/{box['id']}/messages/{message['media_id']}"
    files = media_files(api.data_dir)
    reply = await api.client.call(
        "PUT", f"{path}/raw", data=not_audio, headers={"Content-Type": "audio/mpeg"}
    )
    assert_file_error(reply)
    assert nothing_stored(api.data_dir, files)
    assert (await api.client.get(path)).data["length"] == message["length"]
    assert (await api.client.get(f"{path}/raw")).status == 200


async def test_wav_header_without_samples_is_400_and_stores_nothing(api, tone_wav):
    box = await api.client.create_box("3000")
    body, content_type = multipart_body(
        [metadata_part(), ("audio/wav", tone_wav.read_bytes()[:44])]
    )
    reply = await api.client.call(
        "PUT", f"/vmboxes/{box['id']}/messages", data=body, headers={"Content-Type": content_type}
    )
    assert_file_error(reply)
    assert await box_messages(api.client, box["id"]) == []
    assert nothing_stored(api.data_dir, set())


async def test_empty_raw_put_is_400_file_required(api):
    box = await api.client.create_box("3000")
    message = await api.client.create_message(box["id"], caller_id_number="6001")
    reply = await api.client.call(
        "PUT",
        f"/vmboxes/{box['id']}/messages/{message['media_id']}/raw",
        data=b"",
        headers={"Content-Type": "audio/mpeg"},
    )
    errors = assert_error(reply, 400, "validation error")
    assert "required" in errors["file"]
    assert nothing_stored(api.data_dir, set())


async def test_multipart_raw_put_without_an_audio_part_is_400_file_required(api):
    box = await api.client.create_box("3000")
    message = await api.client.create_message(box["id"], caller_id_number="6001")
    body, content_type = multipart_body([metadata_part(caller_id_number="6001")])
    reply = await api.client.call(
        "PUT",
        f"/vmboxes/{box['id']}/messages/{message['media_id']}/raw",
        data=body,
        headers={"Content-Type": content_type},
    )
    errors = assert_error(reply, 400, "validation error")
    assert "required" in errors["file"]
    assert nothing_stored(api.data_dir, set())


async def test_multipart_raw_put_with_an_empty_audio_part_is_400_file_required(api):
    box = await api.client.create_box("3000")
    message = await api.client.create_message(box["id"], caller_id_number="6001")
    body, content_type = multipart_body([("audio/mp3", b"")])
    reply = await api.client.call(
        "PUT",
        f"/vmboxes/{box['id']}/messages/{message['media_id']}/raw",
        data=body,
        headers={"Content-Type": content_type},
    )
    errors = assert_error(reply, 400, "validation error")
    assert "required" in errors["file"]
    assert nothing_stored(api.data_dir, set())


async def test_two_audio_parts_on_create_is_400_max_items_and_stores_nothing(api, short_tone):
    box = await api.client.create_box("3000")
    audio = short_tone.read_bytes()
    body, content_type = multipart_body(
        [metadata_part(caller_id_number="6001"), ("audio/wav", audio), ("audio/wav", audio)]
    )
    reply = await api.client.call(
        "PUT", f"/vmboxes/{box['id']}/messages", data=body, headers={"Content-Type": content_type}
    )
    errors = assert_error(reply, 400, "validation error")
    assert "maxItems" in errors["file"]
    assert await box_messages(api.client, box["id"]) == []
    assert nothing_stored(api.data_dir, set())


async def test_two_audio_parts_on_raw_put_is_400_max_items_and_keeps_the_old_audio(api, short_tone):
    box = await api.client.create_box("3000")
    message = await api.client.create_message(box["id"], short_tone, caller_id_number="6001")
    files = media_files(api.data_dir)
    audio = make_tone(short_tone.parent, 2).read_bytes()
    body, content_type = multipart_body([("audio/wav", audio), ("audio/wav", audio)])
    path = f"/vmboxes/{box['id']}/messages/{message['media_id']}"
    reply = await api.client.call(
        "PUT", f"{path}/raw", data=body, headers={"Content-Type": content_type}
    )
    errors = assert_error(reply, 400, "validation error")
    assert "maxItems" in errors["file"]
    assert nothing_stored(api.data_dir, files)
    assert (await api.client.get(path)).data["length"] == message["length"]


# --- malformed multipart bodies -------------------------------------------------------------------------


MALFORMED_MULTIPART = {
    "no-boundary": ("multipart/mixed", b"--x\r\nContent-Type: audio/wav\r\n\r\nRIFF\r\n--x--\r\n"),
    "empty-body": ("multipart/mixed; boundary=x", b""),
    "no-starting-boundary": ("multipart/form-data; boundary=x", b"just some bytes"),
    "truncated": (
        "multipart/mixed; boundary=x",
        b"--x\r\nContent-Type: audio/wav\r\n\r\nRIFF....WAVEfmt ",
    ),
    "broken-part-header": (
        "multipart/mixed; boundary=x",
        b"--x\r\nnot a header line\r\n\r\nRIFF\r\n--x--\r\n",
    ),
    "boundary-too-long": ("multipart/mixed; boundary=" + "x" * 100, b"--" + b"x" * 100 + b"--\r\n"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_MULTIPART))
@pytest.mark.parametrize("target", ["create", "raw"])
async def test_malformed_multipart_is_400_never_500_and_stores_nothing(api, case, target):
    box = await api.client.create_box("3000")
    message = await api.client.create_message(box["id"], caller_id_number="6001")
    path = f"/vmboxes/{box['id']}/messages" + (
        f"/{message['media_id']}/raw" if target == "raw" else ""
    )
    content_type, body = MALFORMED_MULTIPART[case]
    reply = await api.client.call("PUT", path, data=body, headers={"Content-Type": content_type})
    assert_error(reply, 400)
    assert [m["media_id"] for m in await box_messages(api.client, box["id"])] == [
        message["media_id"]
    ]
    assert nothing_stored(api.data_dir, set())


async def test_truncated_multipart_with_a_real_audio_part_stores_nothing(api, short_tone):
    box = await api.client.create_box("3000")
    body, content_type = multipart_body(
        [metadata_part(caller_id_number="6001"), ("audio/wav", short_tone.read_bytes())]
    )
    closing = body.rindex(b"\r\n--")
    reply = await api.client.call(
        "PUT",
        f"/vmboxes/{box['id']}/messages",
        data=body[:closing],
        headers={"Content-Type": content_type},
    )
    assert_error(reply, 400)
    assert await box_messages(api.client, box["id"]) == []
    assert nothing_stored(api.data_dir, set())


async def test_multipart_json_part_over_the_json_limit_is_413(api):
    box = await api.client.create_box("3000")
    padding = "x" * (ApiOptions().max_json_bytes + 1)
    body, content_type = multipart_body([metadata_part(caller_id_name="a", call_id=padding)])
    reply = await api.client.call(
        "PUT",
        f"/vmboxes/{box['id']}/messages",
        data=streamed(body),
        headers={"Content-Type": content_type},
    )
    assert_error(reply, 413)
    assert await box_messages(api.client, box["id"]) == []


# --- uploads over the size limit ------------------------------------------------------------------------


async def test_create_over_the_upload_limit_is_413_and_stores_nothing(api, big_audio):
    box = await api.client.create_box("3000")
    body, content_type = multipart_body(
        [metadata_part(caller_id_number="6001"), ("audio/wav", big_audio)]
    )
    reply = await api.client.call(
        "PUT", f"/vmboxes/{box['id']}/messages", data=body, headers={"Content-Type": content_type}
    )
    assert_error(reply, 413)
    assert await box_messages(api.client, box["id"]) == []
    assert nothing_stored(api.data_dir, set())


async def test_chunked_create_over_the_upload_limit_is_413_and_stores_nothing(api, big_audio):
    box = await api.client.create_box("3000")
    body, content_type = multipart_body(
        [metadata_part(caller_id_number="6001"), ("audio/wav", big_audio)]
    )
    reply = await api.client.call(
        "PUT",
        f"/vmboxes/{box['id']}/messages",
        data=streamed(body),
        headers={"Content-Type": content_type},
    )
    assert_error(reply, 413)
    assert await box_messages(api.client, box["id"]) == []
    assert nothing_stored(api.data_dir, set())


async def test_raw_put_over_the_upload_limit_is_413_and_keeps_the_old_audio(
    api, big_audio, short_tone
):
    box = await api.client.create_box("3000")
    message = await api.client.create_message(box["id"], short_tone, caller_id_number="6001")
    files = media_files(api.data_dir)
    path = f"/vmboxes/{box['id']}/messages/{message['media_id']}"
    reply = await api.client.call(
        "PUT", f"{path}/raw", data=big_audio, headers={"Content-Type": "audio/wav"}
    )
    assert_error(reply, 413)
    assert nothing_stored(api.data_dir, files)
    assert (await api.client.get(path)).data["length"] == message["length"]


async def test_chunked_raw_put_over_the_upload_limit_is_413_and_keeps_the_old_audio(
    api, big_audio, short_tone
):
    box = await api.client.create_box("3000")
    message = await api.client.create_message(box["id"], short_tone, caller_id_number="6001")
    files = media_files(api.data_dir)
    path = f"/vmboxes/{box['id']}/messages/{message['media_id']}"
    reply = await api.client.call(
        "PUT", f"{path}/raw", data=streamed(big_audio), headers={"Content-Type": "audio/wav"}
    )
    assert_error(reply, 413)
    assert nothing_stored(api.data_dir, files)
    assert (await api.client.get(path)).data["length"] == message["length"]


@pytest.fixture(scope="module")
def hour_long_audio(tmp_path_factory) -> bytes:
    """An hour and a minute of silence as FLAC: about 15 kB on the wire, 59 MB once decoded."""
    path = tmp_path_factory.mktemp("long") / "long.flac"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "anullsrc=r=8000:cl=mono",
            "-t",
            str(MAX_AUDIO_S + 60),
            "-c:a",
            "flac",
            "-frame_size",
            "65535",
            str(path),
        ],
        check=True,
    )
    return path.read_bytes()


async def test_audio_longer_than_an_hour_is_413_and_stores_nothing_however_small(
    api, hour_long_audio, short_tone
):
    assert len(hour_long_audio) < UPLOAD_LIMIT
    box = await api.client.create_box("3000")
    body, content_type = multipart_body(
        [metadata_part(caller_id_number="6001"), ("audio/flac", hour_long_audio)]
    )
    reply = await api.client.call(
        "PUT", f"/vmboxes/{box['id']}/messages", data=body, headers={"Content-Type": content_type}
    )
    assert_error(reply, 413)
    assert f"longer than {MAX_AUDIO_S} s" in reply.body["data"]["message"]
    assert await box_messages(api.client, box["id"]) == []
    assert nothing_stored(api.data_dir, set())


async def test_chunked_upload_under_the_limit_is_accepted(api, short_tone):
    box = await api.client.create_box("3000")
    message = await api.client.create_message(box["id"], caller_id_number="6001")
    reply = await api.client.call(
        "PUT",
        f"/vmboxes/{box['id']}/messages/{message['media_id']}/raw",
        data=streamed(short_tone.read_bytes(), 1024),
        headers={"Content-Type": "audio/wav"},
    )
    assert reply.status == 200, reply.body
    assert abs(reply.data["length"] - 1000) <= 50
    assert len(media_files(api.data_dir)) == 1 and tmp_files(api.data_dir) == []


async def test_json_body_over_the_json_limit_is_413_and_creates_nothing(api):
    huge = json.dumps(
        {"data": {"name": "VMBox 0", "mailbox": "3000", "padding": "x" * (2 * 1024 * 1024)}}
    )
    reply = await api.client.call(
        "PUT",
        "/vmboxes",
        data=streamed(huge.encode()),
        headers={"Content-Type": "application/json"},
    )
    assert_error(reply, 413)
    assert (await api.client.get("/vmboxes")).data == []


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
async def test_valid_json_near_the_json_limit_is_read_whole(api, chunked):
    addresses = [
        f"user{i:06d}@example.com" for i in range(30_000)
    ]  # about 780 kB of JSON, under the 1 MiB limit
    body = json.dumps(
        {"data": {"name": "VMBox 0", "mailbox": "3000", "notify_email_addresses": addresses}}
    ).encode()
    assert 700_000 < len(body) < ApiOptions().max_json_bytes
    reply = await api.client.call(
        "PUT",
        "/vmboxes",
        data=streamed(body, 8192) if chunked else body,
        headers={"Content-Type": "application/json"},
    )
    assert reply.status == 201, reply.body
    assert reply.data["notify_email_addresses"] == addresses


# --- unknown endpoints, wrong methods, and the error envelope -------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/v2/nothing-here",
        "/v2/accounts/{account}/widgets",
        "/v2/accounts/{account}/vmboxes/{box}/messages/{message}/raw/extra",
        "/v3/accounts/{account}/vmboxes",
    ],
)
async def test_unknown_endpoint_is_404_in_kazoo_shape(api, path):
    box = await api.client.create_box("3000")
    message = await api.client.create_message(box["id"], caller_id_number="6001")
    reply = await api.client.get(
        path.format(account=api.client.account_id, box=box["id"], message=message["media_id"])
    )
    data = assert_error(reply, 404, "not_found")
    assert data["message"]


@pytest.mark.parametrize(
    "method, path",
    [
        ("DELETE", "/vmboxes"),
        ("PATCH", "/vmboxes/{box}/messages"),
        ("PUT", "/vmboxes/{box}/messages/{message}"),
        ("DELETE", "/vmboxes/{box}/messages/{message}/raw"),
        ("POST", "/healthz"),
    ],
)
async def test_wrong_method_is_405_with_allow(api, method, path):
    box = await api.client.create_box("3000")
    message = await api.client.create_message(box["id"], caller_id_number="6001")
    reply = await api.client.call(method, path.format(box=box["id"], message=message["media_id"]))
    assert_error(reply, 405)
    assert reply.headers["Allow"]
    assert method not in reply.headers["Allow"].split(",")
    assert (
        await api.client.get(f"/vmboxes/{box['id']}/messages/{message['media_id']}")
    ).status == 200


async def test_missing_or_bad_token_is_401_in_kazoo_shape(api):
    for token in ("", "not-a-token"):
        reply = await api.client.get("/vmboxes", token=token)
        assert_error(reply, 401)


async def test_error_echoes_a_sane_caller_request_id(api):
    reply = await api.client.get(f"/vmboxes/{UNKNOWN_BOX}", headers={"X-Request-ID": "trace-1234"})
    assert_error(reply, 404)
    assert reply.body["request_id"] == "trace-1234"


async def test_each_error_has_its_own_request_id(api):
    first = await api.client.get(f"/vmboxes/{UNKNOWN_BOX}")
    second = await api.client.get(f"/vmboxes/{UNKNOWN_BOX}")
    assert_error(first, 404)
    assert_error(second, 404)
    assert first.body["request_id"] != second.body["request_id"]


# --- nothing half-written after a failure ---------------------------------------------------------------


async def paused(head: bytes, tail: bytes, sent_head: asyncio.Event, resume: asyncio.Event):
    """A chunked body that stops after `head` until `resume` is set."""
    yield head
    sent_head.set()
    await resume.wait()
    yield tail


async def test_create_in_a_box_deleted_during_the_upload_leaves_no_file(api, short_tone):
    box = await api.client.create_box("3000")
    body, content_type = multipart_body(
        [metadata_part(caller_id_number="6001"), ("audio/wav", short_tone.read_bytes())]
    )
    sent_head, resume = asyncio.Event(), asyncio.Event()
    upload = asyncio.create_task(
        api.client.call(
            "PUT",
            f"/vmboxes/{box['id']}/messages",
            data=paused(body[:8000], body[8000:], sent_head, resume),
            headers={"Content-Type": content_type},
        )
    )
    await sent_head.wait()
    assert (await api.client.delete(f"/vmboxes/{box['id']}")).status == 200
    resume.set()
    reply = await upload
    data = assert_error(reply, 404, "bad_identifier")
    assert data["cause"] == box["id"]
    assert nothing_stored(api.data_dir, set())


async def test_raw_put_to_a_message_deleted_during_the_upload_leaves_no_file(api, short_tone):
    box = await api.client.create_box("3000")
    message = await api.client.create_message(box["id"], caller_id_number="6001")
    audio = short_tone.read_bytes()
    sent_head, resume = asyncio.Event(), asyncio.Event()
    path = f"/vmboxes/{box['id']}/messages/{message['media_id']}"
    upload = asyncio.create_task(
        api.client.call(
            "PUT",
            f"{path}/raw",
            data=paused(audio[:4000], audio[4000:], sent_head, resume),
            headers={"Content-Type": "audio/wav"},
        )
    )
    await sent_head.wait()
    assert (await api.client.delete(path)).status == 200
    resume.set()
    reply = await upload
    assert_error(reply, 404, "bad_identifier")
    assert nothing_stored(api.data_dir, set())


async def test_create_with_audio_and_invalid_metadata_leaves_no_file(api, short_tone):
    box = await api.client.create_box("3000")
    body, content_type = multipart_body(
        [metadata_part(folder="archive"), ("audio/wav", short_tone.read_bytes())]
    )
    reply = await api.client.call(
        "PUT", f"/vmboxes/{box['id']}/messages", data=body, headers={"Content-Type": content_type}
    )
    errors = assert_error(reply, 400, "validation error")
    assert "enum" in errors["folder"]
    assert await box_messages(api.client, box["id"]) == []
    assert nothing_stored(api.data_dir, set())


async def test_create_with_audio_older_than_retention_leaves_no_file(api, short_tone):
    box = await api.client.create_box("3000")
    body, content_type = multipart_body(
        [metadata_part(timestamp=63630058722), ("audio/wav", short_tone.read_bytes())]
    )
    reply = await api.client.call(
        "PUT", f"/vmboxes/{box['id']}/messages", data=body, headers={"Content-Type": content_type}
    )
    errors = assert_error(reply, 400, "validation error")
    assert "date_range" in errors["timestamp"]
    assert nothing_stored(api.data_dir, set())


async def test_restart_removes_audio_files_no_row_refers_to(api, short_tone):
    box = await api.client.create_box("3000")
    await api.client.create_message(box["id"], short_tone, caller_id_number="6001")
    kept = media_files(api.data_dir)
    assert len(kept) == 1
    media = api.data_dir / "media"
    orphans = [
        media / api.client.account_id / f"{secrets.token_hex(16)}.wav",
        media / api.other.account_id / f"{secrets.token_hex(16)}.wav",
    ]
    for orphan in orphans:
        orphan.parent.mkdir(parents=True, exist_ok=True)
        orphan.write_bytes(short_tone.read_bytes())
        os.utime(orphan, (time.time() - 2 * ORPHAN_AGE_S,) * 2)  # long left, on every store
    (api.data_dir / "tmp" / "leftover.upload").write_bytes(b"half an upload")
    restarted = await open_store(api.data_dir, retention_days=93, url=api.store_url)
    try:
        assert media_files(api.data_dir) == kept
        assert not any(orphan.exists() for orphan in orphans)
        assert tmp_files(api.data_dir) == []
    finally:
        await restarted.db.close()
    messages = await box_messages(api.client, box["id"])
    assert (
        await api.client.get(f"/vmboxes/{box['id']}/messages/{messages[0]['media_id']}/raw")
    ).status == 200
