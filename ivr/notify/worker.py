"""The job worker: runs due jobs from the store's queue, with retries and exponential backoff.

Rules:
- A handler returns an Outcome (done, rescheduled, ...) or raises: `Retry` (try again later, as a
  failure), `Failure` (give up now), anything else (a bug or an outage: retried, logged with its
  traceback). Past `max_attempts` failures a job is failed; `vmbox jobs retry` revives it.
- Every run is recorded (store.jobs.job_attempts) with its outcome.
- Jobs found running at start were interrupted by a dying process: they run again. With several
  nodes on one database (`lease_s` given), only jobs whose lease ran out: each node renews the leases
  of the jobs it runs every third of `lease_s`, and takes over the jobs of nodes that stopped renewing.
- Time comes from a Clock, so tests drive hours of schedules without waiting.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from store.core import Store
from store.jobs import (
    Job,
    Outcome,
    claim_due,
    finish,
    next_due,
    recover_interrupted,
    renew_leases,
)

logger = logging.getLogger(__name__)

Handler = Callable[[Job], Awaitable[Outcome]]
IDLE_POLL_S = 5.0  # jobs queued by another process (the CLI, a second node) are seen within this
STORE_RETRY_S = (
    30.0  # after the store failed (disk full, I/O error), the worker tries again this much later
)


class Retry(Exception):
    """A temporary failure (SMTP down, AMI unreachable): try again after the backoff, or at `at`."""

    def __init__(self, detail: str, at: float | None = None):
        super().__init__(detail)
        self.at = at


class Failure(Exception):
    """A failure retrying cannot fix (no such box any more, a recipient refused for good)."""


class SystemClock:
    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float, wake: asyncio.Event) -> None:
        """Wait `seconds`, or less if `wake` is set. Not asyncio.wait_for: on Python 3.11 it swallows a
        cancellation that comes as `wake` is set, and the task sleeps again, never to end."""
        try:
            async with asyncio.timeout(max(0.0, seconds)):
                await wake.wait()
        except TimeoutError:
            pass


@dataclass(frozen=True)
class Backoff:
    base_s: float = 30
    max_s: float = 3600
    max_attempts: int = 10

    def delay(self, attempts: int) -> float:
        """Seconds before the retry that follows failed attempt number `attempts` (1, 2, ...)."""
        return min(self.max_s, self.base_s * 2 ** (attempts - 1))


class Worker:
    def __init__(
        self,
        store: Store,
        handlers: dict[str, Handler],
        clock=None,
        backoff: Backoff | None = None,
        concurrency: int = 8,
        lease_s: float | None = None,
    ):
        self.store = store
        self.handlers = handlers
        self.clock = clock or SystemClock()
        self.backoff = backoff or Backoff()
        self.concurrency = concurrency
        self.lease_s = lease_s  # None: this process is the store's only worker
        self.wake = asyncio.Event()
        self._leased: dict[int, Job] = {}  # the jobs this worker runs now
        self._next_lease_check = 0.0
        store.db.on_commit(self.wake.set)

    async def run(self) -> None:
        """Run jobs until cancelled: up to `concurrency` at once, each slot taken again as soon as its
        job ends. (Not batch by batch: one slow SMTP session would hold up the seven beside it.)"""
        interrupted = await recover_interrupted(self.store.db, self.clock.now(), self.lease_s or 0)
        if interrupted:
            logger.warning(
                "%d jobs were interrupted by the last stop; running them again", interrupted
            )
        running: set[asyncio.Task] = set()
        try:
            while True:
                try:
                    await self._keep_leases()
                    started = await self._start_due(running)
                    if not started or len(running) >= self.concurrency:
                        await self._wait(running)
                except Exception:  # the store failing must not end notifications for the process
                    logger.exception(
                        "the job worker could not use the store; trying again in %.0f s",
                        STORE_RETRY_S,
                    )
                    await self.clock.sleep(STORE_RETRY_S, asyncio.Event())
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    async def _keep_leases(self) -> None:
        """With several nodes: renew the leases of this node's jobs, take over those that ran out."""
        now = self.clock.now()
        if self.lease_s is None or now < self._next_lease_check:
            return
        self._next_lease_check = now + self.lease_s / 3
        await renew_leases(self.store.db, list(self._leased.values()), now)
        taken = await recover_interrupted(self.store.db, now, self.lease_s)
        if taken:
            logger.warning(
                "%d jobs of a node that stopped renewing their leases are due again here", taken
            )

    async def _start_due(self, running: set[asyncio.Task]) -> int:
        """Start due jobs in the free slots; how many started."""
        self.wake.clear()  # before reading the queue: a commit after this wakes the next wait
        free = self.concurrency - len(running)
        jobs = await claim_due(self.store.db, self.clock.now(), free) if free > 0 else []
        for job in jobs:
            task = asyncio.create_task(self.run_job(job))
            running.add(task)
            task.add_done_callback(running.discard)
        return len(jobs)

    async def _wait(self, running: set[asyncio.Task]) -> None:
        """Until something may be startable: a commit (a job queued, or one finished: finishing
        commits), or the next job falls due."""
        due = None if len(running) >= self.concurrency else await next_due(self.store.db)
        wait = IDLE_POLL_S if due is None else min(IDLE_POLL_S, due - self.clock.now())
        if self.lease_s is not None:
            wait = min(wait, self._next_lease_check - self.clock.now())
        if wait > 0:
            await self.clock.sleep(wait, self.wake)

    async def run_due(self) -> int:
        """Run the jobs due now (one batch, concurrently) and wait for them; how many ran."""
        jobs = await claim_due(self.store.db, self.clock.now(), self.concurrency)
        await asyncio.gather(*(self.run_job(job) for job in jobs))
        return len(jobs)

    async def run_job(self, job: Job) -> None:
        self._leased[job.id] = job
        try:
            await self._run_job(job)
        finally:
            del self._leased[job.id]

    async def _run_job(self, job: Job) -> None:
        handler = self.handlers.get(job.kind)
        try:
            if handler is None:
                raise Failure(f"no handler for jobs of kind {job.kind!r} in this vmbox")
            outcome = await handler(job)
        except Retry as exc:
            outcome = self._retry(job, str(exc), exc.at)
        except Failure as exc:
            outcome = Outcome("failed", str(exc))
        except Exception as exc:  # a bug or an outage in a handler must not stop the worker
            logger.exception("job %d (%s) attempt %d raised", job.id, job.kind, job.attempts)
            outcome = self._retry(job, f"{type(exc).__name__}: {exc}")
        level = logging.INFO if outcome.state in ("done", "rescheduled") else logging.WARNING
        logger.log(
            level,
            "job %d (%s) attempt %d: %s %s",
            job.id,
            job.kind,
            job.attempts,
            outcome.state,
            outcome.detail,
        )
        if not await finish(self.store.db, job, outcome, self.clock.now()):
            logger.warning(
                "job %d (%s) attempt %d: its lease ran out meanwhile and another node took the job"
                " over; this outcome is not recorded",
                job.id,
                job.kind,
                job.attempts,
            )

    def _retry(self, job: Job, detail: str, at: float | None = None) -> Outcome:
        if job.attempts >= self.backoff.max_attempts:
            return Outcome("failed", f"{detail} (gave up after {job.attempts} attempts)")
        return Outcome(
            "retry",
            detail,
            at if at is not None else self.clock.now() + self.backoff.delay(job.attempts),
        )
