"""Builds the notification side from the settings: the job handlers for what is configured, the job
worker, and the long-running tasks (the AMI link, the lamp refresher).

Only configured parts are built (and imported): no SMTP host, no email; no AMI host, no callback calls
(unless `[ari] callbacks` places them over ARI) and lamps over ARI when `[ari] url` is set, else none;
transcription engine "null", no transcription.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import replace

from ivr.config import Settings
from ivr.notify.dispatch import Dispatcher
from ivr.notify.worker import Backoff, SystemClock, Worker
from store.core import Store

logger = logging.getLogger(__name__)


def _handlers(store: Store, settings: Settings, clock, tasks: list, ari=None) -> tuple[dict, list]:
    """(handlers by job kind, closers) for what `settings` configures."""
    callbacks_over_ari = settings.ari.callbacks and ari is not None
    dispatcher = Dispatcher(
        store,
        email=bool(settings.smtp.host),
        transcription=settings.transcription.engine != "null",
        callbacks=bool(settings.ami.host) or callbacks_over_ari,
    )
    handlers = {
        "message.new": dispatcher.message_new,
        "message.after_notify": dispatcher.after_notify,
    }
    closers: list = []
    if settings.smtp.host:
        from ivr.notify.email import EmailNotifier

        email = EmailNotifier(store, settings.smtp, clock)
        handlers |= {"email.new_message": email.new_message, "email.box_full": email.box_full}
    if settings.transcription.engine != "null":
        from ivr.notify.transcribe import ATTEMPTS, Transcription, make_engine

        # Never more attempts than the worker allows: it would fail the job first, and the email would never go.
        transcription = Transcription(
            store,
            make_engine(settings.transcription),
            dispatcher.after_transcription,
            attempts=min(ATTEMPTS, settings.jobs.max_attempts),
        )
        handlers["transcribe"] = transcription.transcribe
        closers.append(transcription.close)
    if settings.ami.host:
        from ivr.notify.ami import AmiLamps, AmiLink, CallbackNotifier
        from ivr.notify.lamps import LampRefresher

        link = AmiLink(settings.ami)
        handlers["callback"] = CallbackNotifier(store, link, settings.ami, clock).attempt
        tasks += [
            link.run,
            LampRefresher(store, AmiLamps(link), settings.ami.mwi_context, clock).run,
        ]
        closers.append(link.close)
    elif ari is not None:
        from ivr.ari.lamps import AriLamps
        from ivr.notify.lamps import LampRefresher

        tasks.append(LampRefresher(store, AriLamps(ari), settings.ami.mwi_context, clock).run)
    if callbacks_over_ari:
        from ivr.ari.callbacks import AriOriginator
        from ivr.notify.ami import CallbackNotifier

        over_ari = replace(settings.ami, callback_channel=settings.ari.callback_endpoint)
        handlers["callback"] = CallbackNotifier(store, AriOriginator(ari), over_ari, clock).attempt
    return handlers, closers


def _report_death(task: asyncio.Task) -> None:
    """These tasks run as long as vmbox does: one that ends on its own has failed, and says so at once
    (not at shutdown, when nobody is reading)."""
    if not task.cancelled() and task.exception() is not None:
        logger.critical(
            "%s stopped: no more notifications until vmbox restarts",
            task.get_name(),
            exc_info=task.exception(),
        )


@contextlib.asynccontextmanager
async def notifications(
    store: Store, settings: Settings, clock=None, ari=None
) -> AsyncIterator[Worker]:
    """The worker and the configured notifiers, running around the block. `ari`: the Stasis application,
    which places callback calls when `[ari] callbacks` is set, and carries the lamps when `[ami] host`
    is not."""
    clock = clock or SystemClock()
    tasks: list = []
    handlers, closers = _handlers(store, settings, clock, tasks, ari)
    jobs = settings.jobs
    worker = Worker(
        store,
        handlers,
        clock,
        Backoff(jobs.backoff_base_s, jobs.backoff_max_s, jobs.max_attempts),
        jobs.concurrency,
        # SQLite: this process is the store's one worker; PostgreSQL: other nodes may share the queue.
        jobs.lease_s if store.db.dialect == "postgresql" else None,
    )
    running = [asyncio.create_task(task(), name=task.__qualname__) for task in (worker.run, *tasks)]
    for task in running:
        task.add_done_callback(_report_death)
    try:
        yield worker
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        for close in closers:
            await close()
