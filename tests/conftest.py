"""Shared fixtures: a real store in tmp_path, the real API on an ephemeral loopback port, real audio files.

Nothing here is mocked: the API fixture serves the real aiohttp application over TCP, backed by a real
SQLite file and ffmpeg; tests talk to it with a real HTTP client.
"""

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from store.accounts import create_account, create_token
from store.api.app import make_app
from store.api.options import ApiOptions
from store.core import open_store
from store.postgres import open_postgres
from tests import pgkit
from tests.mailkit import Changes, MailServer
from tests.pgkit import PostgresServer

# The real-Asterisk harness asserts in its own modules too; show what failed there.
pytest.register_assert_rewrite("tests.asterisk")

for tool in ("ffmpeg", "sox"):
    if shutil.which(tool) is None:
        raise RuntimeError(
            f"{tool} is missing: run the tests with ./vmbox.sh test, which installs it"
        )


@dataclass
class Reply:
    status: int
    body: object  # parsed JSON, or bytes for non-JSON answers
    headers: dict

    @property
    def data(self):
        return self.body["data"]


class ApiClient:
    """A real HTTP client bound to one account's token. Paths starting with `/v2/` or `/healthz` are used
    as they are; any other path is taken relative to `/v2/accounts/<account_id>`."""

    def __init__(self, session: aiohttp.ClientSession, base: str, account_id: str, token: str):
        self.session, self.base, self.account_id, self.token = session, base, account_id, token

    def url(self, path: str) -> str:
        if path.startswith(("/v2/", "/healthz")):
            return self.base + path
        return f"{self.base}/v2/accounts/{self.account_id}{path}"

    async def call(
        self,
        method: str,
        path: str,
        *,
        json_body=None,
        data=None,
        headers=None,
        token: str | None = None,
    ) -> Reply:
        sent = {"X-Auth-Token": self.token if token is None else token, **(headers or {})}
        if json_body is not None:
            data = json.dumps(json_body)
            sent.setdefault("Content-Type", "application/json")
        async with self.session.request(
            method, self.url(path), data=data, headers=sent
        ) as response:
            raw = await response.read()
            body = json.loads(raw) if response.content_type == "application/json" else raw
            return Reply(response.status, body, dict(response.headers))

    async def get(self, path, **kw):
        return await self.call("GET", path, **kw)

    async def put(self, path, body=None, **kw):
        return await self.call("PUT", path, json_body=body, **kw)

    async def post(self, path, body=None, **kw):
        return await self.call("POST", path, json_body=body, **kw)

    async def patch(self, path, body=None, **kw):
        return await self.call("PATCH", path, json_body=body, **kw)

    async def delete(self, path, body=None, **kw):
        return await self.call("DELETE", path, json_body=body, **kw)

    async def create_box(self, mailbox: str = "3000", **fields) -> dict:
        reply = await self.put(
            "/vmboxes", {"data": {"name": f"Box {mailbox}", "mailbox": mailbox, **fields}}
        )
        assert reply.status == 201, reply.body
        return reply.data

    async def create_message(self, box_id: str, audio: Path | None = None, **metadata) -> dict:
        if audio is None:
            reply = await self.put(f"/vmboxes/{box_id}/messages", {"data": metadata})
        else:
            form = aiohttp.FormData()
            form.add_field(
                "content",
                json.dumps({"data": metadata}),
                content_type="application/json",
                filename="message.json",
            )
            form.add_field(
                "content", audio.read_bytes(), content_type="audio/wav", filename=audio.name
            )
            reply = await self.call("PUT", f"/vmboxes/{box_id}/messages", data=form)
        assert reply.status == 201, reply.body
        return reply.data


@dataclass
class RunningApi:
    base: str
    store: object
    data_dir: Path
    client: ApiClient  # bound to account A
    other: ApiClient  # bound to account B
    api_key: str
    store_url: str | None  # where the store's database is (None: SQLite in data_dir)


@pytest.fixture
def changes():
    """What tests wait on: woken by every change they watch (tests/mailkit.py)."""
    return Changes()


@pytest.fixture
async def mail(changes):
    """A real SMTP server (aiosmtpd) on 127.0.0.1:<ephemeral>."""
    server = await MailServer(changes).start()
    yield server
    await server.close()


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for the session, with a template database vmbox's schema is in."""
    server = PostgresServer()
    server.start()
    try:
        template = pgkit.run(server.new_database())

        async def migrate():
            await (await open_postgres(template, Path(server.directory))).close()

        pgkit.run(migrate())
        server.template = template.rsplit("/", 1)[1]
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_url(request) -> str | None:
    """Where a test's store keeps its rows: SQLite in the data directory (None), or a new PostgreSQL
    database of its own. Every test using a store runs on both."""
    if request.param == "sqlite":
        return None
    server = request.getfixturevalue("postgres")
    return await server.new_database(server.template)


@pytest.fixture
async def store(tmp_path: Path, store_url):
    """A real store (its database, and its media directory in tmp_path/data)."""
    store = await open_store(tmp_path / "data", retention_days=93, url=store_url)
    yield store
    await store.db.close()


@pytest.fixture
async def account(store) -> str:
    """The id of an account "A" in `store`."""
    return (await create_account(store.db, "A"))[0].id


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def api_options() -> ApiOptions:
    return ApiOptions()


@pytest.fixture
async def api(data_dir: Path, api_options: ApiOptions, store_url):
    """The real API on 127.0.0.1:<ephemeral>, with two accounts and a token for each."""
    store = await open_store(data_dir, retention_days=93, url=store_url)
    runner = web.AppRunner(make_app(store, api_options), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    base = f"http://127.0.0.1:{port}"
    account_a, key_a = await create_account(store.db, "A")
    account_b, _ = await create_account(store.db, "B")
    token_a, _ = await create_token(store.db, account_a.id, 3600)
    token_b, _ = await create_token(store.db, account_b.id, 3600)
    async with aiohttp.ClientSession() as session:
        yield RunningApi(
            base,
            store,
            data_dir,
            ApiClient(session, base, account_a.id, token_a),
            ApiClient(session, base, account_b.id, token_b),
            key_a,
            store_url,
        )
    await runner.cleanup()
    await store.db.close()


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True)


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("audio")


@pytest.fixture(scope="session")
def tone_wav(audio_dir: Path) -> Path:
    """3 s of a 440 Hz tone, 44.1 kHz stereo WAV (made by sox: not what we store, so it must be converted)."""
    path = audio_dir / "tone.wav"
    _run("sox", "-n", "-r", "44100", "-c", "2", str(path), "synth", "3", "sine", "440")
    return path


@pytest.fixture(scope="session")
def tone_mp3(tone_wav: Path, audio_dir: Path) -> Path:
    """The same 3 s tone as MP3 (made by ffmpeg)."""
    path = audio_dir / "tone.mp3"
    _run("ffmpeg", "-loglevel", "error", "-y", "-i", str(tone_wav), str(path))
    return path


def make_tone(directory: Path, seconds: float, name: str | None = None) -> Path:
    """A WAV tone of `seconds` seconds in `directory`."""
    path = directory / (name or f"tone-{seconds}.wav")
    _run("sox", "-n", "-r", "8000", "-c", "1", str(path), "synth", str(seconds), "sine", "440")
    return path


def media_files(data_dir: Path) -> set[str]:
    """Stored audio files under the data directory, as `<account>/<file>` names."""
    return {f"{p.parent.name}/{p.name}" for p in (data_dir / "media").glob("*/*")}


def tmp_files(data_dir: Path) -> list[Path]:
    """Whatever is left in the data directory's tmp area."""
    return list((data_dir / "tmp").iterdir())


def probe(audio: bytes, directory: Path, suffix: str) -> dict:
    """ffprobe's view (format name, duration, sample rate, channels) of some audio bytes."""
    path = directory / f"probe{suffix}"
    path.write_bytes(audio)
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "format=format_name,duration:stream=sample_rate,channels",
            "-of",
            "json",
            str(path),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    info = json.loads(out)
    stream = info["streams"][0]
    return {
        "format": info["format"]["format_name"],
        "duration": float(info["format"]["duration"]),
        "sample_rate": int(stream["sample_rate"]),
        "channels": int(stream["channels"]),
    }


@pytest.fixture(scope="session")
def real_asterisk(request, tmp_path_factory):
    """The real-Asterisk harness (tests/asterisk), shared by the session, with every selected scenario
    already started. Without an Asterisk the tests that need it are skipped, saying why, unless
    VMBOX_TEST_ASTERISK names one: then they fail (CI sets it)."""
    from tests.asterisk.harness import Harness
    from tests.asterisk.install import ENV, NoAsterisk, find_asterisk

    try:
        installation = find_asterisk()
    except NoAsterisk as exc:
        if os.environ.get(ENV):
            pytest.fail(str(exc))
        pytest.skip(f"real-Asterisk test not run: {exc}")
    postgres = request.getfixturevalue("postgres")
    harness = Harness(
        installation,
        tmp_path_factory.mktemp("real-asterisk"),
        lambda: pgkit.run(postgres.new_database(postgres.template)),
    ).start()
    try:
        for item in request.session.items:
            scenarios = getattr(getattr(item, "function", None), "scenarios", None)
            if scenarios is not None and hasattr(item, "callspec"):
                params = item.callspec.params
                scenarios.start(harness, params["scenario"], params.get("driver"))
        yield harness
    finally:
        harness.stop()


def pytest_terminal_summary(terminalreporter):
    """Say plainly how many real-Asterisk tests did not run, and why (no Asterisk found)."""
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if "real-Asterisk test not run" in str(report.longrepr)
    ]
    if skipped:
        reason = str(skipped[0].longrepr[2]).split("real-Asterisk test not run: ", 1)[-1]
        terminalreporter.write_line(
            f"{len(skipped)} real-Asterisk tests not run: {reason}", yellow=True
        )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser():
    """One headless Chromium for the session (Debian's `chromium`, which ./vmbox.sh test installs;
    Playwright never downloads a browser here). Each test opens its own context in it. Fake
    microphone and permission prompts let a test record a greeting."""
    from playwright.async_api import async_playwright

    executable = shutil.which("chromium")
    if executable is None:
        raise RuntimeError(
            "chromium is missing: run the tests with ./vmbox.sh test, which installs it"
        )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable,
            args=["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"],
        )
        yield browser
        await browser.close()
