"""End-to-end calls: everything `vmbox serve` runs (REST API, FastAGI or ARI, store) on ephemeral loopback
ports with a real data directory, and calls placed by the simulator playing Asterisk's side: over
FastAGI (ivr.simulator.client) or into vmbox's Stasis application through a fake ARI server
(ivr.simulator.ari). Both write the same Transcript, so one scenario runs over either driver."""

from dataclasses import dataclass, replace

import aiohttp

from ivr.config import AgiSettings, ApiSettings, Settings, StoreSettings
from ivr.serve import running
from ivr.simulator.ari import FakeAri
from ivr.simulator.client import DEFAULT_SOUNDS, run_call
from store.accounts import create_token
from tests.conftest import ApiClient

DRIVERS = ("agi", "ari")
ARI_PASSWORD = "secret"


@dataclass
class System:
    running: object
    api: ApiClient
    settings: Settings
    driver: str = "agi"
    fake_ari: FakeAri | None = None

    async def call(
        self,
        script: str,
        *,
        leave: str | None = None,
        check: str | None = None,
        login: bool = False,
        callback: str | None = None,
        caller_number: str = "1001",
        caller_name: str = "Alice",
        channel: str | None = None,
        parameters: dict[str, str] | None = None,
        **options,
    ):
        """One call through the simulator; the transcript once vmbox is done with the call.
        `parameters`: key=value arguments the dialplan passes after the mailbox."""
        if leave is not None:
            name, arguments = "leave", [leave]
        elif callback is not None:
            name, arguments = "callback", [callback]
        else:
            name, arguments = ("login", []) if login else ("check", [check] if check else [])
        arguments += [f"{key}={value}" for key, value in (parameters or {}).items()]
        if self.driver == "ari":
            transcript = await self.fake_ari.call(
                script,
                args=[name, *arguments],
                caller_number=caller_number,
                caller_name=caller_name,
                channel=channel,
                **options,
            )
            await self.running.ari.wait_idle()
            return transcript
        host, port = self.running.agi_address
        return await run_call(
            host,
            port,
            script,
            script_name=name,
            arguments=arguments,
            caller_number=caller_number,
            caller_name=caller_name,
            channel=channel,
            **options,
        )

    async def messages(self, box_id: str, **query) -> list[dict]:
        suffix = "&".join(f"{key}={value}" for key, value in {"paginate": "false", **query}.items())
        reply = await self.api.get(f"/vmboxes/{box_id}/messages?{suffix}")
        assert reply.status == 200, reply.body
        return reply.data


def settings_for(tmp_path, store_url: str | None = None, **sections) -> Settings:
    """vmbox's settings for a test: its data in tmp_path, its database there (SQLite) or at
    `store_url`, free ports."""
    return Settings(
        store=StoreSettings(data_dir=str(tmp_path / "data"), url=store_url or ""),
        api=ApiSettings(port=0),
        agi=AgiSettings(port=0),
        **sections,
    )


def said(call) -> list[str]:
    """What the caller heard, the same over either driver: sound names (vmbox's own prompts and
    recorded audio by their last path element), and `say …` for a SAY (FastAGI) or a run of `digits/*`
    sounds (ARI) with the files it was made of."""
    heard = []
    for item in call.heard:
        if item.files:
            heard.append("say " + " ".join(file.rsplit("/", 1)[-1] for file in item.files))
        else:
            path = item.prompt.split("?", 1)[
                0
            ]  # a media URL's query only pads it (ivr/ari/media.py)
            heard.append(path.rsplit("/", 1)[-1].removesuffix(".wav"))
    return heard


def is_recorded_audio(heard) -> bool:
    """True when what was heard is a message or greeting from the store (a file or a per-call URL)."""
    return "/media/" in heard.prompt or "/ari-media/calls/" in heard.prompt


async def start(settings: Settings, driver: str = "agi"):
    """An async context manager yielding a running System (use with `async with`)."""
    return _Started(settings, driver)


class _Started:
    def __init__(self, settings: Settings, driver: str):
        self.settings = settings
        self.driver = driver
        self._fake: FakeAri | None = None

    async def __aenter__(self) -> System:
        settings = self.settings
        if self.driver == "ari":
            self._fake = FakeAri(DEFAULT_SOUNDS, password=ARI_PASSWORD)
            url = await self._fake.start()
            settings = replace(
                settings, ari=replace(settings.ari, url=url, password=ARI_PASSWORD, media_port=0)
            )
        self._running = running(settings)
        services = await self._running.__aenter__()
        if self._fake:
            await self._fake.wait_connected()
        token, _ = await create_token(services.store.db, services.account_id, 3600)
        self._session = aiohttp.ClientSession()
        host, port = services.api_address
        return System(
            services,
            ApiClient(self._session, f"http://{host}:{port}", services.account_id, token),
            settings,
            self.driver,
            self._fake,
        )

    async def __aexit__(self, *exc):
        await self._session.close()
        await self._running.__aexit__(*exc)
        if self._fake:
            await self._fake.stop()
            assert not self._fake.errors, (
                f"the fake ARI server got requests it did not expect: {self._fake.errors}"
            )
