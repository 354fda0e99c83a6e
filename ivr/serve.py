"""`vmbox serve`: wires the long-lived objects together and runs them in one event loop: the REST
API, the FastAGI server, the notification worker (and AMI link), and the periodic retention expiry.
"""

import asyncio
import logging
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from ivr.agi.driver import call_handler
from ivr.agi.server import FastAgiServer
from ivr.api_site import api_runner, start_site, tls_context
from ivr.config import Settings
from ivr.flow.model import Settings as FlowSettings
from ivr.notify.setup import notifications
from ivr.recordings import RECOVERY_INTERVAL_S, Journal, recover
from ivr.services import CallServices, ServiceOptions
from prompts.catalogue import PromptCatalogue
from store.accounts import create_first_account, list_accounts
from store.api.app import make_app
from store.api.options import ApiOptions
from store.core import Store, open_store, remove_unreferenced_audio, without_password
from store.retention import expire_messages, purge_messages
from store.vmboxes import pin_hash_counts, pin_keys

logger = logging.getLogger(__name__)

EXPIRY_INTERVAL_S = 3600


def api_options(settings: Settings) -> ApiOptions:
    return ApiOptions(
        max_upload_bytes=settings.api.max_upload_mb * 1024 * 1024,
        token_ttl_s=settings.api.token_ttl_s,
        lockout=service_options(settings).lockout,  # a box login counts towards the phone's lockout
        trusted_proxies=settings.api.trusted_proxy_list,
    )


def service_options(settings: Settings) -> ServiceOptions:
    ivr = settings.ivr
    return ServiceOptions(
        max_message_count=ivr.max_message_count,
        lockout_failures=ivr.lockout_failures,
        lockout_window_s=ivr.lockout_window_s,
        lockout_s=ivr.lockout_s,
        full_notices=bool(settings.smtp.host),
    )


async def ensure_default_account(store: Store, base: str) -> None:
    """On an empty database, create the account `default` and show its API key once, with a curl
    command for the API listening at `base` (`http[s]://host:port`)."""
    created = await create_first_account(store.db, "default")
    if created is None:
        return
    account, api_key = created
    print(
        "vmbox: first start, created the account 'default'.\n"
        f"  account id: {account.id}\n"
        f"  API key:    {api_key}\n"
        "  The key is shown only this once; keep it. Get an auth token with:\n"
        f'  curl -s -X PUT -H \'Content-Type: application/json\' -d \'{{"data":{{"api_key":"{api_key}"}}}}\''
        f" {base}/v2/api_auth",
        flush=True,
    )


async def check_pin_keys(store: Store) -> None:
    """Make sure the PIN key file is usable before any call comes (creating it on a new store), and
    log which keys the stored PINs use, so an admin rotating the key sees when an old one is free to
    go. Raises PinKeyError (an OSError), which stops `vmbox serve` with its message."""
    keys = await pin_keys(store.db)
    counts = await pin_hash_counts(store.db)
    logger.info(
        "PIN key file %s: new PINs use key %s; stored PINs by key: %s",
        keys.source,
        keys.current,
        ", ".join(f"{key_id} {count}" for key_id, count in sorted(counts.items())) or "none",
    )


async def _expire_periodically(store: Store) -> None:
    while True:
        expired = await expire_messages(store)
        if expired:
            logger.info("marked %d messages past retention as expired", expired)
        purged = await purge_messages(store)
        if purged:
            logger.info("removed the audio of %d deleted or expired messages", purged)
        if store.media.shared is not None:  # other nodes' deletions leave audio here and there
            freed = await remove_unreferenced_audio(store)
            if freed:
                logger.info("freed %d audio files no row refers to any more", freed)
        await asyncio.sleep(EXPIRY_INTERVAL_S)


async def _recover_periodically(journal: Journal, services, min_message_ms: int, fetch) -> None:
    """Keep the messages of calls cut short by an earlier stop, now and every RECOVERY_INTERVAL_S
    (a FastAGI recording may go on after vmbox stopped: it is kept once finished)."""
    while True:
        try:
            await recover(journal, services, min_message_ms, fetch)
        except Exception:  # the next round tries again; a message must not be dropped for a fault
            logger.exception("keeping the recordings of interrupted calls failed; trying again")
        await asyncio.sleep(RECOVERY_INTERVAL_S)


@dataclass(frozen=True)
class Running:
    store: Store
    api_address: tuple[str, int]
    api_base: str  # http[s]://host:port
    agi_address: tuple[str, int]
    account_id: str  # the account FastAGI and ARI calls belong to by default
    ari: object = None  # the Stasis application (ivr.ari.app.StasisApp) when [ari] url is set


async def open_settings_store(settings: Settings) -> Store:
    """The store `settings` describe ([store] data_dir, url, retention, time zone, pool size)."""
    return await open_store(
        settings.data_dir,
        settings.store.retention_days,
        default_timezone=settings.store.default_timezone,
        url=settings.store.url,
        pool_size=settings.store.pool_size,
    )


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Running]:
    """Everything `vmbox serve` runs, started (ports 0 pick free ones) and stopped around the block.
    Raises ConfigError (before anything starts) for TLS files that cannot be used."""
    tls_context(settings.api)  # a bad certificate is told before the store is opened
    store = await open_settings_store(settings)
    store.media.cache.resize(settings.store.cache_mb * 1024 * 1024)
    runner = api_runner(make_app(store, api_options(settings)))
    agi = None
    expiry = recovery = None
    try:
        await check_pin_keys(store)
        await runner.setup()
        api_base = await start_site(runner, settings.api)
        await ensure_default_account(store, api_base)
        account = settings.agi.account or (await list_accounts(store.db))[0].id
        settings.recordings_dir.mkdir(parents=True, exist_ok=True)
        prompts_dir = Path(settings.ivr.prompts_dir) if settings.ivr.prompts_dir else None
        journal = Journal(settings.recordings_dir)
        services = CallServices(store, service_options(settings), journal)
        prompts = PromptCatalogue(prompts_dir)
        flow_settings = FlowSettings(
            keys=settings.keys,
            limits=settings.limits,
            callback_enabled=settings.ivr.callback_enabled,
            forward_comment=settings.ivr.forward_type == "prepend_forward",
        )
        handler = call_handler(services, prompts, flow_settings, journal, account)
        agi = FastAgiServer(handler, settings.agi.header_timeout_s, settings.agi.reply_timeout_s)
        agi_address = await agi.start(settings.agi.host, settings.agi.port)
        expiry = asyncio.create_task(_expire_periodically(store))
        async with AsyncExitStack() as stack:
            ari = None
            if settings.ari.url:
                from ivr.ari.setup import stasis_application

                ari = await stack.enter_async_context(
                    stasis_application(settings, services, prompts, flow_settings, journal, account)
                )
            fetch = ari.fetch_stored if ari else None
            recovery = asyncio.create_task(
                _recover_periodically(journal, services, settings.limits.min_message_ms, fetch)
            )
            await stack.enter_async_context(notifications(store, settings, ari=ari))
            yield Running(store, runner.addresses[0][:2], api_base, agi_address, account, ari)
    finally:
        for task in (expiry, recovery):
            if task:
                task.cancel()
        if agi:
            await agi.stop()
        await runner.cleanup()
        await store.db.close()
        logger.info("stopped")


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run everything until SIGINT/SIGTERM (or until `stop` is set)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    async with running(settings) as services:
        agi_host, agi_port = services.agi_address
        ari = (
            f", ARI application {settings.ari.app!r} at {settings.ari.url}" if services.ari else ""
        )
        store = f", database {without_password(settings.store.url)}" if settings.store.url else ""
        print(
            f"vmbox: REST API on {services.api_base}, FastAGI on agi://{agi_host}:{agi_port}{ari}"
            f" (data in {settings.data_dir.resolve()}{store}); Ctrl-C stops",
            file=sys.stderr,
            flush=True,
        )
        await stop.wait()
