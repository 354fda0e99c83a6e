"""`vmbox serve`: wires the long-lived objects together and runs them in one event loop."""
import asyncio
import logging
import signal
import sys
from contextlib import suppress

from aiohttp import web

from ivr.config import Settings
from store.accounts import create_account, list_accounts
from store.api.app import make_app
from store.api.options import ApiOptions
from store.core import Store, open_store
from store.message_changes import expire_messages

logger = logging.getLogger(__name__)

EXPIRY_INTERVAL_S = 3600


def api_options(settings: Settings) -> ApiOptions:
    return ApiOptions(max_upload_bytes=settings.api.max_upload_mb * 1024 * 1024, token_ttl_s=settings.api.token_ttl_s)


async def ensure_default_account(store: Store, settings: Settings) -> None:
    """On an empty database, create the account `default` and show its API key once."""
    if await list_accounts(store.db):
        return
    account, api_key = await create_account(store.db, "default")
    base = f"http://{settings.api.host}:{settings.api.port}"
    print(
        "vmbox: first start, created the account 'default'.\n"
        f"  account id: {account.id}\n"
        f"  API key:    {api_key}\n"
        "  The key is shown only this once; keep it. Get an auth token with:\n"
        f"  curl -s -X PUT -H 'Content-Type: application/json' -d '{{\"data\":{{\"api_key\":\"{api_key}\"}}}}'"
        f" {base}/v2/api_auth",
        flush=True,
    )


async def _expire_periodically(store: Store) -> None:
    while True:
        expired = await expire_messages(store)
        if expired:
            logger.info("marked %d messages past retention as expired", expired)
        await asyncio.sleep(EXPIRY_INTERVAL_S)


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run the REST API until SIGINT/SIGTERM (or until `stop` is set)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    store = await open_store(settings.data_dir, settings.store.retention_days)
    runner = web.AppRunner(make_app(store, api_options(settings)))
    expiry = None
    try:
        await ensure_default_account(store, settings)
        await runner.setup()
        site = web.TCPSite(runner, settings.api.host, settings.api.port)
        await site.start()
        expiry = asyncio.create_task(_expire_periodically(store))
        print(f"vmbox: REST API on http://{settings.api.host}:{settings.api.port}"
              f" (data in {settings.data_dir.resolve()}); Ctrl-C stops", file=sys.stderr, flush=True)
        await stop.wait()
    finally:
        if expiry:
            expiry.cancel()
        await runner.cleanup()
        await store.db.close()
        logger.info("stopped")
