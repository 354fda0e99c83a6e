"""Voicemail messages through the REST API: metadata, listings, folder changes, moves, copies, deletes and
retention, with the box counts of GET /vmboxes checked against the listings after every change.

Black-box: a real server on a loopback port with a real SQLite file. The store is touched directly only to
age a message past retention (no API goes back in time) and to run the periodic expiry sweep.
"""

import base64
import io
import json
import re
import time
import wave
from datetime import UTC, datetime

import pytest

from store.accounts import create_account, create_token
from store.messages import set_transcription
from store.retention import expire_messages, purge_messages
from tests.conftest import ApiClient, make_tone, media_files
from tests.storekit import drop_field, set_timestamp

GREGORIAN_OFFSET = 62167219200  # seconds from 0000-01-01 to 1970-01-01
DAY = 86400
MAX_CREATED_SPAN_S = 31 * DAY + 3600
MESSAGE_ID = re.compile(r"([0-9]{6})-[0-9a-f]{32}")
UNKNOWN_BOX = "0123456789abcdef0123456789abcdef"
REALM = "a.vmbox"  # the realm of the test account "A", made from its name


def now() -> int:
    return int(time.time()) + GREGORIAN_OFFSET


def month_of(gregorian: int) -> str:
    return datetime.fromtimestamp(gregorian - GREGORIAN_OFFSET, UTC).strftime("%Y%m")


def unknown_message_id() -> str:
    return f"{month_of(now())}-{'ab' * 16}"


def encoded_key(value: object) -> str:
    """A start key made the way the server makes them (URL-safe base64 of JSON), for forging."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


async def listed_ids(client, box_id: str, query: str = "") -> list[str]:
    """Ids of a box's listing, unpaginated, in the order given."""
    reply = await client.get(f"/vmboxes/{box_id}/messages?paginate=false{query}")
    assert reply.status == 200, reply.body
    return [message["media_id"] for message in reply.data]


async def account_listing(client, query: str = "") -> list[tuple[str, str]]:
    """(box id, message id) of the account-wide listing, unpaginated, in the order given."""
    reply = await client.get(f"/vmboxes/messages?paginate=false{query}")
    assert reply.status == 200, reply.body
    pairs = []
    for item in reply.data:
        ((box_id, message),) = item.items()
        pairs.append((box_id, message["media_id"]))
    return pairs


async def assert_counts(client, box_id: str, new: int, saved: int) -> None:
    """GET /vmboxes shows these counts for the box, and they agree with what its listings hold."""
    reply = await client.get("/vmboxes?paginate=false")
    assert reply.status == 200, reply.body
    (entry,) = [entry for entry in reply.data if entry["id"] == box_id]
    # KAZOO's listing leaves `folders` out for a box without messages in any folder.
    folders = entry.get("folders", {"new": 0, "saved": 0})
    assert (entry["messages"], folders) == (new + saved, {"new": new, "saved": saved})
    assert len(await listed_ids(client, box_id, "&filter_folder=new")) == new
    assert len(await listed_ids(client, box_id, "&filter_folder=saved")) == saved


async def age_past_retention(store, message_id: str) -> int:
    """Make a message a minute older than the retention period allows; return its new timestamp."""
    old = store.cutoff() - 60
    async with store.db.transaction() as tx:
        changed = await set_timestamp(tx, message_id, old)
    assert changed == 1
    return old


async def change(client, box_id: str, message_id: str, data: dict | None = None, query: str = ""):
    return await client.post(
        f"/vmboxes/{box_id}/messages/{message_id}{query}", None if data is None else {"data": data}
    )


async def history_of(api, message_id: str) -> list[dict]:
    """The history the store keeps of a message (the API never shows it, as KAZOO's)."""
    row = await api.store.db.fetch_one("SELECT history FROM messages WHERE id = ?", (message_id,))
    return json.loads(row["history"] or "[]")


def wav_seconds(audio: bytes) -> float:
    with wave.open(io.BytesIO(audio), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


@pytest.fixture
async def box(api) -> str:
    return (await api.client.create_box("3000"))["id"]


@pytest.fixture
async def other_box(api) -> str:
    return (await api.client.create_box("3001"))["id"]


# --- creating a message from JSON metadata -------------------------------------------------------------


async def test_create_returns_201_with_kazoo_defaults(api, box):
    before = now()
    reply = await api.client.put(f"/vmboxes/{box}/messages", {"data": {}})
    after = now()
    assert reply.status == 201, reply.body
    message = reply.data
    assert message["caller_id_number"] == "anonymous"
    assert message["caller_id_name"] == "anonymous"
    assert (message["from"], message["from_user"], message["from_realm"]) == (
        f"anonymous@{REALM}",
        "anonymous",
        REALM,
    )
    assert (message["to"], message["to_user"], message["to_realm"]) == (
        f"3000@{REALM}",
        "3000",
        REALM,
    )
    assert message["length"] == 1
    assert message["folder"] == "new"
    assert re.fullmatch(r"[0-9a-f]{24}", message["call_id"])  # KAZOO's 12 random bytes
    assert before <= message["timestamp"] <= after


async def test_create_keeps_the_metadata_sent_as_in_the_seed(api, box):
    sent = {
        "caller_id_name": "someone",
        "caller_id_number": "6001",
        "folder": "new",
        "from": "someone@farfaraway.com",
    }
    reply = await api.client.put(f"/vmboxes/{box}/messages", {"data": sent})
    assert reply.status == 201, reply.body
    # A `from` naming its own realm is kept as the seed shows it (KAZOO 4.3 would add its realm again).
    assert {key: reply.data[key] for key in sent} == sent
    assert (reply.data["from_user"], reply.data["from_realm"]) == ("someone", "farfaraway.com")
    assert reply.data["to"] == f"3000@{REALM}"


async def test_from_defaults_to_the_caller_number_in_the_account_s_realm(api, box):
    message = await api.client.create_message(box, caller_id_number="6001")
    assert (message["from"], message["from_user"]) == (f"6001@{REALM}", "6001")


async def test_a_bare_from_and_to_get_the_account_s_realm(api, box):
    message = await api.client.create_message(box, **{"from": "6001", "to": "3999"})
    assert (message["from"], message["to"]) == (f"6001@{REALM}", f"3999@{REALM}")
    assert (message["to_user"], message["to_realm"]) == ("3999", REALM)


async def test_the_caller_name_defaults_to_anonymous_not_to_the_number(api, box):
    message = await api.client.create_message(box, caller_id_number="6001")
    assert message["caller_id_name"] == "anonymous"


async def test_empty_strings_get_the_defaults_as_in_kazoo(api, box):
    empty = dict.fromkeys(("caller_id_number", "caller_id_name", "from", "to", "call_id"), "")
    message = await api.client.create_message(box, **empty)
    assert (message["caller_id_number"], message["caller_id_name"]) == ("anonymous", "anonymous")
    assert (message["from"], message["to"]) == (f"anonymous@{REALM}", f"3000@{REALM}")
    assert message["call_id"]


async def test_the_address_parts_are_the_server_s_own(api, box):
    message = await api.client.create_message(
        box, caller_id_number="6001", from_user="forged", to_realm="forged.example.com"
    )
    assert (message["from_user"], message["to_realm"]) == ("6001", REALM)


async def test_an_account_created_with_a_realm_uses_it(api):
    account, _ = await create_account(api.store.db, "C", "pbx.example.com")
    token, _ = await create_token(api.store.db, account.id, 3600)
    client = ApiClient(api.client.session, api.base, account.id, token)
    box = (await client.create_box("3000"))["id"]
    message = await client.create_message(box, caller_id_number="6001")
    assert (message["from"], message["to"]) == ("6001@pbx.example.com", "3000@pbx.example.com")


async def test_message_id_is_month_and_32_hex_and_is_the_media_id(api, box):
    message = await api.client.create_message(box)
    match = MESSAGE_ID.fullmatch(message["media_id"])
    assert match is not None, message["media_id"]
    assert match[1] == month_of(message["timestamp"])
    fetched = await api.client.get(f"/vmboxes/{box}/messages/{message['media_id']}")
    assert fetched.status == 200
    assert fetched.data["media_id"] == message["media_id"]


async def test_supplied_timestamp_sets_the_time_and_the_id_month(api, box):
    # 40 days back is always in an earlier calendar month than today.
    timestamp = now() - 40 * DAY
    message = await api.client.create_message(box, timestamp=timestamp)
    assert message["timestamp"] == timestamp
    assert message["media_id"].startswith(month_of(timestamp) + "-")
    assert month_of(timestamp) != month_of(now())


async def test_server_owned_keys_in_the_request_are_ignored(api, box):
    forged_id = "201601-" + "cd" * 16
    message = await api.client.create_message(
        box,
        caller_id_number="6001",
        media_id=forged_id,
        id=forged_id,
        _id=forged_id,
        history=[{"box_id": UNKNOWN_BOX}],
        transcription={"result": "success", "text": "forged"},
    )
    assert message["media_id"] != forged_id
    assert MESSAGE_ID.fullmatch(message["media_id"])
    assert not {"history", "transcription", "id", "_id"} & set(message)
    fetched = await api.client.get(f"/vmboxes/{box}/messages/{message['media_id']}")
    assert not {"history", "transcription", "id", "_id"} & set(fetched.data)
    missing = await api.client.get(f"/vmboxes/{box}/messages/{forged_id}")
    assert missing.status == 404


async def test_each_message_gets_its_own_id_and_call_id(api, box):
    first = await api.client.create_message(box)
    second = await api.client.create_message(box)
    assert first["media_id"] != second["media_id"]
    assert first["call_id"] != second["call_id"]


async def test_create_older_than_retention_is_rejected_and_nothing_is_stored(api, box):
    too_old = api.store.cutoff() - 3600
    reply = await api.client.put(f"/vmboxes/{box}/messages", {"data": {"timestamp": too_old}})
    assert reply.status == 400
    assert reply.body["message"] == "validation error"
    assert "date_range" in reply.data["timestamp"]
    assert reply.data["timestamp"]["date_range"]["value"] == too_old
    assert await listed_ids(api.client, box) == []
    await assert_counts(api.client, box, new=0, saved=0)


async def test_create_just_inside_retention_is_accepted(api, box):
    timestamp = api.store.cutoff() + 3600
    message = await api.client.create_message(box, timestamp=timestamp)
    assert await listed_ids(api.client, box) == [message["media_id"]]


@pytest.mark.parametrize(
    "field, value, rule",
    [
        ("folder", "inbox", "enum"),
        ("caller_id_name", "x" * 36, "maxLength"),
        ("caller_id_number", "1" * 36, "maxLength"),
        ("length", "long", "type"),
        ("timestamp", "yesterday", "type"),
    ],
)
async def test_create_with_invalid_metadata_is_a_validation_error(api, box, field, value, rule):
    reply = await api.client.put(f"/vmboxes/{box}/messages", {"data": {field: value}})
    assert reply.status == 400
    assert rule in reply.data[field]
    assert await listed_ids(api.client, box, "&filter_folder=new") == []


async def test_create_in_an_unknown_box_is_404(api):
    reply = await api.client.put(f"/vmboxes/{UNKNOWN_BOX}/messages", {"data": {}})
    assert reply.status == 404
    assert reply.body["message"] == "bad_identifier"


async def test_create_in_another_accounts_box_is_404(api, box):
    reply = await api.other.put(f"/vmboxes/{box}/messages", {"data": {}})
    assert reply.status == 404
    assert await listed_ids(api.client, box) == []


async def test_created_messages_are_counted_in_their_folder(api, box):
    await api.client.create_message(box)
    await api.client.create_message(box, folder="saved")
    await api.client.create_message(box, folder="saved")
    await api.client.create_message(box, folder="deleted")
    await assert_counts(api.client, box, new=1, saved=2)


# --- fetching one message ------------------------------------------------------------------------------


async def test_fetch_returns_the_message_as_created(api, box):
    created = await api.client.create_message(
        box, caller_id_number="6001", caller_id_name="Caller", call_id="abc@host", length=3140
    )
    reply = await api.client.get(f"/vmboxes/{box}/messages/{created['media_id']}")
    assert reply.status == 200
    assert reply.data == created
    assert reply.body["status"] == "success"


async def test_fetch_of_an_unknown_message_is_404(api, box):
    ident = unknown_message_id()
    reply = await api.client.get(f"/vmboxes/{box}/messages/{ident}")
    assert reply.status == 404
    assert reply.data["cause"] == ident


async def test_fetch_through_another_box_of_the_account_is_404(api, box, other_box):
    message = await api.client.create_message(box)
    reply = await api.client.get(f"/vmboxes/{other_box}/messages/{message['media_id']}")
    assert reply.status == 404


async def test_fetch_from_another_account_is_404(api, box):
    message = await api.client.create_message(box)
    reply = await api.other.get(f"/vmboxes/{box}/messages/{message['media_id']}")
    assert reply.status == 404
    assert "caller_id_number" not in json.dumps(reply.body)


# --- listing one box -----------------------------------------------------------------------------------


async def test_listing_is_newest_first(api, box):
    t = now()
    middle = await api.client.create_message(box, timestamp=t - 200)
    newest = await api.client.create_message(box, timestamp=t - 100)
    oldest = await api.client.create_message(box, timestamp=t - 300)
    reply = await api.client.get(f"/vmboxes/{box}/messages")
    assert reply.status == 200
    assert [m["media_id"] for m in reply.data] == [
        newest["media_id"],
        middle["media_id"],
        oldest["media_id"],
    ]


# KAZOO's view fields, in its order (mailbox_messages/listing_by_mailbox); GET one gives the rest.
VIEW_FIELDS = [
    "timestamp",
    "from",
    "to",
    "caller_id_number",
    "caller_id_name",
    "call_id",
    "folder",
    "length",
    "media_id",
]


async def test_listing_items_are_kazoo_s_view_fields_only(api, box):
    created = await api.client.create_message(
        box, caller_id_number="6001", caller_id_name="Caller", note="kept, shown by GET only"
    )
    reply = await api.client.get(f"/vmboxes/{box}/messages")
    [item] = reply.data
    assert list(item) == VIEW_FIELDS  # no transcription: no `transcribed`
    assert item == {field: created[field] for field in VIEW_FIELDS}
    fetched = await api.client.get(f"/vmboxes/{box}/messages/{created['media_id']}")
    assert fetched.data == created and fetched.data["note"] == "kept, shown by GET only"


@pytest.mark.parametrize("result, shown", [("success", True), ("failure", False)])
async def test_listing_says_transcribed_not_the_text(api, box, result, shown):
    created = await api.client.create_message(box)
    await set_transcription(
        api.store, api.client.account_id, box, created["media_id"], result, "hello there"
    )
    [item] = (await api.client.get(f"/vmboxes/{box}/messages")).data
    assert item["transcribed"] is shown and list(item) == [*VIEW_FIELDS, "transcribed"]
    assert "hello there" not in json.dumps(item)
    [(_, entry)] = [
        pair for item in (await api.client.get("/vmboxes/messages")).data for pair in item.items()
    ]
    assert entry == item
    fetched = await api.client.get(f"/vmboxes/{box}/messages/{created['media_id']}")
    assert fetched.data["transcription"] == {"result": result, "text": "hello there"}


async def test_a_field_a_message_lacks_is_left_out_of_its_entry(api, box):
    created = await api.client.create_message(box)
    async with api.store.db.transaction() as tx:  # as an older document might lack it
        await drop_field(tx, created["media_id"], "call_id")
    [item] = (await api.client.get(f"/vmboxes/{box}/messages")).data
    assert "call_id" not in item and list(item) == [f for f in VIEW_FIELDS if f != "call_id"]


async def test_ascending_true_lists_oldest_first(api, box):
    t = now()
    ids = [
        (await api.client.create_message(box, timestamp=t - age))["media_id"]
        for age in (200, 100, 300)
    ]
    reply = await api.client.get(f"/vmboxes/{box}/messages?ascending=true")
    assert [m["media_id"] for m in reply.data] == [ids[2], ids[0], ids[1]]


async def test_pages_hold_50_messages_by_default(api, box):
    t = now()
    created = [
        (await api.client.create_message(box, timestamp=t - i))["media_id"] for i in range(55)
    ]
    first = await api.client.get(f"/vmboxes/{box}/messages")
    assert first.status == 200
    assert len(first.data) == 50
    assert first.body["page_size"] == 50
    assert [m["media_id"] for m in first.data] == created[:50]
    second = await api.client.get(
        f"/vmboxes/{box}/messages?start_key={first.body['next_start_key']}"
    )
    assert second.status == 200
    assert [m["media_id"] for m in second.data] == created[50:]
    assert second.body["page_size"] == 5
    assert second.body["start_key"] == first.body["next_start_key"]
    assert "next_start_key" not in second.body


async def test_custom_page_size(api, box):
    t = now()
    created = [
        (await api.client.create_message(box, timestamp=t - i))["media_id"] for i in range(5)
    ]
    first = await api.client.get(f"/vmboxes/{box}/messages?page_size=2")
    assert [m["media_id"] for m in first.data] == created[:2]
    assert first.body["page_size"] == 2
    assert "next_start_key" in first.body


async def test_no_next_start_key_when_the_last_page_is_exactly_full(api, box):
    for _ in range(3):
        await api.client.create_message(box)
    reply = await api.client.get(f"/vmboxes/{box}/messages?page_size=3")
    assert len(reply.data) == 3
    assert "next_start_key" not in reply.body


async def test_empty_listing_has_no_next_start_key(api, box):
    reply = await api.client.get(f"/vmboxes/{box}/messages")
    assert reply.status == 200
    assert reply.data == []
    assert reply.body["page_size"] == 0
    assert "next_start_key" not in reply.body


@pytest.mark.parametrize("ascending", [False, True], ids=["newest-first", "ascending"])
async def test_walking_all_pages_yields_every_message_once_even_with_equal_timestamps(
    api, box, ascending
):
    t = now() - 60
    created = set()
    for i in range(11):
        # Seven messages share one timestamp: the page boundary falls inside the tie.
        timestamp = t if i < 7 else t - i
        created.add((await api.client.create_message(box, timestamp=timestamp))["media_id"])
    seen, pages, start = [], 0, None
    while True:
        query = f"page_size=3&ascending={str(ascending).lower()}" + (
            f"&start_key={start}" if start else ""
        )
        reply = await api.client.get(f"/vmboxes/{box}/messages?{query}")
        assert reply.status == 200, reply.body
        seen += [m["media_id"] for m in reply.data]
        pages += 1
        start = reply.body.get("next_start_key")
        if start is None:
            break
        assert pages < 10, "pagination does not end"
    assert len(seen) == len(set(seen)) == 11
    assert set(seen) == created
    assert pages == 4
    everything = await listed_ids(api.client, box, f"&ascending={str(ascending).lower()}")
    assert seen == everything


@pytest.mark.parametrize(
    "key",
    [
        "not-a-key!",
        encoded_key({"timestamp": 63900000000}),
        encoded_key("202401-" + "ab" * 16),
        encoded_key([63900000000]),
        encoded_key([1.5, "202401-" + "ab" * 16]),
        encoded_key([True, "202401-" + "ab" * 16]),
        encoded_key([10**30, "202401-" + "ab" * 16]),
    ],
    ids=["garbage", "object", "string", "short-list", "float", "bool", "huge"],
)
async def test_a_forged_start_key_is_an_empty_page_as_in_kazoo(api, box, key):
    # KAZOO never refuses a start key: one no entry follows gives an empty page.
    await api.client.create_message(box)
    reply = await api.client.get(f"/vmboxes/{box}/messages?start_key={key}")
    assert reply.status == 200, reply.body
    assert reply.data == []
    assert reply.body["start_key"] == key
    assert "next_start_key" not in reply.body


async def test_a_truncated_start_key_is_an_empty_page(api, box):
    for _ in range(3):
        await api.client.create_message(box)
    first = await api.client.get(f"/vmboxes/{box}/messages?page_size=1")
    key = first.body["next_start_key"]
    reply = await api.client.get(f"/vmboxes/{box}/messages?page_size=1&start_key={key[:-4]}")
    assert reply.status == 200, reply.body
    assert reply.data == [] and "next_start_key" not in reply.body


async def test_paginate_false_returns_everything_without_page_fields(api, box):
    for _ in range(55):
        await api.client.create_message(box)
    reply = await api.client.get(f"/vmboxes/{box}/messages?paginate=false")
    assert reply.status == 200
    assert len(reply.data) == 55
    assert not {"page_size", "start_key", "next_start_key"} & set(reply.body)


@pytest.mark.parametrize("name", ["paginate", "ascending"])
async def test_a_non_boolean_paginate_or_ascending_is_rejected(api, box, name):
    reply = await api.client.get(f"/vmboxes/{box}/messages?{name}=maybe")
    assert reply.status == 400
    assert "type" in reply.data[name]


async def test_created_from_and_created_to_bound_the_listing(api, box):
    t = now() - 10 * DAY
    ids = {
        days: (await api.client.create_message(box, timestamp=t + days * DAY))["media_id"]
        for days in range(5)
    }
    reply = await api.client.get(
        f"/vmboxes/{box}/messages?created_from={t + DAY}&created_to={t + 3 * DAY}"
    )
    assert reply.status == 200
    assert [m["media_id"] for m in reply.data] == [ids[3], ids[2], ids[1]]


async def test_created_from_alone_bounds_the_listing_from_below(api, box):
    t = now() - 10 * DAY
    ids = [
        (await api.client.create_message(box, timestamp=t + days * DAY))["media_id"]
        for days in range(3)
    ]
    assert await listed_ids(api.client, box, f"&created_from={t + DAY}") == [ids[2], ids[1]]


async def test_a_created_span_of_exactly_31_days_and_an_hour_is_accepted(api, box):
    t = now() - 40 * DAY
    inside = await api.client.create_message(box, timestamp=t + MAX_CREATED_SPAN_S)
    reply = await api.client.get(
        f"/vmboxes/{box}/messages?created_from={t}&created_to={t + MAX_CREATED_SPAN_S}"
    )
    assert reply.status == 200
    assert [m["media_id"] for m in reply.data] == [inside["media_id"]]


async def test_a_created_span_over_31_days_and_an_hour_is_a_date_range_error(api, box):
    t = now() - 40 * DAY
    reply = await api.client.get(
        f"/vmboxes/{box}/messages?created_from={t}&created_to={t + MAX_CREATED_SPAN_S + 1}"
    )
    assert reply.status == 400
    assert "date_range" in reply.data["created_from"]


async def test_created_from_alone_may_reach_back_31_days_and_an_hour_from_now(api, box):
    # KAZOO's range ends at created_to, else now: created_from alone is held to the same span.
    inside = await api.client.create_message(box, timestamp=now() - 31 * DAY)
    assert await listed_ids(api.client, box, f"&created_from={now() - 31 * DAY}") == [
        inside["media_id"]
    ]
    too_early = now() - MAX_CREATED_SPAN_S - 60
    before = now()
    reply = await api.client.get(f"/vmboxes/{box}/messages?created_from={too_early}")
    assert reply.status == 400
    range_error = reply.data["created_from"]["date_range"]
    assert before <= range_error["cause"] <= now()  # KAZOO's cause: the end of the range
    assert range_error["message"].startswith("created_to ")
    assert (
        f"is more than {MAX_CREATED_SPAN_S} seconds from created_from {too_early}"
        in (range_error["message"])
    )


async def test_created_to_before_created_from_is_a_date_range_error(api, box):
    t = now() - DAY
    reply = await api.client.get(f"/vmboxes/{box}/messages?created_from={t}&created_to={t - 1}")
    assert reply.status == 400
    assert "date_range" in reply.data["created_from"]


@pytest.mark.parametrize(
    "query",
    [
        "created_from=yesterday",
        "created_to=1.5",
        f"created_from={10**30}&created_to={10**30}",
    ],
    ids=["word", "float", "beyond-any-date"],
)
async def test_a_bad_created_bound_is_rejected(api, box, query):
    reply = await api.client.get(f"/vmboxes/{box}/messages?{query}")
    assert reply.status == 400, reply.body
    assert {"created_from", "created_to"} & set(reply.data)


async def test_filter_folder_lists_only_that_folder(api, box):
    new = await api.client.create_message(box)
    saved = await api.client.create_message(box, folder="saved")
    assert await listed_ids(api.client, box, "&filter_folder=saved") == [saved["media_id"]]
    assert await listed_ids(api.client, box, "&filter_folder=new") == [new["media_id"]]


async def test_an_unknown_filter_folder_matches_nothing(api, box):
    # KAZOO compares filter values with the stored text: no folder is "inbox", and that is no error.
    await api.client.create_message(box)
    reply = await api.client.get(f"/vmboxes/{box}/messages?filter_folder=inbox")
    assert reply.status == 200, reply.body
    assert reply.data == []


async def test_filter_caller_id_number_lists_only_that_caller(api, box):
    t = now()
    first = await api.client.create_message(box, caller_id_number="6001", timestamp=t - 2)
    await api.client.create_message(box, caller_id_number="6002", timestamp=t - 1)
    last = await api.client.create_message(box, caller_id_number="6001", timestamp=t)
    assert await listed_ids(api.client, box, "&filter_caller_id_number=6001") == [
        last["media_id"],
        first["media_id"],
    ]
    assert await listed_ids(api.client, box, "&filter_caller_id_number=7000") == []


async def test_filters_combine(api, box):
    await api.client.create_message(box, caller_id_number="6001")
    wanted = await api.client.create_message(box, caller_id_number="6001", folder="saved")
    await api.client.create_message(box, caller_id_number="6002", folder="saved")
    query = "&filter_folder=saved&filter_caller_id_number=6001"
    assert await listed_ids(api.client, box, query) == [wanted["media_id"]]


async def test_deleted_folder_is_hidden_by_default_and_shown_by_filter_folder(api, box):
    kept = await api.client.create_message(box)
    binned = await api.client.create_message(box, folder="deleted")
    assert await listed_ids(api.client, box) == [kept["media_id"]]
    assert await listed_ids(api.client, box, "&filter_folder=deleted") == [binned["media_id"]]
    assert [box_id for box_id, _ in await account_listing(api.client)] == [box]


async def test_listing_an_unknown_box_is_404(api):
    reply = await api.client.get(f"/vmboxes/{UNKNOWN_BOX}/messages")
    assert reply.status == 404


async def test_listing_another_accounts_box_is_404(api, box):
    await api.client.create_message(box)
    reply = await api.other.get(f"/vmboxes/{box}/messages")
    assert reply.status == 404
    assert "media_id" not in json.dumps(reply.body)


# --- the account-wide listing --------------------------------------------------------------------------


async def test_account_listing_holds_every_box_keyed_by_box_id_newest_first(api):
    boxes = [(await api.client.create_box(str(3000 + i)))["id"] for i in range(3)]
    t = now()
    expected = []
    for age, box_id in enumerate([boxes[0], boxes[1], boxes[2], boxes[1], boxes[0]]):
        message = await api.client.create_message(box_id, timestamp=t - age)
        expected.append((box_id, message["media_id"]))
    reply = await api.client.get("/vmboxes/messages")
    assert reply.status == 200
    assert all(len(item) == 1 for item in reply.data)
    assert reply.data[0][boxes[0]]["timestamp"] == t
    assert await account_listing(api.client) == expected


async def test_account_listing_leaves_out_other_accounts(api, box):
    mine = await api.client.create_message(box)
    theirs = (await api.other.create_box("3000"))["id"]
    await api.other.create_message(theirs)
    assert await account_listing(api.client) == [(box, mine["media_id"])]


async def test_account_listing_paginates_across_boxes(api, box, other_box):
    t = now()
    for i in range(5):
        await api.client.create_message(box if i % 2 else other_box, timestamp=t - i)
    first = await api.client.get("/vmboxes/messages?page_size=3")
    assert len(first.data) == 3 and "next_start_key" in first.body
    second = await api.client.get(
        f"/vmboxes/messages?page_size=3&start_key={first.body['next_start_key']}"
    )
    assert len(second.data) == 2 and "next_start_key" not in second.body
    walked = [(b, m["media_id"]) for item in first.data + second.data for b, m in item.items()]
    assert walked == await account_listing(api.client)


async def test_account_listing_filters_by_folder(api, box, other_box):
    await api.client.create_message(box)
    saved = await api.client.create_message(other_box, folder="saved")
    assert await account_listing(api.client, "&filter_folder=saved") == [
        (other_box, saved["media_id"])
    ]


# --- changing one message: folder ----------------------------------------------------------------------


async def test_change_folder_via_the_body(api, box):
    message = await api.client.create_message(box)
    reply = await change(api.client, box, message["media_id"], {"folder": "saved"})
    assert reply.status == 200, reply.body
    assert reply.data["folder"] == "saved"
    assert reply.data["media_id"] == message["media_id"]
    fetched = await api.client.get(f"/vmboxes/{box}/messages/{message['media_id']}")
    assert fetched.data["folder"] == "saved"
    await assert_counts(api.client, box, new=0, saved=1)


async def test_change_folder_via_the_query_string(api, box):
    message = await api.client.create_message(box, folder="saved")
    reply = await change(api.client, box, message["media_id"], query="?folder=new")
    assert reply.status == 200, reply.body
    assert reply.data["folder"] == "new"
    await assert_counts(api.client, box, new=1, saved=0)


async def test_folder_in_the_body_wins_over_the_query_string(api, box):
    message = await api.client.create_message(box)
    reply = await change(
        api.client, box, message["media_id"], {"folder": "deleted"}, query="?folder=saved"
    )
    assert reply.data["folder"] == "deleted"


async def test_change_without_a_folder_defaults_to_saved(api, box):
    message = await api.client.create_message(box)
    reply = await change(api.client, box, message["media_id"], {})
    assert reply.status == 200, reply.body
    assert reply.data["folder"] == "saved"
    await assert_counts(api.client, box, new=0, saved=1)


async def test_change_to_an_invalid_folder_is_rejected_and_changes_nothing(api, box):
    message = await api.client.create_message(box)
    reply = await change(api.client, box, message["media_id"], {"folder": "archive"})
    assert reply.status == 400
    assert reply.data["folder"]["enum"]["value"] == "archive"
    fetched = await api.client.get(f"/vmboxes/{box}/messages/{message['media_id']}")
    assert fetched.data["folder"] == "new"
    await assert_counts(api.client, box, new=1, saved=0)


async def test_folder_change_changes_the_revision(api, box):
    message = await api.client.create_message(box)
    before = await api.client.get(f"/vmboxes/{box}/messages/{message['media_id']}")
    after = await change(api.client, box, message["media_id"], {"folder": "saved"})
    assert after.body["revision"] != before.body["revision"]


async def test_a_message_put_in_deleted_is_recoverable(api, box):
    message = await api.client.create_message(box)
    binned = await change(api.client, box, message["media_id"], {"folder": "deleted"})
    assert binned.data["folder"] == "deleted"
    assert await listed_ids(api.client, box) == []
    await assert_counts(api.client, box, new=0, saved=0)
    restored = await change(api.client, box, message["media_id"], {"folder": "new"})
    assert restored.status == 200
    assert await listed_ids(api.client, box) == [message["media_id"]]
    await assert_counts(api.client, box, new=1, saved=0)


async def test_change_of_an_unknown_message_is_404(api, box):
    reply = await change(api.client, box, unknown_message_id(), {"folder": "saved"})
    assert reply.status == 404
    assert reply.body["message"] == "bad_identifier"


async def test_change_from_another_account_is_404_and_changes_nothing(api, box):
    message = await api.client.create_message(box)
    reply = await change(api.other, box, message["media_id"], {"folder": "saved"})
    assert reply.status == 404
    await assert_counts(api.client, box, new=1, saved=0)


# --- changing one message: move and copy ---------------------------------------------------------------


async def test_move_gives_a_new_id_in_the_target_box(api, box, other_box):
    message = await api.client.create_message(box, caller_id_number="6001", folder="saved")
    before = now()
    reply = await change(api.client, box, message["media_id"], {"source_id": other_box})
    assert reply.status == 200, reply.body
    moved = reply.data
    assert MESSAGE_ID.fullmatch(moved["media_id"]) and moved["media_id"] != message["media_id"]
    assert moved["folder"] == "new"
    assert moved["timestamp"] >= before
    assert moved["caller_id_number"] == "6001"
    assert (moved["to"], moved["to_user"], moved["to_realm"]) == (f"3001@{REALM}", "3001", REALM)
    assert moved["from"] == message["from"]
    assert "history" not in moved  # kept beside the metadata, as KAZOO keeps it
    [came_from] = await history_of(api, moved["media_id"])
    assert (came_from["box_id"], came_from["message_id"]) == (box, message["media_id"])
    assert await listed_ids(api.client, box, "&filter_folder=saved") == []
    assert (await api.client.get(f"/vmboxes/{box}/messages/{message['media_id']}")).status == 404
    fetched = await api.client.get(f"/vmboxes/{other_box}/messages/{moved['media_id']}")
    assert fetched.status == 200
    assert fetched.data == moved
    assert await listed_ids(api.client, other_box) == [moved["media_id"]]
    await assert_counts(api.client, box, new=0, saved=0)
    await assert_counts(api.client, other_box, new=1, saved=0)


async def test_moving_again_appends_to_the_history(api, box, other_box):
    message = await api.client.create_message(box)
    first = (await change(api.client, box, message["media_id"], {"source_id": other_box})).data
    second = (await change(api.client, other_box, first["media_id"], {"source_id": box})).data
    assert [(h["box_id"], h["message_id"]) for h in await history_of(api, second["media_id"])] == [
        (box, message["media_id"]),
        (other_box, first["media_id"]),
    ]
    fetched = await api.client.get(f"/vmboxes/{box}/messages/{second['media_id']}")
    assert "history" not in fetched.data
    assert await listed_ids(api.client, box, "&has_key=history") == []  # filters see the metadata


async def test_a_moved_message_keeps_its_audio(api, tmp_path):
    source = (await api.client.create_box("3000", media_extension="wav"))["id"]
    target = (await api.client.create_box("3001", media_extension="wav"))["id"]
    message = await api.client.create_message(source, audio=make_tone(tmp_path, 1.5))
    moved = (await change(api.client, source, message["media_id"], {"source_id": target})).data
    raw = await api.client.get(f"/vmboxes/{target}/messages/{moved['media_id']}/raw")
    assert raw.status == 200
    assert abs(wav_seconds(raw.body) - 1.5) < 0.05
    assert len(media_files(api.data_dir)) == 1


@pytest.mark.parametrize("target", ["unknown", "other-account"])
async def test_move_to_a_box_that_is_not_ours_is_404_and_the_message_stays(api, box, target):
    target_id = UNKNOWN_BOX if target == "unknown" else (await api.other.create_box("3000"))["id"]
    message = await api.client.create_message(box)
    reply = await change(api.client, box, message["media_id"], {"source_id": target_id})
    assert reply.status == 404
    assert await listed_ids(api.client, box) == [message["media_id"]]
    await assert_counts(api.client, box, new=1, saved=0)
    if target == "other-account":
        assert (await api.other.get(f"/vmboxes/{target_id}/messages")).data == []


async def test_move_to_a_malformed_box_id_is_404(api, box):
    message = await api.client.create_message(box)
    reply = await change(api.client, box, message["media_id"], {"source_id": "../etc"})
    assert reply.status == 404
    assert await listed_ids(api.client, box) == [message["media_id"]]


async def test_copy_with_a_source_id_list_leaves_the_original_untouched(api, box, other_box):
    message = await api.client.create_message(box, caller_id_number="6001", folder="saved")
    reply = await change(api.client, box, message["media_id"], {"source_id": [other_box]})
    assert reply.status == 200, reply.body
    (copy_id,) = reply.data["succeeded"]
    assert "failed" not in reply.data  # KAZOO leaves an empty failed out
    assert MESSAGE_ID.fullmatch(copy_id) and copy_id != message["media_id"]
    original = await api.client.get(f"/vmboxes/{box}/messages/{message['media_id']}")
    assert original.data == message
    copy = (await api.client.get(f"/vmboxes/{other_box}/messages/{copy_id}")).data
    assert copy["folder"] == "new"
    assert copy["caller_id_number"] == "6001"
    assert (copy["to"], copy["to_user"]) == (f"3001@{REALM}", "3001")
    assert original.data["to"] == f"3000@{REALM}"
    assert "history" not in copy
    [came_from] = await history_of(api, copy_id)
    assert (came_from["box_id"], came_from["message_id"]) == (box, message["media_id"])
    await assert_counts(api.client, box, new=0, saved=1)
    await assert_counts(api.client, other_box, new=1, saved=0)


async def test_copy_to_several_boxes_makes_one_copy_in_each(api, box):
    targets = [(await api.client.create_box(str(4000 + i)))["id"] for i in range(3)]
    message = await api.client.create_message(box)
    reply = await change(api.client, box, message["media_id"], {"source_id": targets})
    assert reply.status == 200, reply.body
    assert len(set(reply.data["succeeded"])) == 3
    for target in targets:
        (copy_id,) = await listed_ids(api.client, target)
        assert copy_id in reply.data["succeeded"]
        await assert_counts(api.client, target, new=1, saved=0)
    await assert_counts(api.client, box, new=1, saved=0)


async def test_each_copy_has_its_own_audio_file(api, tmp_path):
    source = (await api.client.create_box("3000", media_extension="wav"))["id"]
    targets = [
        (await api.client.create_box(str(4000 + i), media_extension="wav"))["id"] for i in range(2)
    ]
    message = await api.client.create_message(source, audio=make_tone(tmp_path, 1))
    reply = await change(api.client, source, message["media_id"], {"source_id": targets})
    assert len(media_files(api.data_dir)) == 3
    # Replacing the original's audio must leave the copies' audio as it was.
    replaced = await api.client.call(
        "PUT",
        f"/vmboxes/{source}/messages/{message['media_id']}/raw",
        data=make_tone(tmp_path, 2).read_bytes(),
        headers={"Content-Type": "audio/wav"},
    )
    assert replaced.status == 200, replaced.body
    for target, copy_id in zip(targets, reply.data["succeeded"], strict=True):
        raw = await api.client.get(f"/vmboxes/{target}/messages/{copy_id}/raw")
        assert raw.status == 200
        assert abs(wav_seconds(raw.body) - 1) < 0.05
    original = await api.client.get(f"/vmboxes/{source}/messages/{message['media_id']}/raw")
    assert abs(wav_seconds(original.body) - 2) < 0.05


async def test_copies_outlive_the_deletion_of_the_source_box(api, tmp_path):
    source = (await api.client.create_box("3000", media_extension="wav"))["id"]
    target = (await api.client.create_box("3001", media_extension="wav"))["id"]
    message = await api.client.create_message(source, audio=make_tone(tmp_path, 1))
    (copy_id,) = (
        await change(api.client, source, message["media_id"], {"source_id": [target]})
    ).data["succeeded"]
    assert (await api.client.delete(f"/vmboxes/{source}")).status == 200
    raw = await api.client.get(f"/vmboxes/{target}/messages/{copy_id}/raw")
    assert raw.status == 200
    assert abs(wav_seconds(raw.body) - 1) < 0.05


async def test_copy_to_an_unknown_box_is_404_and_copies_nothing(api, box, other_box, tmp_path):
    message = await api.client.create_message(box, audio=make_tone(tmp_path, 1))
    reply = await change(
        api.client, box, message["media_id"], {"source_id": [other_box, UNKNOWN_BOX]}
    )
    assert reply.status == 404
    assert await listed_ids(api.client, other_box) == []
    assert len(media_files(api.data_dir)) == 1
    await assert_counts(api.client, other_box, new=0, saved=0)
    await assert_counts(api.client, box, new=1, saved=0)


@pytest.mark.parametrize(
    "source_id", [[], 42, ["not-a-box"]], ids=["empty-list", "number", "bad-id-in-list"]
)
async def test_copy_with_a_malformed_source_id_is_rejected(api, box, source_id):
    message = await api.client.create_message(box)
    reply = await change(api.client, box, message["media_id"], {"source_id": source_id})
    assert reply.status == 400
    assert "source_id" in reply.data


# --- changing a list of messages -----------------------------------------------------------------------


async def test_bulk_folder_change_reports_unknown_ids_as_not_found(api, box):
    first = await api.client.create_message(box)
    second = await api.client.create_message(box)
    unknown = unknown_message_id()
    reply = await api.client.post(
        f"/vmboxes/{box}/messages",
        {"data": {"folder": "saved", "messages": [first["media_id"], unknown, second["media_id"]]}},
    )
    assert reply.status == 200, reply.body
    assert sorted(reply.data["succeeded"]) == sorted([first["media_id"], second["media_id"]])
    assert reply.data["failed"] == {unknown: "not_found"}
    assert sorted(await listed_ids(api.client, box, "&filter_folder=saved")) == sorted(
        reply.data["succeeded"]
    )
    await assert_counts(api.client, box, new=0, saved=2)


async def test_bulk_folder_change_via_the_query_string(api, box):
    message = await api.client.create_message(box)
    reply = await api.client.post(
        f"/vmboxes/{box}/messages?folder=deleted", {"data": {"messages": [message["media_id"]]}}
    )
    assert reply.data == {"succeeded": [message["media_id"]]}
    assert await listed_ids(api.client, box, "&filter_folder=deleted") == [message["media_id"]]
    await assert_counts(api.client, box, new=0, saved=0)


async def test_bulk_change_of_another_boxes_message_is_not_found(api, box, other_box):
    elsewhere = await api.client.create_message(other_box)
    reply = await api.client.post(
        f"/vmboxes/{box}/messages",
        {"data": {"folder": "saved", "messages": [elsewhere["media_id"]]}},
    )
    assert reply.data == {"failed": {elsewhere["media_id"]: "not_found"}}
    await assert_counts(api.client, other_box, new=1, saved=0)


async def test_bulk_folder_change_in_an_unknown_box_is_404(api):
    reply = await api.client.post(
        f"/vmboxes/{UNKNOWN_BOX}/messages",
        {"data": {"folder": "saved", "messages": [unknown_message_id()]}},
    )
    assert reply.status == 404
    assert reply.body["message"] == "bad_identifier"


async def test_bulk_folder_change_in_another_accounts_box_is_404_and_changes_nothing(api, box):
    message = await api.client.create_message(box)
    reply = await api.other.post(
        f"/vmboxes/{box}/messages", {"data": {"folder": "saved", "messages": [message["media_id"]]}}
    )
    assert reply.status == 404
    assert message["media_id"] not in json.dumps(reply.body)
    await assert_counts(api.client, box, new=1, saved=0)


async def test_bulk_move_lists_the_new_ids(api, box, other_box):
    ids = [(await api.client.create_message(box))["media_id"] for _ in range(3)]
    unknown = unknown_message_id()
    reply = await api.client.post(
        f"/vmboxes/{box}/messages",
        {"data": {"source_id": other_box, "messages": [*ids[:2], unknown]}},
    )
    assert reply.status == 200, reply.body
    assert reply.data["failed"] == {unknown: "not_found"}
    assert len(reply.data["succeeded"]) == 2 and not set(reply.data["succeeded"]) & set(ids)
    assert sorted(await listed_ids(api.client, other_box)) == sorted(reply.data["succeeded"])
    assert await listed_ids(api.client, box) == [ids[2]]
    await assert_counts(api.client, box, new=1, saved=0)
    await assert_counts(api.client, other_box, new=2, saved=0)


async def test_bulk_copy_lists_the_new_ids_and_keeps_the_originals(api, box, other_box):
    ids = [(await api.client.create_message(box, folder="saved"))["media_id"] for _ in range(2)]
    reply = await api.client.post(
        f"/vmboxes/{box}/messages", {"data": {"source_id": [other_box], "messages": ids}}
    )
    assert reply.status == 200, reply.body
    assert len(reply.data["succeeded"]) == 2 and not set(reply.data["succeeded"]) & set(ids)
    assert sorted(await listed_ids(api.client, other_box)) == sorted(reply.data["succeeded"])
    assert sorted(await listed_ids(api.client, box)) == sorted(ids)
    await assert_counts(api.client, box, new=0, saved=2)
    await assert_counts(api.client, other_box, new=2, saved=0)


async def test_an_id_listed_twice_is_moved_once(api, box, other_box):
    message = await api.client.create_message(box)
    reply = await api.client.post(
        f"/vmboxes/{box}/messages",
        {"data": {"source_id": other_box, "messages": [message["media_id"]] * 2}},
    )
    assert len(reply.data["succeeded"]) == 1
    assert "failed" not in reply.data  # KAZOO leaves an empty failed out
    assert await listed_ids(api.client, other_box) == reply.data["succeeded"]
    await assert_counts(api.client, other_box, new=1, saved=0)
    await assert_counts(api.client, box, new=0, saved=0)


async def test_bulk_move_to_an_unknown_box_is_404(api, box):
    message = await api.client.create_message(box)
    reply = await api.client.post(
        f"/vmboxes/{box}/messages",
        {"data": {"source_id": UNKNOWN_BOX, "messages": [message["media_id"]]}},
    )
    assert reply.status == 404
    assert await listed_ids(api.client, box) == [message["media_id"]]


@pytest.mark.parametrize(
    "data",
    [{"folder": "saved"}, {"folder": "saved", "messages": []}, {}],
    ids=["missing", "empty", "no-data"],
)
async def test_bulk_change_without_messages_is_messages_required(api, box, data):
    await api.client.create_message(box)
    reply = await api.client.post(f"/vmboxes/{box}/messages", {"data": data})
    assert reply.status == 400
    assert "required" in reply.data["messages"]
    await assert_counts(api.client, box, new=1, saved=0)


async def test_bulk_change_to_an_invalid_folder_is_rejected(api, box):
    message = await api.client.create_message(box)
    reply = await api.client.post(
        f"/vmboxes/{box}/messages",
        {"data": {"folder": "archive", "messages": [message["media_id"]]}},
    )
    assert reply.status == 400
    assert "enum" in reply.data["folder"]
    await assert_counts(api.client, box, new=1, saved=0)


# --- deleting ------------------------------------------------------------------------------------------


async def test_delete_one_returns_the_message_as_deleted_and_hides_it_everywhere(api, box):
    message = await api.client.create_message(box, caller_id_number="6001")
    kept = await api.client.create_message(box, folder="saved")
    before = await api.client.get(f"/vmboxes/{box}/messages/{message['media_id']}")
    reply = await api.client.delete(f"/vmboxes/{box}/messages/{message['media_id']}")
    assert reply.status == 200, reply.body
    # KAZOO files it in folder deleted (and soft-deletes it), and answers so.
    assert reply.data == {**message, "folder": "deleted"}
    assert reply.body["revision"] != before.body["revision"]
    assert (await api.client.get(f"/vmboxes/{box}/messages/{message['media_id']}")).status == 404
    assert await listed_ids(api.client, box) == [kept["media_id"]]
    for folder in ("new", "saved", "deleted"):
        assert message["media_id"] not in await listed_ids(
            api.client, box, f"&filter_folder={folder}"
        )
    assert await account_listing(api.client) == [(box, kept["media_id"])]
    await assert_counts(api.client, box, new=0, saved=1)


async def test_deleting_a_message_twice_is_404(api, box):
    message = await api.client.create_message(box)
    assert (await api.client.delete(f"/vmboxes/{box}/messages/{message['media_id']}")).status == 200
    again = await api.client.delete(f"/vmboxes/{box}/messages/{message['media_id']}")
    assert again.status == 404
    changed = await change(api.client, box, message["media_id"], {"folder": "new"})
    assert changed.status == 404
    await assert_counts(api.client, box, new=0, saved=0)


async def test_delete_one_from_another_account_is_404(api, box):
    message = await api.client.create_message(box)
    reply = await api.other.delete(f"/vmboxes/{box}/messages/{message['media_id']}")
    assert reply.status == 404
    assert await listed_ids(api.client, box) == [message["media_id"]]


async def fill(api, box: str) -> dict[str, list[str]]:
    """Two new, two saved and one deleted-folder message in `box`; their ids by folder."""
    ids: dict[str, list[str]] = {"new": [], "saved": [], "deleted": []}
    for folder in ("new", "new", "saved", "saved", "deleted"):
        ids[folder].append((await api.client.create_message(box, folder=folder))["media_id"])
    return ids


async def test_bulk_delete_without_a_body_deletes_every_message(api, box, other_box):
    ids = await fill(api, box)
    untouched = await api.client.create_message(other_box)
    reply = await api.client.delete(f"/vmboxes/{box}/messages")
    assert reply.status == 200, reply.body
    assert sorted(reply.data["succeeded"]) == sorted(ids["new"] + ids["saved"] + ids["deleted"])
    assert "failed" not in reply.data  # KAZOO leaves an empty failed out
    for folder in ("new", "saved", "deleted"):
        assert await listed_ids(api.client, box, f"&filter_folder={folder}") == []
    await assert_counts(api.client, box, new=0, saved=0)
    assert await listed_ids(api.client, other_box) == [untouched["media_id"]]


async def test_bulk_delete_with_folder_in_the_query_deletes_that_folder(api, box):
    ids = await fill(api, box)
    reply = await api.client.delete(f"/vmboxes/{box}/messages?folder=saved")
    assert sorted(reply.data["succeeded"]) == sorted(ids["saved"])
    assert sorted(await listed_ids(api.client, box)) == sorted(ids["new"])
    assert await listed_ids(api.client, box, "&filter_folder=deleted") == ids["deleted"]
    await assert_counts(api.client, box, new=2, saved=0)


async def test_bulk_delete_with_folder_in_the_body_deletes_that_folder(api, box):
    ids = await fill(api, box)
    reply = await api.client.delete(f"/vmboxes/{box}/messages", {"data": {"folder": "new"}})
    assert sorted(reply.data["succeeded"]) == sorted(ids["new"])
    assert sorted(await listed_ids(api.client, box)) == sorted(ids["saved"])
    await assert_counts(api.client, box, new=0, saved=2)


async def test_bulk_delete_of_the_deleted_folder_empties_it(api, box):
    ids = await fill(api, box)
    reply = await api.client.delete(f"/vmboxes/{box}/messages?folder=deleted")
    assert reply.data["succeeded"] == ids["deleted"]
    assert await listed_ids(api.client, box, "&filter_folder=deleted") == []
    await assert_counts(api.client, box, new=2, saved=2)


async def test_bulk_delete_of_listed_ids_reports_unknown_ones(api, box):
    ids = await fill(api, box)
    unknown = unknown_message_id()
    listed = [ids["new"][0], ids["saved"][1], unknown]
    reply = await api.client.delete(f"/vmboxes/{box}/messages", {"data": {"messages": listed}})
    assert reply.status == 200, reply.body
    assert sorted(reply.data["succeeded"]) == sorted(listed[:2])
    assert reply.data["failed"] == {unknown: "not_found"}
    assert sorted(await listed_ids(api.client, box)) == sorted([ids["new"][1], ids["saved"][0]])
    await assert_counts(api.client, box, new=1, saved=1)


async def test_bulk_delete_of_an_already_deleted_id_is_not_found(api, box):
    message = await api.client.create_message(box)
    await api.client.delete(f"/vmboxes/{box}/messages/{message['media_id']}")
    reply = await api.client.delete(
        f"/vmboxes/{box}/messages", {"data": {"messages": [message["media_id"]]}}
    )
    assert reply.data == {"failed": {message["media_id"]: "not_found"}}


async def test_a_bulk_answer_leaves_out_what_is_empty(api, box):
    # KAZOO filters empty succeeded and failed out of its bulk answers (props:filter_empty).
    reply = await api.client.delete(f"/vmboxes/{box}/messages")
    assert (reply.status, reply.data) == (200, {})
    message = await api.client.create_message(box)
    reply = await api.client.post(
        f"/vmboxes/{box}/messages", {"data": {"folder": "saved", "messages": [message["media_id"]]}}
    )
    assert reply.data == {"succeeded": [message["media_id"]]}


async def test_bulk_delete_with_an_invalid_folder_is_rejected_and_deletes_nothing(api, box):
    await fill(api, box)
    reply = await api.client.delete(f"/vmboxes/{box}/messages?folder=archive")
    assert reply.status == 400
    assert "enum" in reply.data["folder"]
    await assert_counts(api.client, box, new=2, saved=2)


async def test_bulk_delete_in_an_unknown_box_is_404(api):
    reply = await api.client.delete(f"/vmboxes/{UNKNOWN_BOX}/messages")
    assert reply.status == 404


async def test_bulk_delete_in_another_accounts_box_is_404_and_deletes_nothing(api, box):
    await fill(api, box)
    reply = await api.other.delete(f"/vmboxes/{box}/messages")
    assert reply.status == 404
    await assert_counts(api.client, box, new=2, saved=2)


# --- retention -----------------------------------------------------------------------------------------


async def test_a_message_past_retention_is_hidden_from_listings_fetch_and_counts(api, box):
    old = await api.client.create_message(box, folder="saved")
    kept = await api.client.create_message(box)
    await age_past_retention(api.store, old["media_id"])
    assert await listed_ids(api.client, box) == [kept["media_id"]]
    assert await listed_ids(api.client, box, "&filter_folder=saved") == []
    assert await account_listing(api.client) == [(box, kept["media_id"])]
    assert (await api.client.get(f"/vmboxes/{box}/messages/{old['media_id']}")).status == 404
    await assert_counts(api.client, box, new=1, saved=0)


async def test_retention_is_93_days_and_an_hour(api, box):
    # KAZOO's retention_seconds: days x 86400 + 3600.
    kept = await api.client.create_message(box, timestamp=now() - 93 * DAY - 1800)
    assert await listed_ids(api.client, box) == [kept["media_id"]]
    too_old = now() - 93 * DAY - 3600 - 60
    reply = await api.client.put(f"/vmboxes/{box}/messages", {"data": {"timestamp": too_old}})
    assert reply.status == 400 and "date_range" in reply.data["timestamp"]


async def test_a_message_past_retention_is_not_listed_by_created_range(api, box):
    old = await api.client.create_message(box)
    timestamp = await age_past_retention(api.store, old["media_id"])
    reply = await api.client.get(
        f"/vmboxes/{box}/messages?created_from={timestamp - 10}&created_to={timestamp + 10}"
    )
    assert reply.status == 200
    assert reply.data == []


@pytest.mark.parametrize("kind", ["folder", "move", "copy"])
async def test_bulk_change_past_retention_fails_with_prior_to_retention_duration(
    api, box, other_box, kind
):
    old = await api.client.create_message(box)
    fresh = await api.client.create_message(box)
    await age_past_retention(api.store, old["media_id"])
    data = {
        "folder": {"folder": "saved"},
        "move": {"source_id": other_box},
        "copy": {"source_id": [other_box]},
    }[kind]
    reply = await api.client.post(
        f"/vmboxes/{box}/messages",
        {"data": {**data, "messages": [old["media_id"], fresh["media_id"]]}},
    )
    assert reply.status == 200, reply.body
    assert reply.data["failed"] == {old["media_id"]: "prior_to_retention_duration"}
    assert len(reply.data["succeeded"]) == 1
    assert len(await listed_ids(api.client, other_box)) == (0 if kind == "folder" else 1)


async def test_bulk_delete_past_retention_fails_with_prior_to_retention_duration(api, box):
    old = await api.client.create_message(box)
    await age_past_retention(api.store, old["media_id"])
    reply = await api.client.delete(
        f"/vmboxes/{box}/messages", {"data": {"messages": [old["media_id"]]}}
    )
    assert reply.data == {"failed": {old["media_id"]: "prior_to_retention_duration"}}


async def test_delete_all_leaves_out_messages_past_retention(api, box):
    old = await api.client.create_message(box)
    fresh = await api.client.create_message(box)
    await age_past_retention(api.store, old["media_id"])
    reply = await api.client.delete(f"/vmboxes/{box}/messages")
    assert reply.data == {"succeeded": [fresh["media_id"]]}
    await assert_counts(api.client, box, new=0, saved=0)


async def test_single_change_past_retention_is_date_range_and_delete_is_404(api, box, other_box):
    # KAZOO answers a change to a message it still holds past retention with 400 <id>.date_range.
    old = await api.client.create_message(box)
    await age_past_retention(api.store, old["media_id"])
    for data in ({"folder": "saved"}, {"source_id": other_box}, {"source_id": [other_box]}):
        before = api.store.cutoff()
        reply = await change(api.client, box, old["media_id"], data)
        assert reply.status == 400, reply.body
        date_range = reply.data[old["media_id"]]["date_range"]
        assert (
            date_range["message"] == "cannot make changes to messages prior to retention duration"
        )
        assert before <= date_range["cause"] <= api.store.cutoff()
    assert (await api.client.delete(f"/vmboxes/{box}/messages/{old['media_id']}")).status == 404
    assert await listed_ids(api.client, other_box) == []
    await assert_counts(api.client, other_box, new=0, saved=0)


async def test_expiry_sweep_keeps_the_counts_right(api, box, other_box):
    aged = [
        await api.client.create_message(box, folder=folder) for folder in ("new", "saved", "saved")
    ]
    aged.append(await api.client.create_message(other_box))
    kept = await api.client.create_message(box, folder="saved")
    for message in aged:
        await age_past_retention(api.store, message["media_id"])
    await assert_counts(api.client, box, new=0, saved=1)
    assert await expire_messages(api.store) == 4
    await assert_counts(api.client, box, new=0, saved=1)
    await assert_counts(api.client, other_box, new=0, saved=0)
    assert await expire_messages(api.store) == 0
    await assert_counts(api.client, box, new=0, saved=1)
    assert await listed_ids(api.client, box) == [kept["media_id"]]


async def test_the_purge_frees_the_audio_of_deleted_and_expired_messages_only(api, box, tmp_path):
    kept, deleted, kept_in_deleted_folder, aged = [
        await api.client.create_message(box, audio=make_tone(tmp_path, 1)) for _ in range(4)
    ]
    assert (await api.client.delete(f"/vmboxes/{box}/messages/{deleted['media_id']}")).status == 200
    await change(api.client, box, kept_in_deleted_folder["media_id"], {"folder": "deleted"})
    await age_past_retention(api.store, aged["media_id"])
    await expire_messages(api.store)
    before = media_files(api.data_dir)
    assert len(before) == 4

    assert await purge_messages(api.store) == 2
    assert len(media_files(api.data_dir)) == 2 and media_files(api.data_dir) < before
    assert await purge_messages(api.store) == 0
    for message in (
        kept,
        kept_in_deleted_folder,
    ):  # a deleted folder is recoverable: its audio stays
        raw = await api.client.get(f"/vmboxes/{box}/messages/{message['media_id']}/raw")
        assert raw.status == 200
    reply = await api.client.post(
        f"/vmboxes/{box}/messages",
        {"data": {"folder": "new", "messages": [deleted["media_id"], aged["media_id"]]}},
    )
    assert reply.data["failed"] == {
        deleted["media_id"]: "not_found",
        aged["media_id"]: "prior_to_retention_duration",
    }


async def test_expired_messages_stay_out_of_reach(api, box):
    old = await api.client.create_message(box)
    await age_past_retention(api.store, old["media_id"])
    await expire_messages(api.store)
    assert (await api.client.get(f"/vmboxes/{box}/messages/{old['media_id']}")).status == 404
    changed = await change(api.client, box, old["media_id"], {"folder": "new"})
    assert changed.status == 400 and "date_range" in changed.data[old["media_id"]]
    reply = await api.client.post(
        f"/vmboxes/{box}/messages", {"data": {"folder": "new", "messages": [old["media_id"]]}}
    )
    assert reply.data == {"failed": {old["media_id"]: "prior_to_retention_duration"}}
    await assert_counts(api.client, box, new=0, saved=0)


async def test_expiry_sweep_leaves_messages_within_retention_alone(api, box):
    messages = [await api.client.create_message(box, folder=folder) for folder in ("new", "saved")]
    assert await expire_messages(api.store) == 0
    assert sorted(await listed_ids(api.client, box)) == sorted(m["media_id"] for m in messages)
    await assert_counts(api.client, box, new=1, saved=1)
