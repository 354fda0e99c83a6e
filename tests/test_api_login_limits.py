"""Failed logins per client address: the counter itself (explicit times, no clock), and both login
endpoints refusing an address past the limit, with the address a trusted proxy reports."""

import pytest

from ivr import serve
from ivr.config import load_settings
from store.api.login_limits import FailedLogins
from store.api.options import ApiOptions
from store.pin_logins import LockoutPolicy

T0 = 1_700_000_000.0


def test_an_address_may_fail_up_to_the_limit_then_waits_out_the_window():
    limits = FailedLogins(limit=3, window_s=60)
    for at in (T0, T0 + 1, T0 + 2):
        assert limits.retry_after("192.0.2.1", at) is None
        limits.failed("192.0.2.1", at)
    assert limits.retry_after("192.0.2.1", T0 + 2) == 58
    assert limits.retry_after("192.0.2.1", T0 + 59.5) == 1
    assert limits.retry_after("192.0.2.1", T0 + 60) is None  # the first failure left the window
    assert limits.retry_after("192.0.2.2", T0 + 2) is None  # addresses are counted apart


@pytest.mark.parametrize(
    "failures, now, expected",
    [
        ([], T0, None),
        ([T0] * 2, T0, None),
        ([T0] * 3, T0, 60),
        ([T0 - 30, T0 - 10, T0], T0, 30),
        ([T0 - 61, T0 - 10, T0], T0, None),  # one is older than the window
    ],
)
def test_retry_after(failures, now, expected):
    limits = FailedLogins(limit=3, window_s=60)
    for at in failures:
        limits.failed("192.0.2.1", at)
    assert limits.retry_after("192.0.2.1", now) == expected


def test_a_flood_of_addresses_is_forgotten_rather_than_kept_without_bound():
    limits = FailedLogins(limit=3, window_s=60, max_addresses=100)
    for number in range(250):
        limits.failed(f"10.0.{number // 256}.{number % 256}", T0)
    assert len(limits._failures) <= 100


@pytest.fixture
def api_options() -> ApiOptions:
    return ApiOptions(login_failures=3, login_window_s=60, trusted_proxies=("127.0.0.1",))


async def vmbox_login(api, pin: str, **headers):
    body = {"data": {"mailbox": "3000", "pin": pin, "account_name": "A"}}
    return await api.client.call("PUT", "/v2/vmbox_auth", json_body=body, token="", headers=headers)


async def key_login(api, key: str, **headers):
    body = {"data": {"api_key": key}}
    return await api.client.call("PUT", "/v2/api_auth", json_body=body, token="", headers=headers)


async def test_an_address_past_the_limit_gets_429_on_both_logins(api):
    await api.client.create_box("3000", pin="1234")
    client = {"X-Forwarded-For": "203.0.113.7"}
    assert (await vmbox_login(api, "0000", **client)).status == 401
    assert (await key_login(api, "not a key", **client)).status == 401
    assert (await vmbox_login(api, "0001", **client)).status == 401
    for refused in (
        await vmbox_login(api, "1234", **client),
        await key_login(api, api.api_key, **client),
    ):
        assert refused.status == 429  # the right PIN or key too: nothing is checked while limited
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert "try again in" in refused.data["message"]
        assert "Set-Cookie" not in refused.headers
    # Another client behind the same proxy is not held up.
    assert (await vmbox_login(api, "1234", **{"X-Forwarded-For": "203.0.113.8"})).status == 201


async def test_successful_logins_do_not_count(api):
    await api.client.create_box("3000", pin="1234")
    for _ in range(5):
        assert (await key_login(api, api.api_key)).status == 201


async def test_the_client_is_the_nearest_address_a_trusted_proxy_did_not_add(api):
    """A client writing its own X-Forwarded-For cannot pass for a fresh address: the proxy appends
    the peer it saw, and that is what counts."""
    for forged in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        headers = {"X-Forwarded-For": f"{forged}, 203.0.113.7"}
        assert (await key_login(api, "wrong", **headers)).status == 401
    assert (await key_login(api, "wrong", **{"X-Forwarded-For": "203.0.113.7"})).status == 429


@pytest.mark.parametrize("api_options", [ApiOptions(login_failures=3)])
async def test_forwarding_headers_of_an_untrusted_peer_are_ignored(api, api_options):
    for number in range(3):
        headers = {"X-Forwarded-For": f"198.51.100.{number}"}
        assert (await key_login(api, "wrong", **headers)).status == 401
    assert (await key_login(api, api.api_key, **{"X-Forwarded-For": "198.51.100.9"})).status == 429


def test_serve_gives_the_api_the_phone_s_lockout_and_the_trusted_proxies():
    settings = load_settings(
        environ={
            "VMBOX_IVR_LOCKOUT_FAILURES": "4",
            "VMBOX_IVR_LOCKOUT_S": "60",
            "VMBOX_API_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8",
        },
        path=None,
    )
    options = serve.api_options(settings)
    assert options.lockout == LockoutPolicy(failures=4, window_s=900, lock_s=60)
    assert options.trusted_proxies == ("127.0.0.1", "10.0.0.0/8")
