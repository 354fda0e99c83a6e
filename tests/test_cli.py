"""The `vmbox` command, run for real as a subprocess: accounts, configuration, and `vmbox serve`.

Each test works in its own tmp_path (as the current directory and the data directory), with every
VMBOX_* variable of the caller's environment removed so that only what the test sets counts.
"""

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import tomllib
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

SCRIPT = Path(sys.executable).with_name("vmbox")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "ivr.cli"]
STARTUP_TIMEOUT_S = 30
ACCOUNT_ID = re.compile(r"account id:\s+([0-9a-f]{32})")
API_KEY = re.compile(r"API key:\s+(\S+)")


@pytest.fixture
def environ(tmp_path: Path) -> dict:
    """The environment of the command: ours without VMBOX_*, with the data directory in tmp_path."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("VMBOX_")}
    env["VMBOX_STORE_DATA_DIR"] = str(tmp_path / "data")
    env["VMBOX_AGI_PORT"] = "0"  # FastAGI on any free port: tests must not need 4573
    return env


def vmbox(tmp_path: Path, environ: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*COMMAND, *args], cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=60
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def printed_account(stdout: str) -> tuple[str, str]:
    """(account id, API key) as `vmbox account create` or the first `vmbox serve` printed them."""
    account, key = ACCOUNT_ID.search(stdout), API_KEY.search(stdout)
    assert account and key, stdout
    return account[1], key[1]


def created_account(result: subprocess.CompletedProcess) -> tuple[str, str]:
    assert result.returncode == 0, result.stderr
    return printed_account(result.stdout)


async def api_auth(port: int, api_key: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session:
        async with session.put(
            f"http://127.0.0.1:{port}/v2/api_auth", json={"data": {"api_key": api_key}}
        ) as reply:
            return reply.status, await reply.json()


# --- accounts -----------------------------------------------------------------------------------------


def test_account_create_prints_the_id_and_an_api_key(tmp_path, environ):
    result = vmbox(tmp_path, environ, "account", "create", "--name", "Acme")
    assert result.returncode == 0, result.stderr
    _, api_key = created_account(result)
    assert len(api_key) >= 32


def test_account_create_makes_a_new_account_each_time(tmp_path, environ):
    first = created_account(vmbox(tmp_path, environ, "account", "create", "--name", "One"))
    second = created_account(vmbox(tmp_path, environ, "account", "create", "--name", "Two"))
    assert first[0] != second[0]
    assert first[1] != second[1]


def test_account_create_requires_a_name(tmp_path, environ):
    result = vmbox(tmp_path, environ, "account", "create")
    assert result.returncode == 2
    assert "--name" in result.stderr


def test_account_list_shows_created_accounts(tmp_path, environ):
    acme, _ = created_account(vmbox(tmp_path, environ, "account", "create", "--name", "Acme"))
    globex, _ = created_account(
        vmbox(tmp_path, environ, "account", "create", "--name", "Globex Corp")
    )
    result = vmbox(tmp_path, environ, "account", "list")
    assert result.returncode == 0, result.stderr
    lines = sorted(result.stdout.splitlines(), key=lambda line: "Acme" not in line)
    assert len(lines) == 2
    assert lines[0].startswith(acme) and lines[0].endswith("  Acme")
    assert lines[1].startswith(globex) and lines[1].endswith("  Globex Corp")


def test_an_account_s_realm_is_given_or_made_from_its_name(tmp_path, environ):
    given = vmbox(
        tmp_path, environ, "account", "create", "--name", "Acme", "--realm", "PBX.Example.com"
    )
    assert given.returncode == 0, given.stderr
    assert "realm:      pbx.example.com" in given.stdout
    made = vmbox(tmp_path, environ, "account", "create", "--name", "Globex Corp")
    assert "realm:      globex-corp.vmbox" in made.stdout
    listed = vmbox(tmp_path, environ, "account", "list").stdout
    assert "  pbx.example.com  Acme" in listed and "  globex-corp.vmbox  Globex Corp" in listed


def test_a_realm_that_is_no_domain_name_is_refused(tmp_path, environ):
    result = vmbox(tmp_path, environ, "account", "create", "--name", "Acme", "--realm", "a b")
    assert result.returncode == 2
    assert "not a domain name" in result.stderr
    assert not (tmp_path / "data" / "vmbox.sqlite3").exists()


def test_account_list_never_shows_api_keys(tmp_path, environ):
    _, api_key = created_account(vmbox(tmp_path, environ, "account", "create", "--name", "Acme"))
    result = vmbox(tmp_path, environ, "account", "list")
    assert api_key not in result.stdout + result.stderr


def test_account_list_of_an_empty_store_says_how_to_start(tmp_path, environ):
    result = vmbox(tmp_path, environ, "account", "list")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "account create" in result.stderr


def test_accounts_live_in_the_configured_data_dir(tmp_path, environ):
    vmbox(tmp_path, environ, "account", "create", "--name", "Acme")
    assert (tmp_path / "data" / "vmbox.sqlite3").is_file()
    elsewhere = {**environ, "VMBOX_STORE_DATA_DIR": str(tmp_path / "elsewhere")}
    assert vmbox(tmp_path, elsewhere, "account", "list").stdout == ""


# --- configuration ------------------------------------------------------------------------------------


def effective_config(tmp_path: Path, environ: dict, *args: str) -> dict:
    result = vmbox(tmp_path, environ, *args, "config")
    assert result.returncode == 0, result.stderr
    return tomllib.loads(result.stdout)


def test_config_prints_the_defaults_as_toml(tmp_path, environ):
    del environ["VMBOX_STORE_DATA_DIR"], environ["VMBOX_AGI_PORT"]
    config = effective_config(tmp_path, environ)
    assert config["store"] == {
        "data_dir": "./vmbox-data",
        "url": "",
        "pool_size": 10,
        "retention_days": 93,
        "cache_mb": 256,
        "default_timezone": "America/Los_Angeles",
    }
    assert config["api"] == {
        "host": "127.0.0.1",
        "port": 8000,
        "max_upload_mb": 50,
        "token_ttl_s": 3600,
        "trusted_proxies": "",
        "tls_cert": "",
        "tls_key": "",
    }
    assert config["agi"]["port"] == 4573 and config["agi"]["host"] == "127.0.0.1"
    assert config["limits"]["max_message_s"] == 500 and config["limits"]["min_message_ms"] == 500
    assert config["keys"]["fastforward"] == "8" and config["keys"]["rewind"] == "5"
    assert (
        config["ari"]["url"] == "" and config["ari"]["app"] == "vmbox"
    )  # no ARI unless configured
    assert set(config) == {
        "store",
        "api",
        "agi",
        "ivr",
        "limits",
        "keys",
        "jobs",
        "smtp",
        "ami",
        "ari",
        "transcription",
    }


def test_config_reflects_vmbox_toml_in_the_current_directory(tmp_path, environ):
    (tmp_path / "vmbox.toml").write_text(
        '[api]\nhost = "0.0.0.0"\nport = 8123\n\n[store]\nretention_days = 30\n'
    )
    config = effective_config(tmp_path, environ)
    assert config["api"]["host"] == "0.0.0.0"
    assert config["api"]["port"] == 8123
    assert config["store"]["retention_days"] == 30
    assert config["api"]["token_ttl_s"] == 3600


def test_environment_overrides_the_toml_file(tmp_path, environ):
    (tmp_path / "vmbox.toml").write_text('[api]\nport = 8123\nhost = "0.0.0.0"\n')
    environ["VMBOX_API_PORT"] = "9000"
    config = effective_config(tmp_path, environ)
    assert config["api"]["port"] == 9000
    assert config["api"]["host"] == "0.0.0.0"
    assert config["store"]["data_dir"] == str(tmp_path / "data")


def test_config_option_names_the_file_to_read(tmp_path, environ):
    settings = tmp_path / "elsewhere.toml"
    settings.write_text("[api]\nmax_upload_mb = 5\n")
    (tmp_path / "vmbox.toml").write_text("[api]\nmax_upload_mb = 7\n")
    assert (
        effective_config(tmp_path, environ, "--config", str(settings))["api"]["max_upload_mb"] == 5
    )


def test_vmbox_config_variable_names_the_file_to_read(tmp_path, environ):
    settings = tmp_path / "elsewhere.toml"
    settings.write_text("[store]\nretention_days = 7\n")
    environ["VMBOX_CONFIG"] = str(settings)
    assert effective_config(tmp_path, environ)["store"]["retention_days"] == 7


def test_unknown_key_in_the_file_exits_2_naming_it(tmp_path, environ):
    (tmp_path / "vmbox.toml").write_text("[api]\nprot = 8123\n")
    result = vmbox(tmp_path, environ, "config")
    assert result.returncode == 2
    assert "api.prot" in result.stderr
    assert "port" in result.stderr
    assert result.stdout == ""


def test_an_unknown_default_timezone_exits_2_naming_it(tmp_path, environ):
    environ["VMBOX_STORE_DEFAULT_TIMEZONE"] = "Mars/Olympus_Mons"
    result = vmbox(tmp_path, environ, "config")
    assert result.returncode == 2
    assert "Mars/Olympus_Mons" in result.stderr and "IANA" in result.stderr


def test_unknown_section_in_the_file_exits_2_naming_it(tmp_path, environ):
    (tmp_path / "vmbox.toml").write_text("[apy]\nport = 8123\n")
    result = vmbox(tmp_path, environ, "config")
    assert result.returncode == 2
    assert "apy" in result.stderr


def test_unknown_key_in_the_environment_exits_2_naming_it(tmp_path, environ):
    environ["VMBOX_API_PROT"] = "8123"
    result = vmbox(tmp_path, environ, "config")
    assert result.returncode == 2
    assert "VMBOX_API_PROT" in result.stderr


def test_a_value_of_the_wrong_type_exits_2_naming_it(tmp_path, environ):
    environ["VMBOX_API_PORT"] = "eighty"
    result = vmbox(tmp_path, environ, "config")
    assert result.returncode == 2
    assert "VMBOX_API_PORT" in result.stderr
    assert "eighty" in result.stderr


def test_a_wrong_type_in_the_file_exits_2_naming_it(tmp_path, environ):
    (tmp_path / "vmbox.toml").write_text('[store]\nretention_days = "long"\n')
    result = vmbox(tmp_path, environ, "config")
    assert result.returncode == 2
    assert "store.retention_days" in result.stderr


def test_invalid_toml_exits_2(tmp_path, environ):
    (tmp_path / "vmbox.toml").write_text("[api\nport = 1\n")
    result = vmbox(tmp_path, environ, "config")
    assert result.returncode == 2
    assert "vmbox.toml" in result.stderr


def test_a_missing_config_file_exits_2(tmp_path, environ):
    result = vmbox(tmp_path, environ, "--config", str(tmp_path / "nope.toml"), "config")
    assert result.returncode == 2
    assert "nope.toml" in result.stderr


def test_a_bad_setting_stops_the_other_commands_too(tmp_path, environ):
    (tmp_path / "vmbox.toml").write_text("[api]\nprot = 8123\n")
    result = vmbox(tmp_path, environ, "account", "list")
    assert result.returncode == 2
    assert "api.prot" in result.stderr


# --- vmbox serve --------------------------------------------------------------------------------------


class Server:
    """A running `vmbox serve` subprocess."""

    def __init__(self, process: asyncio.subprocess.Process, port: int):
        self.process, self.port = process, port
        self.stdout_lines: list[str] = []
        self.stderr_lines: list[str] = []

    async def wait_until_ready(self) -> None:
        """Read stdout (the first-start banner comes first) and stderr until the server says it listens."""
        while True:
            line = (
                await asyncio.wait_for(self.process.stderr.readline(), STARTUP_TIMEOUT_S)
            ).decode()
            if not line:
                raise AssertionError(
                    f"vmbox serve exited before listening: {''.join(self.stderr_lines)}"
                )
            self.stderr_lines.append(line)
            if "REST API on" in line:
                return

    async def stop(self, signum: int = signal.SIGTERM) -> tuple[int, str, str]:
        """Send `signum`; return the exit status and everything printed on stdout and stderr."""
        self.process.send_signal(signum)
        stdout, stderr = await asyncio.wait_for(self.process.communicate(), STARTUP_TIMEOUT_S)
        return (
            self.process.returncode,
            "".join(self.stdout_lines) + stdout.decode(),
            "".join(self.stderr_lines) + stderr.decode(),
        )


@asynccontextmanager
async def serving(tmp_path: Path, environ: dict, port: int | None = None):
    """`vmbox serve` in tmp_path, ready; on a free port given by VMBOX_API_PORT unless `port` is set
    (then the test configured that port itself)."""
    env = environ if port is not None else {**environ, "VMBOX_API_PORT": str(port := free_port())}
    process = await asyncio.create_subprocess_exec(
        *COMMAND,
        "serve",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    server = Server(process, port)
    try:
        await server.wait_until_ready()
        yield server
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_serve_answers_healthz_once_it_says_it_is_ready(tmp_path, environ):
    async with serving(tmp_path, environ) as server:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{server.port}/healthz") as reply:
                assert reply.status == 200
                assert await reply.json() == {"status": "ok"}
        status, _, _ = await server.stop()
    assert status == 0


async def test_first_start_prints_a_default_account_whose_key_works(tmp_path, environ):
    async with serving(tmp_path, environ) as server:
        line = (
            await asyncio.wait_for(server.process.stdout.readline(), STARTUP_TIMEOUT_S)
        ).decode()
        server.stdout_lines.append(line)
        while "API key" not in line:
            line = (
                await asyncio.wait_for(server.process.stdout.readline(), STARTUP_TIMEOUT_S)
            ).decode()
            assert line, "vmbox serve printed no API key on its first start"
            server.stdout_lines.append(line)
        printed = "".join(server.stdout_lines)
        account_id, api_key = ACCOUNT_ID.search(printed)[1], API_KEY.search(printed)[1]
        status, body = await api_auth(server.port, api_key)
        assert status == 201, body
        assert body["data"]["account_id"] == account_id
        exit_status, stdout, _ = await server.stop()
    assert exit_status == 0
    assert stdout.count(api_key) == 2  # once on its own line, once in the curl example
    assert stdout.count("API key:") == 1


async def test_second_start_prints_no_account(tmp_path, environ):
    async with serving(tmp_path, environ) as first:
        _, first_stdout, _ = await first.stop()
    account_id, api_key = printed_account(first_stdout)
    async with serving(tmp_path, environ) as second:
        status, body = await api_auth(second.port, api_key)
        assert status == 201, body
        exit_status, stdout, stderr = await second.stop()
    assert exit_status == 0
    assert api_key not in stdout + stderr
    assert "API key" not in stdout
    listing = vmbox(tmp_path, environ, "account", "list")
    assert listing.stdout.count("\n") == 1 and account_id in listing.stdout


async def test_serve_prints_no_account_when_accounts_exist_and_their_keys_work(tmp_path, environ):
    account_id, api_key = created_account(
        vmbox(tmp_path, environ, "account", "create", "--name", "Acme")
    )
    async with serving(tmp_path, environ) as server:
        status, body = await api_auth(server.port, api_key)
        assert status == 201, body
        assert body["data"]["account_id"] == account_id
        exit_status, stdout, _ = await server.stop()
    assert exit_status == 0
    assert "API key" not in stdout


async def test_serve_exits_0_on_sigint_too(tmp_path, environ):
    async with serving(tmp_path, environ) as server:
        status, _, _ = await server.stop(signal.SIGINT)
    assert status == 0


async def test_serve_reads_its_port_from_vmbox_toml(tmp_path, environ):
    port = free_port()
    (tmp_path / "vmbox.toml").write_text(f"[api]\nport = {port}\n")
    async with serving(tmp_path, environ, port) as server:
        assert f"127.0.0.1:{port}" in server.stderr_lines[-1]
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as reply:
                assert reply.status == 200
        status, _, _ = await server.stop()
    assert status == 0


def test_serve_on_a_busy_port_exits_1_with_a_hint(tmp_path, environ):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        environ["VMBOX_API_PORT"] = str(busy.getsockname()[1])
        result = vmbox(tmp_path, environ, "serve")
    assert result.returncode == 1
    assert "VMBOX_API_PORT" in result.stderr


def test_an_unknown_forward_type_exits_2_naming_the_choices(tmp_path, environ):
    environ["VMBOX_IVR_FORWARD_TYPE"] = "prepend"
    result = vmbox(tmp_path, environ, "config")
    assert result.returncode == 2
    assert "ivr.forward_type" in result.stderr and "prepend_forward" in result.stderr


def test_trusted_proxies_that_are_no_addresses_exit_2_naming_them(tmp_path, environ):
    environ["VMBOX_API_TRUSTED_PROXIES"] = "127.0.0.1, proxy.example"
    result = vmbox(tmp_path, environ, "config")
    assert result.returncode == 2
    assert "api.trusted_proxies" in result.stderr and "proxy.example" in result.stderr


# --- the systemd unit -----------------------------------------------------------------------------------


def test_vmbox_service_prints_a_unit_that_runs_this_vmbox_as_its_own_user(tmp_path, environ):
    import configparser

    printed = vmbox(tmp_path, environ, "service")
    assert printed.returncode == 0, printed.stderr
    unit = configparser.ConfigParser(strict=True, interpolation=None)
    unit.optionxform = str  # systemd's keys are case-sensitive
    unit.read_string(printed.stdout)
    service = unit["Service"]
    assert (service["User"], service["Group"], service["Restart"]) == (
        "vmbox",
        "vmbox",
        "on-failure",
    )
    assert service["Environment"] == "VMBOX_CONFIG=/etc/vmbox/vmbox.toml"
    assert service["StateDirectory"] == "vmbox" and service["WorkingDirectory"] == "/var/lib/vmbox"
    executable, command = service["ExecStart"].split()
    assert command == "serve" and Path(executable).is_absolute()
    helped = subprocess.run([executable, "serve", "--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and "usage: vmbox" in helped.stdout
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    assert "postgresql.service" in unit["Unit"]["After"]
