"""Box logins (`PUT /v2/vmbox_auth`): a mailbox and PIN for a token that reaches that box alone, the
phone's lockout, the cookie a browser keeps it in (and the CSRF rule for it), who a token is, and
logging out. A real API server and store; the phone's side through the call services themselves."""

import pytest
from aiohttp import ClientSession, web

from ivr.flow.actions import CheckPin, SetPin
from ivr.flow.events import PinChecked
from ivr.flow.model import CallInfo, Purpose
from ivr.services import CallServices, ServiceOptions
from store.accounts import create_account, token_info
from store.api.app import make_app
from store.api.options import ApiOptions
from store.core import open_store
from store.lockout import is_locked
from store.pin_logins import LockoutPolicy
from store.vmboxes import create_vmbox
from tests.conftest import make_tone

LOCKOUT = LockoutPolicy(failures=3, window_s=900, lock_s=900)


@pytest.fixture
def api_options() -> ApiOptions:
    # Failed logins per address are tested in test_api_login_limits.py; here they must not interfere.
    return ApiOptions(lockout=LOCKOUT, login_failures=1000)


async def login(api, mailbox: str, pin: str, **extra):
    """A box login to account A (the fixture holds two accounts, so the login names one)."""
    body = {"data": {"mailbox": mailbox, "pin": pin, "account_name": "A", **extra}}
    return await api.client.call("PUT", "/v2/vmbox_auth", json_body=body, token="")


@pytest.fixture
async def boxes(api, tmp_path) -> dict:
    """Boxes 3000 (PIN 1234, with a message) and 3001 of account A."""
    ann = await api.client.create_box("3000", pin="1234")
    bob = await api.client.create_box("3001", pin="9999")
    message = await api.client.create_message(ann["id"], make_tone(tmp_path, 1.0))
    return {"ann": ann["id"], "bob": bob["id"], "message": message["media_id"]}


def cookie_of(reply) -> str:
    return reply.headers["Set-Cookie"]


async def test_a_right_pin_gives_a_box_token_and_a_cookie(api, boxes):
    reply = await login(api, "3000", "1234")
    assert reply.status == 201, reply.body
    assert reply.body["auth_token"]
    data = reply.data
    assert data["account_id"] == api.client.account_id
    assert data["account_name"] == "A"
    assert data["vmbox_id"] == boxes["ann"]
    assert data["mailbox"] == "3000"
    assert 3590 < data["expires_in_s"] <= 3600
    cookie = cookie_of(reply)
    assert cookie.startswith(f"vmbox_token={reply.body['auth_token']};")
    for attribute in ("HttpOnly", "Path=/", "SameSite=Strict", "Max-Age=3600"):
        assert attribute in cookie
    assert "Secure" not in cookie  # plain HTTP here; over TLS see test_api_tls.py


async def test_a_box_token_reaches_its_own_box(api, boxes):
    token = (await login(api, "3000", "1234")).body["auth_token"]
    ann, message = boxes["ann"], boxes["message"]
    assert (await api.client.get(f"/vmboxes/{ann}", token=token)).status == 200
    listing = await api.client.get(f"/vmboxes/{ann}/messages", token=token)
    assert [entry["media_id"] for entry in listing.data] == [message]
    raw = await api.client.get(f"/vmboxes/{ann}/messages/{message}/raw", token=token)
    assert raw.status == 200 and raw.headers["Content-Type"] == "audio/mpeg"
    saved = await api.client.post(
        f"/vmboxes/{ann}/messages/{message}", {"data": {"folder": "saved"}}, token=token
    )
    assert saved.status == 200 and saved.data["folder"] == "saved"


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/vmboxes"),
        ("PUT", "/vmboxes"),
        ("GET", "/vmboxes/messages"),
        ("GET", "/vmboxes/{bob}"),
        ("GET", "/vmboxes/{bob}/messages"),
        ("POST", "/vmboxes/{ann}"),  # replacing a box is the account's
        ("DELETE", "/vmboxes/{ann}"),
        ("GET", "/users"),
        ("GET", "/media"),
    ],
)
async def test_a_box_token_reaches_nothing_else(api, boxes, method, path):
    token = (await login(api, "3000", "1234")).body["auth_token"]
    reply = await api.client.call(method, path.format(**boxes), token=token)
    assert reply.status == 403, reply.body
    assert reply.body["message"] == "forbidden"


async def test_a_box_token_never_reaches_another_account(api, boxes):
    token = (await login(api, "3000", "1234")).body["auth_token"]
    reply = await api.other.get("/vmboxes", token=token)
    assert reply.status == 403


async def test_a_box_login_changes_only_the_owner_s_settings(api, boxes):
    token = (await login(api, "3000", "1234")).body["auth_token"]
    ann = boxes["ann"]
    changed = await api.client.patch(
        f"/vmboxes/{ann}",
        {"data": {"timezone": "Europe/Paris", "skip_instructions": True, "pin": "4321"}},
        token=token,
    )
    assert changed.status == 200, changed.body
    assert changed.data["timezone"] == "Europe/Paris"
    assert (await login(api, "3000", "4321")).status == 201
    for field, value in (("mailbox", "3999"), ("owner_id", "0" * 32), ("media", {"name": None})):
        refused = await api.client.patch(f"/vmboxes/{ann}", {"data": {field: value}}, token=token)
        assert refused.status == 403, field
        assert field in refused.data["message"]
    assert (await api.client.get(f"/vmboxes/{ann}")).data["mailbox"] == "3000"


async def test_a_box_its_owner_may_not_configure_refuses_a_box_login_s_changes(api, boxes):
    token = (await login(api, "3000", "1234")).body["auth_token"]
    await api.client.patch(f"/vmboxes/{boxes['ann']}", {"data": {"not_configurable": True}})
    refused = await api.client.patch(
        f"/vmboxes/{boxes['ann']}", {"data": {"timezone": "Europe/Paris"}}, token=token
    )
    assert refused.status == 403
    assert "not configurable" in refused.data["message"]


async def test_a_box_login_may_not_move_or_copy_by_box_id(api, boxes):
    token = (await login(api, "3000", "1234")).body["auth_token"]
    path = f"/vmboxes/{boxes['ann']}/messages/{boxes['message']}"
    for target in (boxes["bob"], [boxes["bob"]]):
        reply = await api.client.post(path, {"data": {"source_id": target}}, token=token)
        assert reply.status == 403, reply.body
    assert (await api.client.get(f"/vmboxes/{boxes['bob']}/messages")).data == []


async def test_a_wrong_pin_and_an_unknown_mailbox_get_the_same_answer(api, boxes):
    wrong = await login(api, "3000", "0000")
    unknown = await login(api, "3999", "1234")
    assert wrong.status == unknown.status == 401
    assert wrong.data == unknown.data == {"message": "wrong mailbox or PIN"}
    assert "Set-Cookie" not in wrong.headers


@pytest.mark.parametrize(
    "data, field, rule",
    [
        ({"pin": "1234"}, "mailbox", "required"),
        ({"mailbox": "3000"}, "pin", "required"),
        ({"mailbox": 3000, "pin": "1234"}, "mailbox", "type"),
        ({"mailbox": "3000", "pin": 1234}, "pin", "type"),
    ],
)
async def test_a_login_without_its_fields_is_a_validation_error(api, boxes, data, field, rule):
    reply = await api.client.put(
        "/v2/vmbox_auth", {"data": {"account_name": "A", **data}}, token=""
    )
    assert reply.status == 400
    assert rule in reply.data[field]


async def test_wrong_pins_on_the_web_and_the_phone_share_one_lockout(api, boxes):
    services = CallServices(
        api.store, ServiceOptions(lockout_failures=3, lockout_window_s=900, lockout_s=900)
    )
    call = CallInfo("call-1", Purpose.CHECK, "3000", account_id=api.client.account_id)
    assert (await login(api, "3000", "1111")).status == 401
    assert await services.run(call, CheckPin(boxes["ann"], "2222")) == PinChecked(False)
    locked = await login(api, "3000", "3333")  # the third failure, wherever made, locks the box
    assert locked.status == 423
    assert "try again after" in locked.data["message"]
    assert 890 <= int(locked.headers["Retry-After"]) <= 900
    assert await is_locked(api.store.db, boxes["ann"], locked.data["retry_after_s"] - 900 + 1)
    # While locked, the right PIN is refused on the web and on the phone.
    refused = await login(api, "3000", "1234")
    assert refused.status == 423
    assert await services.run(call, CheckPin(boxes["ann"], "1234")) == PinChecked(False)
    assert (await login(api, "3001", "9999")).status == 201  # other boxes are not locked


async def test_a_right_pin_forgets_the_failures_before_it(api, boxes):
    for _ in range(2):
        assert (await login(api, "3000", "0000")).status == 401
    assert (await login(api, "3000", "1234")).status == 201
    for _ in range(2):
        assert (await login(api, "3000", "0000")).status == 401
    assert (await login(api, "3000", "1234")).status == 201


async def test_with_several_accounts_the_login_names_one(api, boxes):
    # The fixture holds accounts A and B; B has a box 3000 too.
    await api.other.create_box("3000", pin="5555")
    unnamed = await api.client.put(
        "/v2/vmbox_auth", {"data": {"mailbox": "3000", "pin": "1234"}}, token=""
    )
    assert unnamed.status == 400
    assert "required" in unnamed.data["account_name"]
    ann = await login(api, "3000", "1234", account_name="A")
    assert ann.status == 201 and ann.data["vmbox_id"] == boxes["ann"]
    other = await login(api, "3000", "5555", account_name="b")  # names compare without case
    assert other.status == 201 and other.data["account_id"] == api.other.account_id
    assert (await login(api, "3000", "1234", account_name="Nobody")).status == 401


async def test_with_one_account_the_login_needs_no_name(tmp_path, store_url):
    # The `api` fixture holds two accounts: this one serves a store of its own.
    store = await open_store(tmp_path / "solo", retention_days=93, url=store_url)
    account, _ = await create_account(store.db, "Solo")
    await create_vmbox(store.db, account.id, {"name": "S", "mailbox": "100", "pin": "1234"})
    runner = web.AppRunner(make_app(store), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        async with ClientSession() as session:
            url = f"http://127.0.0.1:{runner.addresses[0][1]}/v2/vmbox_auth"
            body = {"data": {"mailbox": "100", "pin": "1234"}}
            async with session.put(url, json=body) as reply:
                assert reply.status == 201
                assert (await reply.json())["data"]["account_id"] == account.id
    finally:
        await runner.cleanup()
        await store.db.close()


async def test_who_a_token_is(api, boxes):
    token = (await login(api, "3000", "1234")).body["auth_token"]
    box = await api.client.get("/v2/vmbox_auth", token=token)
    assert box.status == 200
    assert box.data["vmbox_id"] == boxes["ann"] and box.data["mailbox"] == "3000"
    account = await api.client.get("/v2/vmbox_auth")
    assert account.status == 200
    assert account.data["account_id"] == api.client.account_id
    assert "vmbox_id" not in account.data
    assert (await api.client.get("/v2/vmbox_auth", token="nonsense")).status == 401


# --- the cookie --------------------------------------------------------------------------------------


async def cookie_call(api, method, path, cookie_token, body=None, **headers):
    return await api.client.call(
        method,
        path,
        json_body=body,
        token="",
        headers={"Cookie": f"vmbox_token={cookie_token}", **headers},
    )


async def test_the_cookie_authenticates_without_the_header(api, boxes):
    token = (await login(api, "3000", "1234")).body["auth_token"]
    reply = await cookie_call(api, "GET", f"/vmboxes/{boxes['ann']}/messages", token)
    assert reply.status == 200
    assert reply.body["auth_token"] == ""  # a cookie's token is never echoed where scripts read it
    assert (await cookie_call(api, "GET", "/vmboxes", token)).status == 403


async def test_an_api_key_login_sets_the_cookie_too(api, boxes):
    reply = await api.client.put("/v2/api_auth", {"data": {"api_key": api.api_key}}, token="")
    assert reply.status == 201
    token = reply.body["auth_token"]
    assert cookie_of(reply).startswith(f"vmbox_token={token};")
    listing = await cookie_call(api, "GET", "/vmboxes", token)
    assert listing.status == 200 and len(listing.data) == 2


async def test_a_cookie_s_change_must_come_from_the_same_origin(api, boxes):
    token = (await login(api, "3000", "1234")).body["auth_token"]
    path = f"/vmboxes/{boxes['ann']}/messages/{boxes['message']}"
    body = {"data": {"folder": "saved"}}
    own = api.base  # http://127.0.0.1:<port>
    refused = [
        await cookie_call(api, "POST", path, token, body),
        await cookie_call(api, "POST", path, token, body, Origin="http://evil.example"),
        await cookie_call(api, "POST", path, token, body, Origin=own.replace("http:", "https:")),
        await cookie_call(api, "POST", path, token, body, Origin="null"),
    ]
    assert [reply.status for reply in refused] == [403] * 4
    assert "Origin" in refused[0].data["message"]
    assert (await cookie_call(api, "POST", path, token, body, Origin=own)).status == 200
    with_header = await cookie_call(api, "POST", path, token, body, **{"X-Requested-With": "page"})
    assert with_header.status == 200
    # The header's token needs neither: no browser sends it by itself.
    assert (await api.client.post(path, body, token=token)).status == 200


async def test_logging_out_revokes_the_token_and_clears_the_cookie(api, boxes):
    token = (await login(api, "3000", "1234")).body["auth_token"]
    out = await cookie_call(api, "DELETE", "/v2/vmbox_auth", token, Origin=api.base)
    assert out.status == 200, out.body
    cleared = cookie_of(out)
    assert cleared.startswith('vmbox_token="";') and "Max-Age=0" in cleared
    assert (await api.client.get(f"/vmboxes/{boxes['ann']}", token=token)).status == 401
    assert (await cookie_call(api, "GET", f"/vmboxes/{boxes['ann']}", token)).status == 401


async def test_a_box_token_goes_with_its_box(api, boxes):
    token = (await login(api, "3001", "9999")).body["auth_token"]
    assert (await api.client.delete(f"/vmboxes/{boxes['bob']}")).status == 200
    assert (await api.client.get("/v2/vmbox_auth", token=token)).status == 401


async def test_a_new_pin_logs_out_the_box_s_other_logins(api, boxes):
    changing = (await login(api, "3000", "1234")).body["auth_token"]
    other = (await login(api, "3000", "1234")).body["auth_token"]
    bob = (await login(api, "3001", "9999")).body["auth_token"]
    ann = f"/vmboxes/{boxes['ann']}"
    assert (await api.client.patch(ann, {"data": {"pin": "4321"}}, token=changing)).status == 200
    assert (await api.client.get(ann, token=changing)).status == 200
    assert (await api.client.get(ann, token=other)).status == 401
    assert (await api.client.get(f"/vmboxes/{boxes['bob']}", token=bob)).status == 200
    # The account changing it logs out every login of the box.
    assert (await api.client.patch(ann, {"data": {"pin": "5678"}})).status == 200
    assert (await api.client.get(ann, token=changing)).status == 401


async def test_a_new_pin_by_phone_revokes_the_box_s_web_logins(api, boxes):
    token = (await login(api, "3000", "1234")).body["auth_token"]
    call = CallInfo("call-1", Purpose.CHECK, "3000", account_id=api.client.account_id)
    await CallServices(api.store).run(call, SetPin(boxes["ann"], "4321"))
    # The API's cache reads a token again within a minute; the store forgot it at once.
    assert await token_info(api.store.db, token) is None
    assert (await login(api, "3000", "4321")).status == 201
