"""Users through the REST API: create, fetch, list, replace, patch, delete, revisions, validation, isolation.

Black-box: a real server on an ephemeral port and a real SQLite file. The owner lookup the IVR uses is
read from the store after API writes, to show that every write keeps it in step.
"""

import re

import pytest

from store.users import owner_ids_for_caller

ALICE = {
    "first_name": "Alice",
    "last_name": "Liddell",
    "email": "alice@example.com",
    "timezone": "Europe/London",
    "caller_id_numbers": ["+441632960001"],
    "endpoints": ["PJSIP/1001"],
}
UNKNOWN_USER = "0123456789abcdef0123456789abcdef"


def without_id(document: dict) -> dict:
    return {key: value for key, value in document.items() if key != "id"}


def assert_validation_error(reply, fields: dict[str, str]) -> None:
    """A 400 in KAZOO's shape naming exactly `fields` ({field: rule})."""
    assert reply.status == 400, reply.body
    assert reply.body["status"] == "error"
    assert reply.body["message"] == "validation error"
    assert {field: set(rules) for field, rules in reply.data.items()} == {
        field: {rule} for field, rule in fields.items()
    }


async def create(client, **fields) -> dict:
    reply = await client.put("/users", {"data": {**ALICE, **fields}})
    assert reply.status == 201, reply.body
    return reply.data


async def owners(api, endpoint: str = "", number: str = "", account: str | None = None) -> set[str]:
    return await owner_ids_for_caller(
        api.store.db, account or api.client.account_id, endpoint, number
    )


# --- create and fetch ---------------------------------------------------------------------------------


async def test_create_answers_201_with_the_document_a_32_hex_id_and_a_revision(api):
    reply = await api.client.put("/users", {"data": ALICE})
    assert reply.status == 201, reply.body
    assert reply.body["status"] == "success"
    assert re.fullmatch(r"[0-9a-f]{32}", reply.data["id"])
    assert without_id(reply.data) == ALICE
    assert re.fullmatch(r"1-[0-9a-f]{32}", reply.body["revision"])


async def test_fetch_returns_what_was_created_with_the_same_revision(api):
    created = await api.client.put("/users", {"data": ALICE})
    fetched = await api.client.get(f"/users/{created.data['id']}")
    assert fetched.status == 200
    assert fetched.data == created.data
    assert fetched.body["revision"] == created.body["revision"]


async def test_unknown_keys_are_kept(api):
    user = await create(api.client, presence_id="1001", music_on_hold={"media_id": "x"})
    fetched = await api.client.get(f"/users/{user['id']}")
    assert fetched.data["presence_id"] == "1001"
    assert fetched.data["music_on_hold"] == {"media_id": "x"}


async def test_an_id_in_the_document_is_ignored(api):
    user = await create(api.client, id=UNKNOWN_USER)
    assert user["id"] != UNKNOWN_USER
    assert (await api.client.get(f"/users/{UNKNOWN_USER}")).status == 404


async def test_names_alone_make_a_user(api):
    reply = await api.client.put("/users", {"data": {"first_name": "Bob", "last_name": "Smith"}})
    assert reply.status == 201, reply.body
    assert without_id(reply.data) == {"first_name": "Bob", "last_name": "Smith"}


# --- validation ---------------------------------------------------------------------------------------


async def test_first_and_last_name_are_required(api):
    reply = await api.client.put("/users", {"data": {"email": "a@example.com"}})
    assert_validation_error(reply, {"first_name": "required", "last_name": "required"})


@pytest.mark.parametrize(
    "field, value, rule",
    [
        ("first_name", "", "minLength"),
        ("first_name", "x" * 129, "maxLength"),
        ("last_name", 42, "type"),
        ("email", "not-an-address", "pattern"),
        ("timezone", "UTC", "minLength"),
        ("timezone", "x" * 33, "maxLength"),
        ("caller_id_numbers", "1001", "type"),
        ("endpoints", "PJSIP/1001", "type"),
    ],
)
async def test_a_bad_field_is_400_on_that_field(api, field, value, rule):
    reply = await api.client.put("/users", {"data": {**ALICE, field: value}})
    assert_validation_error(reply, {field: rule})
    assert (await api.client.get("/users")).data == []


@pytest.mark.parametrize(
    "number, rule", [("", "minLength"), ("1" * 36, "maxLength"), (1001, "type")]
)
async def test_a_bad_caller_id_number_is_400_on_its_position(api, number, rule):
    reply = await api.client.put(
        "/users", {"data": {**ALICE, "caller_id_numbers": ["1001", number]}}
    )
    assert_validation_error(reply, {"caller_id_numbers.1": rule})


@pytest.mark.parametrize(
    "endpoint",
    ["1001", "PJSIP 1001", "PJSIP/", "/1001", "PJSIP/10 01", "PJSIP/1001/x", "PJ-SIP/1001"],
)
async def test_an_endpoint_that_is_not_tech_slash_resource_is_400(api, endpoint):
    reply = await api.client.put("/users", {"data": {**ALICE, "endpoints": [endpoint]}})
    assert reply.status == 400, reply.body
    assert list(reply.data) == ["endpoints.0"]


@pytest.mark.parametrize(
    "endpoint", ["PJSIP/1001", "SIP/alice-phone", "IAX2/trunk_1", "Local/1001@from-internal"]
)
async def test_asterisk_endpoints_are_accepted(api, endpoint):
    reply = await api.client.put("/users", {"data": {**ALICE, "endpoints": [endpoint]}})
    assert reply.status == 201, reply.body


async def test_data_that_is_not_an_object_is_400(api):
    reply = await api.client.put("/users", {"data": ["Alice"]})
    assert reply.status == 400
    assert "data" in reply.data


# --- list ---------------------------------------------------------------------------------------------


async def test_list_is_empty_for_a_new_account(api):
    reply = await api.client.get("/users")
    assert reply.status == 200
    assert reply.data == []


async def test_list_holds_every_user_ordered_by_id(api):
    made = [await create(api.client, last_name=f"User{n}") for n in range(3)]
    listed = (await api.client.get("/users")).data
    assert listed == sorted(made, key=lambda user: user["id"])


async def test_list_pages_through_every_user_once(api):
    made = {(await create(api.client, last_name=f"User{n}"))["id"] for n in range(5)}
    seen, start = [], None
    for _ in range(5):
        reply = await api.client.get(
            "/users?page_size=2" + (f"&start_key={start}" if start else "")
        )
        assert reply.status == 200, reply.body
        assert reply.body["page_size"] == len(reply.data) <= 2
        seen += [user["id"] for user in reply.data]
        start = reply.body.get("next_start_key")
        if start is None:
            break
    assert seen == sorted(made)


async def test_list_without_pagination_returns_everything(api):
    for n in range(3):
        await create(api.client, last_name=f"User{n}")
    reply = await api.client.get("/users?paginate=false")
    assert len(reply.data) == 3
    assert "next_start_key" not in reply.body


async def test_list_with_a_start_key_that_is_not_a_user_key_is_an_empty_page(api):
    await api.client.put("/users", {"data": {"first_name": "Ann", "last_name": "Lee"}})
    reply = await api.client.get("/users?start_key=WzEsMl0")  # [1,2]
    assert reply.status == 200, reply.body
    assert reply.data == [] and "next_start_key" not in reply.body


async def test_list_shows_only_ones_own_users(api):
    mine = await create(api.client)
    await create(api.other, last_name="Other")
    assert (await api.client.get("/users")).data == [mine]


# --- replace (POST) -----------------------------------------------------------------------------------


async def test_replace_sets_the_whole_document_and_bumps_the_revision(api):
    user = await create(api.client)
    reply = await api.client.post(
        f"/users/{user['id']}", {"data": {"first_name": "Alice", "last_name": "Kingsleigh"}}
    )
    assert reply.status == 200, reply.body
    assert reply.data == {"first_name": "Alice", "last_name": "Kingsleigh", "id": user["id"]}
    assert reply.body["revision"].startswith("2-")
    assert (await api.client.get(f"/users/{user['id']}")).data == reply.data


async def test_replace_with_the_current_revision_succeeds_and_a_stale_one_is_409(api):
    created = await api.client.put("/users", {"data": ALICE})
    path = f"/users/{created.data['id']}"
    first = await api.client.post(
        path, {"data": {**ALICE, "last_name": "One"}, "revision": created.body["revision"]}
    )
    assert first.status == 200, first.body
    stale = await api.client.post(
        path, {"data": {**ALICE, "last_name": "Two"}, "revision": created.body["revision"]}
    )
    assert stale.status == 409
    assert stale.body["message"] == "datastore_conflict"
    assert (await api.client.get(path)).data["last_name"] == "One"


async def test_a_stale_if_match_header_is_409(api):
    created = await api.client.put("/users", {"data": ALICE})
    path = f"/users/{created.data['id']}"
    assert (await api.client.patch(path, {"data": {"last_name": "One"}})).status == 200
    reply = await api.client.patch(
        path, {"data": {"last_name": "Two"}}, headers={"If-Match": created.body["revision"]}
    )
    assert reply.status == 409


async def test_an_invalid_replace_is_400_and_changes_nothing(api):
    user = await create(api.client)
    reply = await api.client.post(f"/users/{user['id']}", {"data": {"first_name": "Alice"}})
    assert_validation_error(reply, {"last_name": "required"})
    assert (await api.client.get(f"/users/{user['id']}")).data == user


# --- patch --------------------------------------------------------------------------------------------


async def test_patch_merges_and_a_null_removes_a_field(api):
    user = await create(api.client)
    reply = await api.client.patch(
        f"/users/{user['id']}", {"data": {"timezone": "America/New_York", "email": None}}
    )
    assert reply.status == 200, reply.body
    expected = {**without_id(user), "timezone": "America/New_York"}
    del expected["email"]
    assert without_id(reply.data) == expected
    assert reply.body["revision"].startswith("2-")


async def test_patch_that_breaks_the_schema_is_400_and_changes_nothing(api):
    user = await create(api.client)
    reply = await api.client.patch(f"/users/{user['id']}", {"data": {"endpoints": ["no slash"]}})
    assert reply.status == 400
    assert (await api.client.get(f"/users/{user['id']}")).data == user


async def test_patch_cannot_remove_a_required_name(api):
    user = await create(api.client)
    reply = await api.client.patch(f"/users/{user['id']}", {"data": {"first_name": None}})
    assert_validation_error(reply, {"first_name": "required"})


# --- delete -------------------------------------------------------------------------------------------


async def test_delete_answers_with_the_user_and_it_is_gone(api):
    user = await create(api.client)
    reply = await api.client.delete(f"/users/{user['id']}")
    assert reply.status == 200
    assert reply.data == user
    assert (await api.client.get(f"/users/{user['id']}")).status == 404
    assert (await api.client.delete(f"/users/{user['id']}")).status == 404
    assert (await api.client.get("/users")).data == []


async def test_delete_with_a_stale_revision_is_409_and_keeps_the_user(api):
    created = await api.client.put("/users", {"data": ALICE})
    path = f"/users/{created.data['id']}"
    assert (await api.client.patch(path, {"data": {"last_name": "Changed"}})).status == 200
    reply = await api.client.delete(path, {"data": {}, "revision": created.body["revision"]})
    assert reply.status == 409
    assert (await api.client.get(path)).status == 200


# --- ids and accounts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "PATCH", "DELETE"])
@pytest.mark.parametrize(
    "ident",
    [
        UNKNOWN_USER,
        "not-an-id",
        UNKNOWN_USER.upper(),
        UNKNOWN_USER[:31],
        UNKNOWN_USER + "0",
        "%2e%2e",
    ],
)
async def test_an_unknown_or_malformed_user_id_is_404_bad_identifier(api, method, ident):
    body = {"data": ALICE} if method in ("POST", "PATCH") else None
    reply = await api.client.call(method, f"/users/{ident}", json_body=body)
    assert reply.status == 404, reply.body
    assert reply.body["message"] in ("bad_identifier", "not_found")
    if reply.body["message"] == "bad_identifier":
        assert reply.data["cause"]


async def test_another_accounts_path_is_403(api):
    reply = await api.other.get(f"/v2/accounts/{api.client.account_id}/users")
    assert reply.status == 403


@pytest.mark.parametrize("method", ["GET", "POST", "PATCH", "DELETE"])
async def test_another_accounts_user_under_ones_own_path_is_404_and_untouched(api, method):
    user = await create(api.client)
    body = (
        {"data": {"first_name": "Eve", "last_name": "Intruder"}}
        if method in ("POST", "PATCH")
        else None
    )
    reply = await api.other.call(method, f"/users/{user['id']}", json_body=body)
    assert reply.status == 404
    assert reply.body["message"] == "bad_identifier"
    assert (await api.client.get(f"/users/{user['id']}")).data == user


# --- the owner lookup follows every write -------------------------------------------------------------


async def test_owner_lookup_follows_create_patch_replace_and_delete(api):
    user = await create(api.client, endpoints=["PJSIP/1001"], caller_id_numbers=["1001"])
    path = f"/users/{user['id']}"
    assert await owners(api, "PJSIP/1001", "9999") == {user["id"]}
    assert (
        await owners(api, "PJSIP/2002", "1001") == set()
    )  # listed endpoints: the number is not trusted

    assert (await api.client.patch(path, {"data": {"endpoints": ["PJSIP/2002"]}})).status == 200
    assert await owners(api, "PJSIP/1001", "") == set()
    assert await owners(api, "PJSIP/2002", "") == {user["id"]}

    numbers_only = {"first_name": "A", "last_name": "B", "caller_id_numbers": ["1001"]}
    replaced = await api.client.post(path, {"data": numbers_only})
    assert replaced.status == 200
    assert await owners(api, "PJSIP/2002", "") == set()
    assert await owners(api, "PJSIP/7777", "1001") == {
        user["id"]
    }  # no endpoints left: the number counts

    assert (await api.client.delete(path)).status == 200
    assert await owners(api, "PJSIP/7777", "1001") == set()


async def test_a_rejected_write_leaves_the_owner_lookup_as_it_was(api):
    user = await create(api.client, endpoints=["PJSIP/1001"])
    reply = await api.client.patch(
        f"/users/{user['id']}", {"data": {"endpoints": ["PJSIP/2002", "bad"]}}
    )
    assert reply.status == 400
    assert await owners(api, "PJSIP/1001", "") == {user["id"]}
    assert await owners(api, "PJSIP/2002", "") == set()


async def test_owner_lookup_never_crosses_accounts(api):
    mine = await create(api.client, endpoints=["PJSIP/1001"], caller_id_numbers=["1001"])
    theirs = await create(api.other, endpoints=["PJSIP/1001"], caller_id_numbers=["1001"])
    assert await owners(api, "PJSIP/1001", "1001") == {mine["id"]}
    assert await owners(api, "PJSIP/1001", "1001", account=api.other.account_id) == {theirs["id"]}
