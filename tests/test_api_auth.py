"""Authentication and account isolation: API key -> token, the token check on every endpoint, and one
account never reaching another's data."""

import re
import time
from dataclasses import dataclass

import pytest

from store.accounts import Token, create_account, create_token
from store.api.auth import TokenCache
from store.api.options import ApiOptions
from tests.conftest import make_tone

SECRET_NAME = "Alice's private box"
SECRET_USER = "Secretsurname"
SECRET_GREETING = "Alice's secret greeting"


@dataclass
class World:
    """Account A's box and a message with audio, as the victim of the tests below."""

    box_id: str
    message_id: str
    user_id: str
    media_id: str
    audio: bytes  # a WAV file, for the endpoints that take audio
    media_wav: bytes  # the media object's audio as GET …/media/{media}/raw gives it


@pytest.fixture
async def world(api, tmp_path) -> World:
    box = await api.client.create_box("3000", name=SECRET_NAME, pin="2468")
    tone = make_tone(tmp_path, 1.0)
    message = await api.client.create_message(
        box["id"], tone, caller_id_number="5550100", caller_id_name="Secret Caller"
    )
    user = await api.client.put(
        "/users",
        {
            "data": {
                "first_name": "Alice",
                "last_name": SECRET_USER,
                "caller_id_numbers": ["5550100"],
            }
        },
    )
    assert user.status == 201, user.body
    media = await api.client.put("/media", {"data": {"name": SECRET_GREETING}})
    assert media.status == 201, media.body
    raw = await api.client.call(
        "PUT",
        f"/media/{media.data['id']}/raw",
        data=tone.read_bytes(),
        headers={"Content-Type": "audio/wav"},
    )
    assert raw.status == 200, raw.body
    download = await api.client.get(f"/media/{media.data['id']}/raw")
    assert download.status == 200
    return World(
        box["id"],
        message["media_id"],
        user.data["id"],
        media.data["id"],
        tone.read_bytes(),
        download.body,
    )


AUDIO = "<the world's WAV audio as the raw request body>"

# Every account endpoint: (method, path under /v2/accounts/{account_id}, a body it would accept).
# `{box}`, `{message}`, `{user}` and `{media}` stand for account A's box, message, user and media object.
ENDPOINTS = [
    ("GET", "/vmboxes", None),
    ("PUT", "/vmboxes", {"data": {"name": "Intruder", "mailbox": "9999"}}),
    ("GET", "/vmboxes/messages", None),
    ("GET", "/vmboxes/{box}", None),
    ("POST", "/vmboxes/{box}", {"data": {"name": "Hijacked", "mailbox": "3000"}}),
    ("PATCH", "/vmboxes/{box}", {"data": {"name": "Hijacked"}}),
    ("DELETE", "/vmboxes/{box}", None),
    ("POST", "/vmboxes/{box}/messages/raw", {"data": {"messages": ["{message}"]}}),
    ("GET", "/vmboxes/{box}/messages", None),
    ("PUT", "/vmboxes/{box}/messages", {"data": {"caller_id_number": "666"}}),
    ("POST", "/vmboxes/{box}/messages", {"data": {"messages": ["{message}"], "folder": "saved"}}),
    ("DELETE", "/vmboxes/{box}/messages", None),
    ("GET", "/vmboxes/{box}/messages/{message}", None),
    ("POST", "/vmboxes/{box}/messages/{message}", {"data": {"folder": "saved"}}),
    ("DELETE", "/vmboxes/{box}/messages/{message}", None),
    ("POST", "/vmboxes/{box}/messages/{message}/forward", {"data": {"mailbox": "3000"}}),
    ("GET", "/vmboxes/{box}/messages/{message}/raw", None),
    ("PUT", "/vmboxes/{box}/messages/{message}/raw", AUDIO),
    ("GET", "/vmboxes/{box}/events", None),
    ("GET", "/vmboxes/{box}/greetings/unavailable", None),
    ("PUT", "/vmboxes/{box}/greetings/unavailable", AUDIO),
    ("DELETE", "/vmboxes/{box}/greetings/name", None),
    ("GET", "/users", None),
    (
        "PUT",
        "/users",
        {"data": {"first_name": "Eve", "last_name": "Intruder", "endpoints": ["PJSIP/666"]}},
    ),
    ("GET", "/users/{user}", None),
    ("POST", "/users/{user}", {"data": {"first_name": "Eve", "last_name": "Hijacked"}}),
    ("PATCH", "/users/{user}", {"data": {"endpoints": ["PJSIP/666"]}}),
    ("DELETE", "/users/{user}", None),
    ("GET", "/media", None),
    ("PUT", "/media", {"data": {"name": "Intruder"}}),
    ("GET", "/media/{media}", None),
    ("POST", "/media/{media}", {"data": {"name": "Hijacked"}}),
    ("PATCH", "/media/{media}", {"data": {"name": "Hijacked"}}),
    ("DELETE", "/media/{media}", None),
    ("GET", "/media/{media}/raw", None),
    ("PUT", "/media/{media}/raw", AUDIO),
]
ENDPOINT_IDS = [f"{method} {path}" for method, path, _ in ENDPOINTS]
# The endpoints that name a box, message, user or media object of account A.
ID_ENDPOINTS = [
    endpoint
    for endpoint in ENDPOINTS
    if any(name in endpoint[1] for name in ("{box}", "{user}", "{media}"))
]
ID_ENDPOINT_IDS = [f"{method} {path}" for method, path, _ in ID_ENDPOINTS]


def fill(world: World, value):
    """`value` (a path or a JSON body) with `{box}`, `{message}`, `{user}` and `{media}` replaced by account A's ids."""
    if isinstance(value, str):
        return (
            value.replace("{box}", world.box_id)
            .replace("{message}", world.message_id)
            .replace("{user}", world.user_id)
            .replace("{media}", world.media_id)
        )
    if isinstance(value, dict):
        return {key: fill(world, item) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(world, item) for item in value]
    return value


async def send(client, world: World, method: str, path: str, body, **kw):
    """Call one endpoint of ENDPOINTS with account A's ids filled in."""
    if body is AUDIO:
        return await client.call(
            method, fill(world, path), data=world.audio, headers={"Content-Type": "audio/wav"}, **kw
        )
    return await client.call(method, fill(world, path), json_body=fill(world, body), **kw)


async def assert_untouched(api, world: World) -> None:
    """Account A's box, message, user and media object are exactly as the world fixture made them."""
    box = await api.client.get(f"/vmboxes/{world.box_id}")
    assert box.status == 200, box.body
    assert box.data["name"] == SECRET_NAME
    messages = await api.client.get(f"/vmboxes/{world.box_id}/messages")
    assert [(item["media_id"], item["folder"]) for item in messages.data] == [
        (world.message_id, "new")
    ]
    assert [entry["mailbox"] for entry in (await api.client.get("/vmboxes")).data] == ["3000"]
    users = (await api.client.get("/users")).data
    assert [(user["id"], user["last_name"], user.get("endpoints")) for user in users] == [
        (world.user_id, SECRET_USER, None)
    ]
    media = (await api.client.get("/media")).data
    assert [(item["id"], item["name"]) for item in media] == [(world.media_id, SECRET_GREETING)]
    raw = await api.client.get(f"/media/{world.media_id}/raw")
    assert raw.status == 200 and raw.body == world.media_wav


def assert_no_leak(reply, world: World) -> None:
    text = reply.body.decode(errors="replace") if isinstance(reply.body, bytes) else str(reply.body)
    for secret in (SECRET_NAME, "5550100", "Secret Caller", SECRET_USER, SECRET_GREETING):
        assert secret not in text
    assert reply.headers.get("Content-Type", "").startswith("application/json")


# --- PUT /v2/api_auth ---------------------------------------------------------------------------------


async def test_api_key_gives_a_201_with_the_token_in_the_envelope(api):
    reply = await api.client.put("/v2/api_auth", {"data": {"api_key": api.api_key}}, token="")
    assert reply.status == 201, reply.body
    assert reply.body["status"] == "success"
    assert re.fullmatch(r"[A-Za-z0-9_-]{32,}", reply.body["auth_token"])
    assert reply.data["account_id"] == api.client.account_id


async def test_api_auth_answer_does_not_echo_the_key(api):
    reply = await api.client.put("/v2/api_auth", {"data": {"api_key": api.api_key}}, token="")
    assert api.api_key not in str(reply.body)


async def test_api_auth_says_how_long_the_token_lasts(api):
    reply = await api.client.put("/v2/api_auth", {"data": {"api_key": api.api_key}}, token="")
    assert 3590 <= reply.data["expires_in_s"] <= 3600


async def test_token_from_api_auth_opens_the_accounts_endpoints(api):
    await api.client.create_box("3000")
    auth = await api.client.put("/v2/api_auth", {"data": {"api_key": api.api_key}}, token="")
    listing = await api.client.get("/vmboxes", token=auth.body["auth_token"])
    assert listing.status == 200, listing.body
    assert [entry["mailbox"] for entry in listing.data] == ["3000"]
    assert listing.body["auth_token"] == auth.body["auth_token"]


async def test_each_api_auth_gives_a_new_token(api):
    first = await api.client.put("/v2/api_auth", {"data": {"api_key": api.api_key}}, token="")
    second = await api.client.put("/v2/api_auth", {"data": {"api_key": api.api_key}}, token="")
    assert first.body["auth_token"] != second.body["auth_token"]
    for reply in (first, second):
        assert (await api.client.get("/vmboxes", token=reply.body["auth_token"])).status == 200


async def test_token_is_scoped_to_the_keys_account(api, world):
    account, key = await create_account(api.store.db, "C")
    auth = await api.client.put("/v2/api_auth", {"data": {"api_key": key}}, token="")
    assert auth.data["account_id"] == account.id
    own = await api.client.get(f"/v2/accounts/{account.id}/vmboxes", token=auth.body["auth_token"])
    assert own.status == 200 and own.data == []
    other = await api.client.get("/vmboxes", token=auth.body["auth_token"])
    assert other.status == 403
    assert_no_leak(other, world)


async def test_wrong_api_key_is_a_401(api):
    reply = await api.client.put("/v2/api_auth", {"data": {"api_key": api.api_key + "x"}}, token="")
    assert reply.status == 401
    assert reply.body["status"] == "error"
    assert reply.body["error"] == "401"
    assert "auth_token" not in reply.body or not reply.body["auth_token"]


async def test_missing_api_key_is_a_400_required(api):
    reply = await api.client.put("/v2/api_auth", {"data": {}}, token="")
    assert reply.status == 400
    assert reply.body["message"] == "validation error"
    assert reply.data == {"api_key": {"required": {"message": "Field is required but missing"}}}


@pytest.mark.parametrize("body", [{}, {"data": {"api_key": ""}}, {"data": {"api_key": 12345}}])
async def test_empty_or_non_string_api_key_is_a_400(api, body):
    reply = await api.client.put("/v2/api_auth", body, token="")
    assert reply.status == 400, reply.body
    assert set(reply.data) == {"api_key"}


async def test_malformed_api_auth_body_is_a_400(api):
    reply = await api.client.call(
        "PUT",
        "/v2/api_auth",
        data=b'{"data": {"api_key"',
        headers={"Content-Type": "application/json"},
        token="",
    )
    assert reply.status == 400
    assert reply.body["status"] == "error"


# --- tokens on every account endpoint -----------------------------------------------------------------


async def test_the_endpoint_list_covers_every_account_endpoint_of_the_api(api):
    document = await api.client.get("/v2/openapi.json", token="")
    described = {
        (method.upper(), path)
        for path, operations in document.body["paths"].items()
        if path.startswith("/v2/accounts/")
        for method in operations
    }
    listed = {
        (
            method,
            "/v2/accounts/{account_id}"
            + path.replace("{box}", "{box_id}")
            .replace("{message}", "{message_id}")
            .replace("{user}", "{user_id}")
            .replace("{media}", "{media_id}")
            .replace("/greetings/unavailable", "/greetings/{kind}")
            .replace("/greetings/name", "/greetings/{kind}"),
        )
        for method, path, _ in ENDPOINTS
    }
    assert described == listed


@pytest.mark.parametrize("method, path, body", ENDPOINTS, ids=ENDPOINT_IDS)
async def test_no_token_is_a_401_on_every_account_endpoint(api, world, method, path, body):
    reply = await send(api.client, world, method, path, body, token="")
    assert reply.status == 401, (method, path, reply.body)
    assert reply.body["error"] == "401"
    assert_no_leak(reply, world)
    await assert_untouched(api, world)


@pytest.mark.parametrize("method, path, body", ENDPOINTS, ids=ENDPOINT_IDS)
async def test_invalid_token_is_a_401_on_every_account_endpoint(api, world, method, path, body):
    reply = await send(api.client, world, method, path, body, token="not-a-token-" + "x" * 30)
    assert reply.status == 401, (method, path, reply.body)
    assert_no_leak(reply, world)
    await assert_untouched(api, world)


@pytest.mark.parametrize("method, path, body", ENDPOINTS, ids=ENDPOINT_IDS)
async def test_another_accounts_token_is_a_403_on_every_endpoint(api, world, method, path, body):
    reply = await send(
        api.other, world, method, f"/v2/accounts/{api.client.account_id}{path}", body
    )
    assert reply.status == 403, (method, path, reply.body)
    assert reply.body["error"] == "403"
    assert_no_leak(reply, world)
    await assert_untouched(api, world)


async def test_a_token_is_refused_on_an_account_that_does_not_exist(api):
    reply = await api.client.get(f"/v2/accounts/{'0' * 32}/vmboxes")
    assert reply.status == 403


async def test_the_401_answer_names_the_auth_header(api):
    reply = await api.client.get("/vmboxes", token="")
    assert reply.headers.get("WWW-Authenticate") == "X-Auth-Token"


async def test_public_endpoints_need_no_token(api):
    assert (await api.client.get("/healthz", token="")).status == 200
    assert (await api.client.get("/v2/openapi.json", token="")).status == 200


# --- another account's ids under one's own path -------------------------------------------------------


@pytest.mark.parametrize("method, path, body", ID_ENDPOINTS, ids=ID_ENDPOINT_IDS)
async def test_another_accounts_ids_under_ones_own_path_are_bad_identifier(
    api, world, method, path, body
):
    reply = await send(api.other, world, method, path, body)
    assert reply.status == 404, (method, path, reply.body)
    assert reply.body["message"] == "bad_identifier"
    assert_no_leak(reply, world)
    await assert_untouched(api, world)


async def test_another_accounts_message_under_ones_own_box_is_bad_identifier(api, world):
    own_box = await api.other.create_box("3000")
    reply = await api.other.get(f"/vmboxes/{own_box['id']}/messages/{world.message_id}")
    assert reply.status == 404
    assert reply.body["message"] == "bad_identifier"
    assert_no_leak(reply, world)


async def test_moving_a_message_into_another_accounts_box_is_refused(api, world):
    other_box = await api.other.create_box("5000")
    reply = await api.client.post(
        f"/vmboxes/{world.box_id}/messages/{world.message_id}",
        {"data": {"source_id": other_box["id"]}},
    )
    assert reply.status == 404, reply.body
    assert (await api.other.get(f"/vmboxes/{other_box['id']}/messages")).data == []
    await assert_untouched(api, world)


async def test_copying_a_message_into_another_accounts_box_is_refused(api, world):
    other_box = await api.other.create_box("5000")
    reply = await api.client.post(
        f"/vmboxes/{world.box_id}/messages/{world.message_id}",
        {"data": {"source_id": [other_box["id"]]}},
    )
    assert reply.status in (400, 404), reply.body
    assert (await api.other.get(f"/vmboxes/{other_box['id']}/messages")).data == []
    await assert_untouched(api, world)


async def test_account_wide_listing_shows_only_ones_own_messages(api, world):
    own_box = await api.other.create_box("5000")
    mine = await api.other.create_message(own_box["id"])
    listing = await api.other.get("/vmboxes/messages")
    [item] = listing.data
    assert list(item) == [own_box["id"]] and item[own_box["id"]]["media_id"] == mine["media_id"]
    assert_no_leak(listing, world)


# --- expired tokens -----------------------------------------------------------------------------------


@pytest.mark.parametrize("ttl_s", [0, -1, -3600])
async def test_an_expired_token_is_a_401(api, ttl_s):
    token, _ = await create_token(api.store.db, api.client.account_id, ttl_s)
    reply = await api.client.get("/vmboxes", token=token)
    assert reply.status == 401
    assert reply.body["error"] == "401"


async def test_an_expired_token_is_refused_even_right_after_a_valid_one(api):
    valid, _ = await create_token(api.store.db, api.client.account_id, 3600)
    expired, _ = await create_token(api.store.db, api.client.account_id, -1)
    assert (await api.client.get("/vmboxes", token=valid)).status == 200
    assert (await api.client.get("/vmboxes", token=expired)).status == 401


@pytest.mark.parametrize("api_options", [ApiOptions(token_ttl_s=0)])
async def test_a_token_issued_with_no_lifetime_left_is_refused(api, api_options):
    auth = await api.client.put("/v2/api_auth", {"data": {"api_key": api.api_key}}, token="")
    assert auth.status == 201, auth.body
    assert auth.data["expires_in_s"] == 0
    reply = await api.client.get("/vmboxes", token=auth.body["auth_token"])
    assert reply.status == 401


def test_the_token_cache_reads_a_token_again_after_a_while():
    """So a token revoked by another path (a PIN changed by phone) stops working within that time."""
    cache = TokenCache(recheck_s=0)
    cache.put("token", Token("a" * 32, int(time.time()) + 3600))
    assert cache.get("token") is None
    fresh = TokenCache(recheck_s=60)
    fresh.put("token", Token("a" * 32, int(time.time()) + 3600))
    assert fresh.get("token") is not None
