"""HTTPS: `[api] tls_cert` and `tls_key` serve the API over TLS (a self-signed certificate made by
openssl here), a clear error at start for files that cannot be used, the cookie's Secure flag over
TLS or from a trusted proxy, and an access log that never holds a token."""

import logging
import ssl
import subprocess
from dataclasses import replace

import aiohttp
import pytest

from ivr import cli
from ivr.config import ConfigError
from ivr.serve import running
from store.accounts import create_token
from store.api.options import ApiOptions
from store.vmboxes import create_vmbox
from tests.callkit import settings_for


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and its key (PEM files)."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert),
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)


def with_tls(tmp_path, cert: str, key: str):
    settings = settings_for(tmp_path)
    return replace(settings, api=replace(settings.api, tls_cert=cert, tls_key=key))


async def test_the_api_is_served_over_https_with_the_certificate(tmp_path, certificate):
    cert, key = certificate
    async with running(with_tls(tmp_path, cert, key)) as served:
        assert served.api_base.startswith("https://127.0.0.1:")
        trusted = ssl.create_default_context(cafile=cert)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{served.api_base}/healthz", ssl=trusted) as reply:
                assert reply.status == 200
            plain = served.api_base.replace("https:", "http:")
            with pytest.raises(aiohttp.ClientError):
                async with session.get(f"{plain}/healthz") as reply:
                    await reply.read()


async def test_a_login_over_https_sets_a_secure_cookie(tmp_path, certificate):
    cert, key = certificate
    async with running(with_tls(tmp_path, cert, key)) as served:
        await create_vmbox(
            served.store.db, served.account_id, {"name": "A", "mailbox": "3000", "pin": "1234"}
        )
        trusted = ssl.create_default_context(cafile=cert)
        body = {"data": {"mailbox": "3000", "pin": "1234"}}
        async with aiohttp.ClientSession() as session:
            async with session.put(
                f"{served.api_base}/v2/vmbox_auth", json=body, ssl=trusted
            ) as reply:
                assert reply.status == 201
                assert "Secure" in reply.headers["Set-Cookie"]


@pytest.mark.parametrize(
    "api_options", [ApiOptions(trusted_proxies=("127.0.0.1",))], ids=["trusted"]
)
async def test_a_trusted_proxy_s_https_makes_the_cookie_secure(api, api_options):
    reply = await api.client.put(
        "/v2/api_auth",
        {"data": {"api_key": api.api_key}},
        token="",
        headers={"X-Forwarded-Proto": "https"},
    )
    assert "Secure" in reply.headers["Set-Cookie"]


async def test_an_untrusted_peer_s_forwarded_proto_is_ignored(api):
    reply = await api.client.put(
        "/v2/api_auth",
        {"data": {"api_key": api.api_key}},
        token="",
        headers={"X-Forwarded-Proto": "https"},
    )
    assert "Secure" not in reply.headers["Set-Cookie"]


@pytest.mark.parametrize(
    "files, expected",
    [
        (("{cert}", ""), "tls_cert and tls_key go together"),
        (("{dir}/missing.pem", "{key}"), "tls_cert: cannot read {dir}/missing.pem"),
        (("{cert}", "{dir}/missing.pem"), "tls_key: cannot read {dir}/missing.pem"),
        (("{key}", "{cert}"), "are not a PEM certificate and its private key"),
    ],
)
async def test_tls_files_that_cannot_be_used_stop_the_start_saying_which(
    tmp_path, certificate, files, expected
):
    cert, key = certificate
    names = {"cert": cert, "key": key, "dir": str(tmp_path)}
    settings = with_tls(tmp_path, *(name.format(**names) for name in files))
    with pytest.raises(ConfigError) as refused:
        async with running(settings):
            pass
    assert expected.format(**names) in str(refused.value)
    assert not (tmp_path / "data").exists()  # nothing was started


def test_vmbox_serve_exits_2_naming_an_unreadable_certificate(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VMBOX_STORE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VMBOX_API_TLS_CERT", str(tmp_path / "cert.pem"))
    monkeypatch.setenv("VMBOX_API_TLS_KEY", str(tmp_path / "key.pem"))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["serve"]) == 2
    assert f"[api] tls_cert: cannot read {tmp_path}/cert.pem" in capsys.readouterr().err


async def test_the_access_log_holds_no_token(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="vmbox.access")
    async with running(settings_for(tmp_path)) as served:
        token, _ = await create_token(served.store.db, served.account_id, 3600)
        async with aiohttp.ClientSession() as session:
            url = f"{served.api_base}/v2/accounts/{served.account_id}/vmboxes?token={token}"
            headers = {"X-Auth-Token": token, "Cookie": f"vmbox_token={token}"}
            async with session.get(url, headers=headers) as reply:
                assert reply.status == 200
                request_id = reply.headers["X-Request-ID"]
    [line] = [record.getMessage() for record in caplog.records if record.name == "vmbox.access"]
    assert token not in line
    assert line.startswith(
        f"{request_id} 127.0.0.1 GET /v2/accounts/{served.account_id}/vmboxes 200 "
    )
