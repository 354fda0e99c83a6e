"""Builds vmbox's ARI side from the settings: the media server (when Asterisk fetches audio over HTTP),
the client and the Stasis application, running around a block."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from ivr.ari.app import StasisApp
from ivr.ari.client import AriClient
from ivr.ari.media import MediaGrants
from ivr.config import ConfigError, Settings
from ivr.flow.model import Settings as FlowSettings
from ivr.recordings import Journal

MEDIA_MODES = ("http", "shared")


async def _media_server(settings: Settings, media: MediaGrants) -> web.AppRunner:
    app = web.Application()
    app.router.add_routes(media.routes())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.ari.media_host, settings.ari.media_port).start()
    host, port = runner.addresses[0][:2]
    media.serve_at(settings.ari.media_url or f"http://{host}:{port}")
    return runner


@contextlib.asynccontextmanager
async def stasis_application(
    settings: Settings,
    services,
    prompts,
    flow_settings: FlowSettings,
    journal: Journal,
    account: str,
) -> AsyncIterator[StasisApp]:
    """The Stasis application, registered with Asterisk (and re-registered after every reconnection)."""
    ari = settings.ari
    if ari.media not in MEDIA_MODES:
        raise ConfigError(
            f"ari.media {ari.media!r}: use http (Asterisk fetches audio from vmbox) or shared"
            " (Asterisk reads vmbox's data directory)"
        )
    media = MediaGrants(ari.media_ttl_s, prompts) if ari.media == "http" else None
    runner = await _media_server(settings, media) if media else None
    client = AriClient(ari.url, ari.username, ari.password, ari.app)
    app = StasisApp(client, services, prompts, flow_settings, journal, account, media)
    events = asyncio.create_task(app.run())
    try:
        yield app
    finally:
        await app.stop()
        events.cancel()
        await asyncio.gather(events, return_exceptions=True)
        await client.close()
        if runner:
            await runner.cleanup()
