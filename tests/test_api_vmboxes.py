"""Voicemail boxes through the REST API: list, create, fetch, replace, patch, delete, revisions, validation.

Black-box: a real server on an ephemeral port, a real SQLite file; only the PIN check reads the store
directly, because the API never returns a PIN.
"""

import asyncio
import re

import pytest

from store.vmboxes import check_pin
from tests.conftest import make_tone, media_files

OWNER = "f1d98a5df729f95cd208ee9430e3b21b"

# The document of the seed's "Create a new voicemail box" example.
SEED_BOX = {
    "name": "VMBox 0",
    "require_pin": True,
    "is_setup": False,
    "pin": "0000",
    "mailbox": "3000",
    "timezone": "America/Los_Angeles",
    "check_if_owner": True,
    "delete_after_notify": False,
    "not_configurable": False,
    "notify_email_addresses": [],
    "save_after_notify": False,
    "skip_greeting": False,
    "skip_instructions": False,
    "owner_id": OWNER,
    "media": {},
}

# Every default of the seed's schema table that the seed document above does not set.
OTHER_DEFAULTS = {
    "announcement_only": False,
    "include_message_on_notify": True,
    "include_transcription_on_notify": True,
    "is_voicemail_ff_rw_enabled": False,
    "media_extension": "mp3",
    "oldest_message_first": False,
    "seek_duration_ms": 10000,
    "skip_envelope": False,
    "transcribe": False,
}

# Every default of the schema table, for a box created with nothing but a name and a mailbox.
ALL_DEFAULTS = {
    **OTHER_DEFAULTS,
    "check_if_owner": True,
    "delete_after_notify": False,
    "is_setup": False,
    "media": {},
    "not_configurable": False,
    "notify_email_addresses": [],
    "require_pin": False,
    "save_after_notify": False,
    "skip_greeting": False,
    "skip_instructions": False,
}

SEED_STORED = {key: value for key, value in SEED_BOX.items() if key != "pin"} | OTHER_DEFAULTS


def without_id(document: dict) -> dict:
    return {key: value for key, value in document.items() if key != "id"}


def assert_validation_error(reply, expected: dict) -> None:
    """A 400 in KAZOO's shape whose data is exactly `expected`."""
    assert reply.status == 400, reply.body
    assert reply.body["status"] == "error"
    assert reply.body["error"] == "400"
    assert reply.body["message"] == "validation error"
    assert reply.data == expected


async def create(api, data: dict):
    return await api.client.put("/vmboxes", {"data": data})


# --- create -------------------------------------------------------------------------------------------


async def test_create_answers_201_with_the_seed_document_and_a_32_hex_id(api):
    reply = await create(api, SEED_BOX)
    assert reply.status == 201, reply.body
    assert re.fullmatch(r"[0-9a-f]{32}", reply.data["id"])
    assert without_id(reply.data) == SEED_STORED


async def test_create_answers_in_kazoo_envelope(api):
    reply = await create(api, SEED_BOX)
    assert reply.body["status"] == "success"
    assert reply.body["auth_token"] == api.client.token
    assert reply.body["request_id"]
    assert reply.body["revision"]


async def test_create_writes_every_schema_default_into_the_stored_document(api):
    box = await api.client.create_box("3001")
    fetched = await api.client.get(f"/vmboxes/{box['id']}")
    assert without_id(fetched.data) == {"name": "Box 3001", "mailbox": "3001", **ALL_DEFAULTS}


async def test_create_keeps_values_given_instead_of_defaults(api):
    box = await api.client.create_box(
        "3002", media_extension="wav", seek_duration_ms=5000, check_if_owner=False
    )
    fetched = await api.client.get(f"/vmboxes/{box['id']}")
    assert fetched.data["media_extension"] == "wav"
    assert fetched.data["seek_duration_ms"] == 5000
    assert fetched.data["check_if_owner"] is False


async def test_create_never_returns_the_pin(api):
    reply = await create(api, {**SEED_BOX, "pin": "918273"})
    fetched = await api.client.get(f"/vmboxes/{reply.data['id']}")
    listing = await api.client.get("/vmboxes")
    assert "pin" not in reply.data
    assert "pin" not in fetched.data
    assert all("918273" not in str(answer.body) for answer in (reply, fetched, listing))


async def test_create_stores_the_pin_hashed_so_it_can_be_checked(api):
    box = await api.client.create_box("3000", pin="2468")
    assert await check_pin(api.store.db, box["id"], "2468")
    assert not await check_pin(api.store.db, box["id"], "1357")


async def test_create_keeps_unknown_keys(api):
    box = await api.client.create_box("3000", some_key="some_value", custom={"nested": [1, 2]})
    fetched = await api.client.get(f"/vmboxes/{box['id']}")
    assert fetched.data["some_key"] == "some_value"
    assert fetched.data["custom"] == {"nested": [1, 2]}


async def test_create_ignores_a_client_supplied_id(api):
    chosen = "0123456789abcdef0123456789abcdef"
    box = await api.client.create_box("3000", id=chosen)
    assert box["id"] != chosen
    assert (await api.client.get(f"/vmboxes/{chosen}")).status == 404


async def test_the_same_mailbox_number_may_exist_in_two_accounts(api):
    await api.client.create_box("3000")
    reply = await api.other.put("/vmboxes", {"data": {"name": "B's box", "mailbox": "3000"}})
    assert reply.status == 201, reply.body


# --- validation ---------------------------------------------------------------------------------------


async def test_create_without_name_is_a_required_error(api):
    reply = await create(api, {"mailbox": "3000"})
    assert_validation_error(
        reply, {"name": {"required": {"message": "Field is required but missing"}}}
    )


async def test_create_without_mailbox_is_a_required_error(api):
    reply = await create(api, {"name": "Box"})
    assert_validation_error(
        reply, {"mailbox": {"required": {"message": "Field is required but missing"}}}
    )


async def test_create_with_empty_data_reports_both_required_fields(api):
    reply = await create(api, {})
    assert_validation_error(
        reply,
        {
            "mailbox": {"required": {"message": "Field is required but missing"}},
            "name": {"required": {"message": "Field is required but missing"}},
        },
    )


async def test_empty_mailbox_is_a_min_length_and_a_unique_error(api):
    # KAZOO's uniqueness check cannot read "" as a number, and its schema wants one character.
    reply = await create(api, {"name": "Box", "mailbox": ""})
    assert_validation_error(
        reply,
        {
            "mailbox": {
                "minLength": {
                    "message": "String must be at least 1 characters",
                    "target": 1,
                    "value": "",
                },
                "unique": {"message": "Invalid mailbox number or already exists", "value": ""},
            }
        },
    )


@pytest.mark.parametrize("mailbox", ["sales", "30a0", "3000 ", "+3000", "٣٠٠٠"])
async def test_a_mailbox_that_is_not_a_number_is_kazoo_s_unique_error(api, mailbox):
    reply = await create(api, {"name": "Box", "mailbox": mailbox})
    assert_validation_error(
        reply,
        {
            "mailbox": {
                "unique": {"message": "Invalid mailbox number or already exists", "value": mailbox}
            }
        },
    )
    box = await api.client.create_box("3000")
    patched = await api.client.patch(f"/vmboxes/{box['id']}", {"data": {"mailbox": mailbox}})
    assert patched.status == 400 and "unique" in patched.data["mailbox"]


async def test_notify_email_addresses_must_be_email_addresses(api):
    addresses = ["ann@example.com", "ann", "a@b@c", "@example.com"]
    reply = await create(
        api, {"name": "Box", "mailbox": "3000", "notify_email_addresses": addresses}
    )
    wrong = {"message": "Field is not in the correct format", "format": "email"}
    assert_validation_error(
        reply,
        {
            f"notify_email_addresses.{i}": {"wrong_format": {**wrong, "value": addresses[i]}}
            for i in (1, 2, 3)
        },
    )
    box = await api.client.create_box("3000", notify_email_addresses=["ann@example.com"])
    patched = await api.client.patch(
        f"/vmboxes/{box['id']}", {"data": {"notify_email_addresses": ["bob"]}}
    )
    assert patched.status == 400 and "wrong_format" in patched.data["notify_email_addresses.0"]


async def test_seek_duration_ms_may_be_0_not_less(api):
    box = await api.client.create_box("3000", seek_duration_ms=0)
    assert box["seek_duration_ms"] == 0
    reply = await create(api, {"name": "Box", "mailbox": "3001", "seek_duration_ms": -1})
    assert reply.status == 400 and "minimum" in reply.data["seek_duration_ms"]


async def test_mailbox_over_30_characters_is_a_max_length_error(api):
    mailbox = "1" * 31
    reply = await create(api, {"name": "Box", "mailbox": mailbox})
    assert_validation_error(
        reply,
        {
            "mailbox": {
                "maxLength": {
                    "message": "String must not be more than 30 characters",
                    "target": 30,
                    "value": mailbox,
                }
            }
        },
    )


async def test_mailbox_of_exactly_30_characters_is_accepted(api):
    reply = await create(api, {"name": "Box", "mailbox": "1" * 30})
    assert reply.status == 201, reply.body


async def test_empty_name_is_a_min_length_error(api):
    reply = await create(api, {"name": "", "mailbox": "3000"})
    assert_validation_error(
        reply,
        {
            "name": {
                "minLength": {
                    "message": "String must be at least 1 characters",
                    "target": 1,
                    "value": "",
                }
            }
        },
    )


async def test_name_over_128_characters_is_a_max_length_error(api):
    name = "n" * 129
    reply = await create(api, {"name": name, "mailbox": "3000"})
    assert_validation_error(
        reply,
        {
            "name": {
                "maxLength": {
                    "message": "String must not be more than 128 characters",
                    "target": 128,
                    "value": name,
                }
            }
        },
    )


async def test_numeric_mailbox_is_a_type_error(api):
    reply = await create(api, {"name": "Box", "mailbox": 3000})
    assert_validation_error(
        reply,
        {
            "mailbox": {
                "type": {
                    "message": "Value did not match type(s): string",
                    "target": "string",
                    "value": 3000,
                }
            }
        },
    )


async def test_string_for_a_boolean_is_a_type_error(api):
    reply = await create(api, {"name": "Box", "mailbox": "3000", "require_pin": "yes"})
    assert_validation_error(
        reply,
        {
            "require_pin": {
                "type": {
                    "message": "Value did not match type(s): boolean",
                    "target": "boolean",
                    "value": "yes",
                }
            }
        },
    )


async def test_string_for_an_integer_is_a_type_error(api):
    reply = await create(api, {"name": "Box", "mailbox": "3000", "seek_duration_ms": "10000"})
    assert_validation_error(
        reply,
        {
            "seek_duration_ms": {
                "type": {
                    "message": "Value did not match type(s): integer",
                    "target": "integer",
                    "value": "10000",
                }
            }
        },
    )


async def test_unknown_media_extension_is_an_enum_error(api):
    reply = await create(api, {"name": "Box", "mailbox": "3000", "media_extension": "ogg"})
    assert_validation_error(
        reply,
        {
            "media_extension": {
                "enum": {
                    "message": "Value not found in enumerated list of values",
                    "target": ["mp3", "mp4", "wav"],
                    "value": "ogg",
                }
            }
        },
    )


@pytest.mark.parametrize("extension", ["mp3", "mp4", "wav"])
async def test_every_listed_media_extension_is_accepted(api, extension):
    box = await api.client.create_box("3000", media_extension=extension)
    assert box["media_extension"] == extension


async def test_pin_shorter_than_4_is_a_min_length_error(api):
    reply = await create(api, {"name": "Box", "mailbox": "3000", "pin": "12"})
    assert_validation_error(
        reply,
        {
            "pin": {
                "minLength": {
                    "message": "String must be at least 4 characters",
                    "target": 4,
                    "value": "12",
                }
            }
        },
    )


async def test_pin_longer_than_6_is_a_max_length_error(api):
    reply = await create(api, {"name": "Box", "mailbox": "3000", "pin": "1234567"})
    assert_validation_error(
        reply,
        {
            "pin": {
                "maxLength": {
                    "message": "String must not be more than 6 characters",
                    "target": 6,
                    "value": "1234567",
                }
            }
        },
    )


@pytest.mark.parametrize("pin", ["abcd", "12a4", "12 34", "+1234", "١٢٣٤"])
async def test_pin_with_anything_but_ascii_digits_is_a_pattern_error(api, pin):
    reply = await create(api, {"name": "Box", "mailbox": "3000", "pin": pin})
    assert reply.status == 400, reply.body
    assert set(reply.data) == {"pin"}
    assert reply.data["pin"]["pattern"]["value"] == pin
    assert reply.data["pin"]["pattern"]["message"].startswith("Failed to match pattern")


async def test_numeric_pin_is_a_type_error(api):
    reply = await create(api, {"name": "Box", "mailbox": "3000", "pin": 1234})
    assert_validation_error(
        reply,
        {
            "pin": {
                "type": {
                    "message": "Value did not match type(s): string",
                    "target": "string",
                    "value": 1234,
                }
            }
        },
    )


@pytest.mark.parametrize("pin", ["0000", "12345", "987654"])
async def test_pins_of_4_to_6_digits_are_accepted(api, pin):
    box = await api.client.create_box("3000", pin=pin)
    assert await check_pin(api.store.db, box["id"], pin)


async def test_owner_id_must_be_32_characters(api):
    reply = await create(api, {"name": "Box", "mailbox": "3000", "owner_id": "abc"})
    assert_validation_error(
        reply,
        {
            "owner_id": {
                "minLength": {
                    "message": "String must be at least 32 characters",
                    "target": 32,
                    "value": "abc",
                }
            }
        },
    )


async def test_timezone_shorter_than_5_is_a_min_length_error(api):
    reply = await create(api, {"name": "Box", "mailbox": "3000", "timezone": "UTC"})
    assert_validation_error(
        reply,
        {
            "timezone": {
                "minLength": {
                    "message": "String must be at least 5 characters",
                    "target": 5,
                    "value": "UTC",
                }
            }
        },
    )


async def test_nested_field_errors_are_named_by_dotted_path(api):
    reply = await create(
        api,
        {
            "name": "Box",
            "mailbox": "3000",
            "media": {"unavailable": "short"},
            "notify": {"callback": {"attempts": "three"}},
        },
    )
    assert reply.status == 400, reply.body
    assert set(reply.data) == {"media.unavailable", "notify.callback.attempts"}
    assert reply.data["media.unavailable"]["minLength"]["target"] == 32
    assert reply.data["notify.callback.attempts"]["type"]["value"] == "three"


async def test_several_broken_rules_are_reported_together(api):
    reply = await create(api, {"mailbox": "3000", "pin": "12", "media_extension": "ogg"})
    assert reply.status == 400, reply.body
    assert reply.data["name"] == {"required": {"message": "Field is required but missing"}}
    assert set(reply.data["pin"]) == {"minLength"}
    assert set(reply.data["media_extension"]) == {"enum"}


async def test_a_taken_mailbox_is_a_unique_error(api):
    await api.client.create_box("3000")
    reply = await create(api, {"name": "Second", "mailbox": "3000"})
    assert reply.status == 400, reply.body
    assert reply.body["message"] == "validation error"
    assert set(reply.data) == {"mailbox"}
    assert set(reply.data["mailbox"]) == {"unique"}
    assert reply.data["mailbox"]["unique"]["message"] == "Invalid mailbox number or already exists"


async def test_a_rejected_create_stores_nothing(api):
    await create(api, {"name": "Box", "mailbox": "3000", "pin": "12"})
    listing = await api.client.get("/vmboxes")
    assert listing.data == []


async def test_data_that_is_not_an_object_is_a_type_error(api):
    reply = await api.client.put("/vmboxes", {"data": ["name", "mailbox"]})
    assert reply.status == 400, reply.body
    assert set(reply.data) == {"data"}
    assert set(reply.data["data"]) == {"type"}


async def test_malformed_json_is_a_400(api):
    reply = await api.client.call(
        "PUT", "/vmboxes", data=b'{"data": {"name": ', headers={"Content-Type": "application/json"}
    )
    assert reply.status == 400
    assert reply.body["status"] == "error"
    assert (await api.client.get("/vmboxes")).data == []


async def test_two_concurrent_creates_of_one_mailbox_let_exactly_one_win(api):
    replies = await asyncio.gather(
        create(api, {"name": "First", "mailbox": "4000"}),
        create(api, {"name": "Second", "mailbox": "4000"}),
    )
    assert sorted(reply.status for reply in replies) == [201, 400]
    loser = next(reply for reply in replies if reply.status == 400)
    assert set(loser.data) == {"mailbox"}
    assert set(loser.data["mailbox"]) == {"unique"}
    listing = await api.client.get("/vmboxes")
    assert [entry["mailbox"] for entry in listing.data] == ["4000"]


async def test_many_concurrent_creates_of_one_mailbox_let_exactly_one_win(api):
    replies = await asyncio.gather(
        *(create(api, {"name": f"Box {n}", "mailbox": "4000"}) for n in range(8))
    )
    assert [reply.status for reply in replies].count(201) == 1
    assert all(reply.data["mailbox"]["unique"] for reply in replies if reply.status != 201)
    assert len((await api.client.get("/vmboxes")).data) == 1


# --- fetch --------------------------------------------------------------------------------------------


async def test_fetch_returns_the_document_as_created(api):
    created = await create(api, SEED_BOX)
    fetched = await api.client.get(f"/vmboxes/{created.data['id']}")
    assert fetched.status == 200
    assert fetched.data == created.data
    assert fetched.body["revision"] == created.body["revision"]


async def test_fetch_of_an_unknown_box_is_bad_identifier(api):
    unknown = "0" * 32
    reply = await api.client.get(f"/vmboxes/{unknown}")
    assert reply.status == 404
    assert reply.body["error"] == "404"
    assert reply.body["message"] == "bad_identifier"
    assert reply.data == {"message": "bad identifier", "cause": unknown}


@pytest.mark.parametrize("ident", ["not-an-id", "0" * 31, "0" * 33, "ABCDEF" + "0" * 26])
async def test_fetch_of_a_malformed_box_id_is_bad_identifier(api, ident):
    reply = await api.client.get(f"/vmboxes/{ident}")
    assert reply.status == 404
    assert reply.body["message"] == "bad_identifier"


# --- list ---------------------------------------------------------------------------------------------


async def test_list_gives_the_summary_of_each_box(api):
    box = await api.client.create_box("3000", owner_id=OWNER, require_pin=True, some_key="x")
    listing = await api.client.get("/vmboxes")
    assert listing.status == 200
    assert listing.data == [
        {
            "id": box["id"],
            "name": "Box 3000",
            "mailbox": "3000",
            "owner_id": OWNER,
            "messages": 0,
            "flags": [],
        }
    ]
    assert list(listing.data[0]) == ["id", "name", "mailbox", "owner_id", "messages", "flags"]


async def test_list_includes_flags_when_a_box_has_them(api):
    await api.client.create_box("3000", flags=["vip"])
    listing = await api.client.get("/vmboxes")
    assert listing.data[0]["flags"] == ["vip"]


async def test_list_has_flags_always_and_folders_once_a_box_has_a_message(api):
    # KAZOO's view gives flags: doc.flags || []; its counts (every folder) come only for boxes with messages.
    empty = await api.client.create_box("3000")
    binned = await api.client.create_box("3001")
    await api.client.create_message(binned["id"], folder="deleted")
    kept = await api.client.create_box("3002")
    await api.client.create_message(kept["id"], folder="saved")
    entries = {entry["id"]: entry for entry in (await api.client.get("/vmboxes")).data}
    assert entries[empty["id"]]["flags"] == [] and "folders" not in entries[empty["id"]]
    assert "owner_id" not in entries[empty["id"]]
    assert entries[binned["id"]]["folders"] == {"new": 0, "saved": 0}
    assert entries[binned["id"]]["messages"] == 0
    assert entries[kept["id"]]["folders"] == {"new": 0, "saved": 1}
    assert list(entries[kept["id"]]) == ["id", "name", "mailbox", "messages", "flags", "folders"]


async def test_list_is_ordered_by_mailbox(api):
    for mailbox in ("3005", "3001", "3004", "3002", "3003"):
        await api.client.create_box(mailbox)
    listing = await api.client.get("/vmboxes")
    assert [entry["mailbox"] for entry in listing.data] == ["3001", "3002", "3003", "3004", "3005"]


async def test_list_of_an_account_without_boxes_is_empty(api):
    listing = await api.client.get("/vmboxes")
    assert listing.status == 200
    assert listing.data == []


async def test_list_shows_only_the_accounts_own_boxes(api):
    await api.client.create_box("3000")
    await api.other.create_box("5000")
    assert [entry["mailbox"] for entry in (await api.client.get("/vmboxes")).data] == ["3000"]
    assert [entry["mailbox"] for entry in (await api.other.get("/vmboxes")).data] == ["5000"]


async def test_list_pages_follow_next_start_key_to_the_end(api):
    for mailbox in ("3004", "3000", "3003", "3001", "3002"):
        await api.client.create_box(mailbox)
    first = await api.client.get("/vmboxes?page_size=2")
    assert [entry["mailbox"] for entry in first.data] == ["3000", "3001"]
    assert first.body["page_size"] == 2
    assert "start_key" not in first.body
    second = await api.client.get(f"/vmboxes?page_size=2&start_key={first.body['next_start_key']}")
    assert [entry["mailbox"] for entry in second.data] == ["3002", "3003"]
    assert second.body["start_key"] == first.body["next_start_key"]
    last = await api.client.get(f"/vmboxes?page_size=2&start_key={second.body['next_start_key']}")
    assert [entry["mailbox"] for entry in last.data] == ["3004"]
    assert last.body["page_size"] == 1
    assert "next_start_key" not in last.body


async def test_list_page_that_ends_exactly_has_no_next_start_key(api):
    for mailbox in ("3000", "3001"):
        await api.client.create_box(mailbox)
    page = await api.client.get("/vmboxes?page_size=2")
    assert len(page.data) == 2
    assert "next_start_key" not in page.body


async def test_list_default_page_size_is_50(api):
    for number in range(51):
        await api.client.create_box(f"{3000 + number}")
    first = await api.client.get("/vmboxes")
    assert len(first.data) == 50
    assert first.body["page_size"] == 50
    rest = await api.client.get(f"/vmboxes?start_key={first.body['next_start_key']}")
    assert [entry["mailbox"] for entry in rest.data] == ["3050"]


async def test_list_without_pagination_returns_everything_without_page_fields(api):
    for mailbox in ("3002", "3000", "3001"):
        await api.client.create_box(mailbox)
    listing = await api.client.get("/vmboxes?paginate=false&page_size=1")
    assert [entry["mailbox"] for entry in listing.data] == ["3000", "3001", "3002"]
    assert not {"page_size", "start_key", "next_start_key"} & set(listing.body)


# An invalid page_size means the default (tests/test_api_pages.py), as in KAZOO.
async def test_list_with_a_non_boolean_paginate_is_a_400(api):
    reply = await api.client.get("/vmboxes?paginate=maybe")
    assert reply.status == 400, reply.body
    assert reply.body["message"] == "validation error"


@pytest.mark.parametrize("key", ["%21%21%21", "WzEsMl0"])  # not base64; [1,2]
async def test_list_with_a_start_key_the_server_did_not_give_is_an_empty_page(api, key):
    # As KAZOO's: a start key is never refused; one no box follows gives an empty page.
    await api.client.create_box("3000")
    reply = await api.client.get(f"/vmboxes?start_key={key}")
    assert reply.status == 200, reply.body
    assert reply.data == [] and "next_start_key" not in reply.body


async def test_list_counts_new_and_saved_messages_and_not_deleted_ones(api):
    box = await api.client.create_box("3000")
    await api.client.create_message(box["id"], folder="new")
    await api.client.create_message(box["id"], folder="new")
    await api.client.create_message(box["id"], folder="saved")
    await api.client.create_message(box["id"], folder="deleted")
    listing = await api.client.get("/vmboxes")
    assert listing.data[0]["messages"] == 3
    assert listing.data[0]["folders"] == {"new": 2, "saved": 1}


async def test_list_counts_follow_folder_changes_and_deletes(api):
    box = await api.client.create_box("3000")
    first = await api.client.create_message(box["id"], folder="new")
    second = await api.client.create_message(box["id"], folder="new")
    await api.client.create_message(box["id"], folder="new")
    moved = await api.client.post(
        f"/vmboxes/{box['id']}/messages/{first['media_id']}", {"data": {"folder": "saved"}}
    )
    assert moved.status == 200, moved.body
    removed = await api.client.delete(f"/vmboxes/{box['id']}/messages/{second['media_id']}")
    assert removed.status == 200, removed.body
    listing = await api.client.get("/vmboxes")
    assert listing.data[0]["messages"] == 2
    assert listing.data[0]["folders"] == {"new": 1, "saved": 1}


async def test_list_counts_are_per_box(api):
    busy = await api.client.create_box("3000")
    await api.client.create_box("3001")
    await api.client.create_message(busy["id"])
    listing = await api.client.get("/vmboxes")
    assert [entry["messages"] for entry in listing.data] == [1, 0]


# --- POST: full replace -------------------------------------------------------------------------------


async def test_post_replaces_the_whole_document(api):
    box = await api.client.create_box(
        "3000", require_pin=True, skip_greeting=True, some_key="old", timezone="Europe/Paris"
    )
    reply = await api.client.post(
        f"/vmboxes/{box['id']}", {"data": {"name": "Renamed", "mailbox": "3100"}}
    )
    assert reply.status == 200, reply.body
    assert reply.data == {"id": box["id"], "name": "Renamed", "mailbox": "3100", **ALL_DEFAULTS}
    assert (await api.client.get(f"/vmboxes/{box['id']}")).data == reply.data


async def test_post_of_the_seed_document_answers_as_the_seed(api):
    box = await api.client.create_box("3000")
    reply = await api.client.post(f"/vmboxes/{box['id']}", {"data": SEED_BOX})
    assert reply.status == 200, reply.body
    assert reply.data == {**SEED_STORED, "id": box["id"]}


async def test_post_without_pin_keeps_the_stored_pin(api):
    box = await api.client.create_box("3000", pin="2468")
    reply = await api.client.post(
        f"/vmboxes/{box['id']}", {"data": {"name": "Renamed", "mailbox": "3000"}}
    )
    assert reply.status == 200, reply.body
    assert await check_pin(api.store.db, box["id"], "2468")


async def test_post_with_a_pin_replaces_the_stored_pin(api):
    box = await api.client.create_box("3000", pin="2468")
    reply = await api.client.post(
        f"/vmboxes/{box['id']}", {"data": {"name": "B", "mailbox": "3000", "pin": "1357"}}
    )
    assert reply.status == 200, reply.body
    assert "pin" not in reply.data
    assert await check_pin(api.store.db, box["id"], "1357")
    assert not await check_pin(api.store.db, box["id"], "2468")


async def test_post_is_validated_like_create(api):
    box = await api.client.create_box("3000")
    reply = await api.client.post(
        f"/vmboxes/{box['id']}", {"data": {"mailbox": "3000", "media_extension": "ogg"}}
    )
    assert reply.status == 400, reply.body
    assert reply.data["name"] == {"required": {"message": "Field is required but missing"}}
    assert set(reply.data["media_extension"]) == {"enum"}


async def test_a_rejected_post_leaves_the_box_unchanged(api):
    box = await api.client.create_box("3000", pin="2468")
    before = await api.client.get(f"/vmboxes/{box['id']}")
    await api.client.post(
        f"/vmboxes/{box['id']}", {"data": {"name": "X", "mailbox": "3000", "pin": "12"}}
    )
    after = await api.client.get(f"/vmboxes/{box['id']}")
    assert after.data == before.data
    assert after.body["revision"] == before.body["revision"]
    assert await check_pin(api.store.db, box["id"], "2468")


async def test_post_to_another_boxs_mailbox_is_a_unique_error(api):
    await api.client.create_box("3000")
    second = await api.client.create_box("3001")
    reply = await api.client.post(
        f"/vmboxes/{second['id']}", {"data": {"name": "Taken", "mailbox": "3000"}}
    )
    assert reply.status == 400, reply.body
    assert set(reply.data) == {"mailbox"}
    assert set(reply.data["mailbox"]) == {"unique"}
    assert (await api.client.get(f"/vmboxes/{second['id']}")).data["mailbox"] == "3001"


async def test_post_keeping_its_own_mailbox_is_not_a_conflict(api):
    box = await api.client.create_box("3000")
    reply = await api.client.post(
        f"/vmboxes/{box['id']}", {"data": {"name": "Same number", "mailbox": "3000"}}
    )
    assert reply.status == 200, reply.body


async def test_post_frees_the_old_mailbox_number(api):
    box = await api.client.create_box("3000")
    await api.client.post(f"/vmboxes/{box['id']}", {"data": {"name": "Moved", "mailbox": "3100"}})
    reply = await create(api, {"name": "New 3000", "mailbox": "3000"})
    assert reply.status == 201, reply.body


async def test_post_to_an_unknown_box_is_bad_identifier(api):
    reply = await api.client.post(
        f"/vmboxes/{'0' * 32}", {"data": {"name": "X", "mailbox": "3000"}}
    )
    assert reply.status == 404
    assert reply.body["message"] == "bad_identifier"


# --- PATCH: deep merge --------------------------------------------------------------------------------


async def test_patch_of_the_seed_example_adds_some_key_and_keeps_the_rest(api):
    created = await create(api, SEED_BOX)
    box_id = created.data["id"]
    reply = await api.client.patch(f"/vmboxes/{box_id}", {"data": {"some_key": "some_value"}})
    assert reply.status == 200, reply.body
    assert reply.data == {**created.data, "some_key": "some_value"}
    assert (await api.client.get(f"/vmboxes/{box_id}")).data == reply.data


async def test_patch_sent_as_curl_sends_it_is_accepted(api):
    """The seed's curl -d without a Content-Type sends application/x-www-form-urlencoded."""
    box = await api.client.create_box("3000")
    reply = await api.client.call(
        "PATCH",
        f"/vmboxes/{box['id']}",
        data=b'{"data":{"some_key":"some_value"}}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert reply.status == 200, reply.body
    assert reply.data["some_key"] == "some_value"


async def test_patch_merges_nested_objects_key_by_key(api):
    box = await api.client.create_box(
        "3000", notify={"callback": {"number": "5551234", "attempts": 3, "disabled": False}}
    )
    reply = await api.client.patch(
        f"/vmboxes/{box['id']}", {"data": {"notify": {"callback": {"attempts": 5}}}}
    )
    assert reply.status == 200, reply.body
    assert reply.data["notify"] == {
        "callback": {"number": "5551234", "attempts": 5, "disabled": False}
    }


async def test_patch_with_null_removes_the_key(api):
    box = await api.client.create_box("3000", timezone="Europe/Paris", some_key="x")
    reply = await api.client.patch(
        f"/vmboxes/{box['id']}", {"data": {"timezone": None, "some_key": None}}
    )
    assert reply.status == 200, reply.body
    assert "timezone" not in reply.data
    assert "some_key" not in reply.data
    assert "timezone" not in (await api.client.get(f"/vmboxes/{box['id']}")).data


async def test_patch_with_null_inside_a_nested_object_removes_only_that_key(api):
    box = await api.client.create_box(
        "3000", notify={"callback": {"number": "5551234", "attempts": 3}}
    )
    reply = await api.client.patch(
        f"/vmboxes/{box['id']}", {"data": {"notify": {"callback": {"number": None}}}}
    )
    assert reply.status == 200, reply.body
    assert reply.data["notify"] == {"callback": {"attempts": 3}}


async def test_patch_with_null_inside_a_new_nested_object_leaves_the_key_out(api):
    # RFC 7396: an object the box lacks is merged into nothing, so its nulls remove nothing and go.
    box = await api.client.create_box("3000")
    patch = {"notify": {"callback": {"disabled": None, "number": "5551234"}}}
    reply = await api.client.patch(f"/vmboxes/{box['id']}", {"data": patch})
    assert reply.status == 200, reply.body
    assert reply.data["notify"]["callback"] == {"number": "5551234"}


async def test_patch_with_null_on_a_defaulted_key_restores_the_default(api):
    box = await api.client.create_box("3000", media_extension="wav")
    reply = await api.client.patch(f"/vmboxes/{box['id']}", {"data": {"media_extension": None}})
    assert reply.status == 200, reply.body
    assert reply.data["media_extension"] == "mp3"


async def test_patch_replaces_arrays_whole(api):
    box = await api.client.create_box(
        "3000", notify_email_addresses=["a@example.com", "b@example.com"]
    )
    reply = await api.client.patch(
        f"/vmboxes/{box['id']}", {"data": {"notify_email_addresses": ["c@example.com"]}}
    )
    assert reply.data["notify_email_addresses"] == ["c@example.com"]


async def test_patch_removing_a_required_field_is_a_required_error(api):
    box = await api.client.create_box("3000")
    reply = await api.client.patch(f"/vmboxes/{box['id']}", {"data": {"name": None}})
    assert_validation_error(
        reply, {"name": {"required": {"message": "Field is required but missing"}}}
    )
    assert (await api.client.get(f"/vmboxes/{box['id']}")).data["name"] == "Box 3000"


async def test_patch_result_is_validated_as_a_whole(api):
    box = await api.client.create_box("3000")
    reply = await api.client.patch(f"/vmboxes/{box['id']}", {"data": {"media_extension": "ogg"}})
    assert reply.status == 400, reply.body
    assert set(reply.data) == {"media_extension"}
    assert (await api.client.get(f"/vmboxes/{box['id']}")).data["media_extension"] == "mp3"


async def test_patch_to_a_taken_mailbox_is_a_unique_error(api):
    await api.client.create_box("3000")
    second = await api.client.create_box("3001")
    reply = await api.client.patch(f"/vmboxes/{second['id']}", {"data": {"mailbox": "3000"}})
    assert reply.status == 400, reply.body
    assert set(reply.data["mailbox"]) == {"unique"}


async def test_patch_without_pin_keeps_the_pin(api):
    box = await api.client.create_box("3000", pin="2468")
    await api.client.patch(f"/vmboxes/{box['id']}", {"data": {"name": "Renamed"}})
    assert await check_pin(api.store.db, box["id"], "2468")


async def test_patch_with_a_pin_changes_the_pin_and_does_not_return_it(api):
    box = await api.client.create_box("3000", pin="2468")
    reply = await api.client.patch(f"/vmboxes/{box['id']}", {"data": {"pin": "97531"}})
    assert reply.status == 200, reply.body
    assert "pin" not in reply.data
    assert await check_pin(api.store.db, box["id"], "97531")


async def test_patch_with_a_bad_pin_keeps_the_old_one(api):
    box = await api.client.create_box("3000", pin="2468")
    reply = await api.client.patch(f"/vmboxes/{box['id']}", {"data": {"pin": "12ab"}})
    assert reply.status == 400, reply.body
    assert set(reply.data["pin"]) == {"pattern"}
    assert await check_pin(api.store.db, box["id"], "2468")


async def test_concurrent_patches_of_different_keys_both_take_effect(api):
    box = await api.client.create_box("3000")
    path = f"/vmboxes/{box['id']}"
    replies = await asyncio.gather(
        *(api.client.patch(path, {"data": {f"key_{n}": n}}) for n in range(5))
    )
    assert [reply.status for reply in replies] == [200] * 5
    fetched = await api.client.get(path)
    assert {key: fetched.data[key] for key in fetched.data if key.startswith("key_")} == {
        f"key_{n}": n for n in range(5)
    }


async def test_patch_of_an_unknown_box_is_bad_identifier(api):
    reply = await api.client.patch(f"/vmboxes/{'0' * 32}", {"data": {"name": "X"}})
    assert reply.status == 404
    assert reply.body["message"] == "bad_identifier"


# --- revisions ----------------------------------------------------------------------------------------


async def test_revision_changes_on_every_update(api):
    created = await create(api, {"name": "Box", "mailbox": "3000"})
    path = f"/vmboxes/{created.data['id']}"
    patched = await api.client.patch(path, {"data": {"name": "Patched"}})
    replaced = await api.client.post(path, {"data": {"name": "Replaced", "mailbox": "3000"}})
    same_again = await api.client.patch(path, {"data": {"name": "Replaced"}})
    revisions = [
        created.body["revision"],
        patched.body["revision"],
        replaced.body["revision"],
        same_again.body["revision"],
    ]
    assert len(set(revisions)) == 4
    assert (await api.client.get(path)).body["revision"] == same_again.body["revision"]


async def test_fetch_does_not_change_the_revision(api):
    created = await create(api, {"name": "Box", "mailbox": "3000"})
    path = f"/vmboxes/{created.data['id']}"
    first = await api.client.get(path)
    second = await api.client.get(path)
    assert first.body["revision"] == second.body["revision"] == created.body["revision"]


async def test_patch_with_the_current_revision_succeeds(api):
    created = await create(api, {"name": "Box", "mailbox": "3000"})
    reply = await api.client.patch(
        f"/vmboxes/{created.data['id']}",
        {"data": {"name": "New"}, "revision": created.body["revision"]},
    )
    assert reply.status == 200, reply.body
    assert reply.data["name"] == "New"


async def test_patch_with_a_stale_envelope_revision_is_a_409(api):
    created = await create(api, {"name": "Box", "mailbox": "3000"})
    path = f"/vmboxes/{created.data['id']}"
    await api.client.patch(path, {"data": {"name": "Someone else"}})
    reply = await api.client.patch(
        path, {"data": {"name": "Mine"}, "revision": created.body["revision"]}
    )
    assert reply.status == 409, reply.body
    assert reply.body["error"] == "409"
    assert reply.body["message"] == "datastore_conflict"
    assert (await api.client.get(path)).data["name"] == "Someone else"


async def test_post_with_a_stale_envelope_revision_is_a_409(api):
    created = await create(api, {"name": "Box", "mailbox": "3000"})
    path = f"/vmboxes/{created.data['id']}"
    await api.client.patch(path, {"data": {"name": "Someone else"}})
    reply = await api.client.post(
        path, {"data": {"name": "Mine", "mailbox": "3000"}, "revision": created.body["revision"]}
    )
    assert reply.status == 409, reply.body
    assert (await api.client.get(path)).data["name"] == "Someone else"


async def test_post_with_a_stale_if_match_header_is_a_409(api):
    created = await create(api, {"name": "Box", "mailbox": "3000"})
    path = f"/vmboxes/{created.data['id']}"
    await api.client.patch(path, {"data": {"name": "Someone else"}})
    reply = await api.client.post(
        path,
        {"data": {"name": "Mine", "mailbox": "3000"}},
        headers={"If-Match": f'"{created.body["revision"]}"'},
    )
    assert reply.status == 409, reply.body
    assert reply.body["message"] == "datastore_conflict"


async def test_patch_with_the_current_if_match_header_succeeds(api):
    created = await create(api, {"name": "Box", "mailbox": "3000"})
    reply = await api.client.patch(
        f"/vmboxes/{created.data['id']}",
        {"data": {"name": "New"}},
        headers={"If-Match": created.body["revision"]},
    )
    assert reply.status == 200, reply.body


async def test_delete_with_a_stale_revision_is_a_409_and_keeps_the_box(api):
    created = await create(api, {"name": "Box", "mailbox": "3000"})
    path = f"/vmboxes/{created.data['id']}"
    await api.client.patch(path, {"data": {"name": "Someone else"}})
    reply = await api.client.delete(path, headers={"If-Match": created.body["revision"]})
    assert reply.status == 409, reply.body
    assert (await api.client.get(path)).status == 200


async def test_of_two_writers_holding_one_revision_only_one_wins(api):
    created = await create(api, {"name": "Box", "mailbox": "3000"})
    path = f"/vmboxes/{created.data['id']}"
    revision = created.body["revision"]
    replies = await asyncio.gather(
        api.client.patch(path, {"data": {"name": "One"}, "revision": revision}),
        api.client.patch(path, {"data": {"name": "Two"}, "revision": revision}),
    )
    assert sorted(reply.status for reply in replies) == [200, 409]
    winner = next(reply for reply in replies if reply.status == 200)
    assert (await api.client.get(path)).data["name"] == winner.data["name"]


# --- DELETE -------------------------------------------------------------------------------------------


async def test_delete_returns_the_box_as_it_was(api):
    created = await create(api, SEED_BOX)
    reply = await api.client.delete(f"/vmboxes/{created.data['id']}")
    assert reply.status == 200, reply.body
    assert reply.data == created.data
    assert "pin" not in reply.data


async def test_a_deleted_box_is_gone(api):
    box = await api.client.create_box("3000")
    await api.client.delete(f"/vmboxes/{box['id']}")
    assert (await api.client.get(f"/vmboxes/{box['id']}")).status == 404
    assert (await api.client.get("/vmboxes")).data == []
    again = await api.client.delete(f"/vmboxes/{box['id']}")
    assert again.status == 404
    assert again.body["message"] == "bad_identifier"


async def test_delete_removes_the_boxs_messages_and_their_audio_files(api, tmp_path):
    box = await api.client.create_box("3000")
    tone = make_tone(tmp_path, 1.0)
    for _ in range(2):
        await api.client.create_message(box["id"], tone, caller_id_number="1001")
    await api.client.create_message(box["id"], caller_id_number="1002")
    assert len(media_files(api.data_dir)) == 2
    reply = await api.client.delete(f"/vmboxes/{box['id']}")
    assert reply.status == 200, reply.body
    assert media_files(api.data_dir) == set()
    assert (await api.client.get(f"/vmboxes/{box['id']}/messages")).status == 404
    assert (await api.client.get("/vmboxes/messages")).data == []


async def test_delete_leaves_other_boxes_messages_alone(api, tmp_path):
    doomed = await api.client.create_box("3000")
    kept = await api.client.create_box("3001")
    tone = make_tone(tmp_path, 1.0)
    await api.client.create_message(doomed["id"], tone)
    survivor = await api.client.create_message(kept["id"], tone)
    kept_files = media_files(api.data_dir)
    await api.client.delete(f"/vmboxes/{doomed['id']}")
    assert len(media_files(api.data_dir)) == 1
    assert media_files(api.data_dir) < kept_files
    listing = await api.client.get(f"/vmboxes/{kept['id']}/messages")
    assert [message["media_id"] for message in listing.data] == [survivor["media_id"]]
    raw = await api.client.get(f"/vmboxes/{kept['id']}/messages/{survivor['media_id']}/raw")
    assert raw.status == 200


async def test_delete_frees_the_mailbox_number(api):
    box = await api.client.create_box("3000")
    await api.client.delete(f"/vmboxes/{box['id']}")
    reply = await create(api, {"name": "Again", "mailbox": "3000"})
    assert reply.status == 201, reply.body
    assert reply.data["id"] != box["id"]
