"""End-to-end calls: everything `vmbox serve` runs (REST API, FastAGI, store) on ephemeral loopback
ports with a real data directory, and calls placed by the simulator playing Asterisk's side."""
from dataclasses import dataclass

import aiohttp

from ivr.config import AgiSettings, ApiSettings, Settings, StoreSettings
from ivr.serve import running
from ivr.simulator.client import run_call
from store.accounts import create_token
from tests.conftest import ApiClient


@dataclass
class System:
    running: object
    api: ApiClient
    settings: Settings

    async def call(self, script: str, *, leave: str | None = None, check: str | None = None, login: bool = False,
                   callback: str | None = None, caller_number: str = "1001", caller_name: str = "Alice",
                   channel: str | None = None, **options):
        """One call through the simulator; the transcript."""
        if leave is not None:
            name, arguments = "leave", [leave]
        elif callback is not None:
            name, arguments = "callback", [callback]
        else:
            name, arguments = ("login", []) if login else ("check", [check] if check else [])
        host, port = self.running.agi_address
        return await run_call(host, port, script, script_name=name, arguments=arguments, caller_number=caller_number,
                              caller_name=caller_name, channel=channel, **options)

    async def messages(self, box_id: str, **query) -> list[dict]:
        suffix = "&".join(f"{key}={value}" for key, value in {"paginate": "false", **query}.items())
        reply = await self.api.get(f"/vmboxes/{box_id}/messages?{suffix}")
        assert reply.status == 200, reply.body
        return reply.data


def settings_for(tmp_path, **sections) -> Settings:
    return Settings(store=StoreSettings(data_dir=str(tmp_path / "data")), api=ApiSettings(port=0),
                    agi=AgiSettings(port=0), **sections)


async def start(settings: Settings):
    """An async context manager yielding a running System (use with `async with`)."""
    return _Started(settings)


class _Started:
    def __init__(self, settings: Settings):
        self.settings = settings

    async def __aenter__(self) -> System:
        self._running = running(self.settings)
        services = await self._running.__aenter__()
        token, _ = await create_token(services.store.db, services.account_id, 3600)
        self._session = aiohttp.ClientSession()
        host, port = services.api_address
        return System(services, ApiClient(self._session, f"http://{host}:{port}", services.account_id, token),
                      self.settings)

    async def __aexit__(self, *exc):
        await self._session.close()
        await self._running.__aexit__(*exc)
