"""The durable job queue: notifications as rows, committed with what they are about.

Rules:
- `enqueue` runs inside the caller's transaction, so a job exists exactly when the change it is about
  was committed. A job with a `key` is coalesced: while one with that key is unfinished (pending or
  running), enqueueing another does nothing.
- `claim_due` marks due jobs running and records an attempt; `finish` records its outcome and,
  in the same transaction, enqueues the follow-up jobs a handler asked for, so a step is never done
  twice nor lost between two jobs.
- A job found running at start-up was interrupted (the process died): `recover_interrupted` puts it
  back to pending, to run again.
- Several nodes on one database (PostgreSQL): the queue's transactions do not wait for the store's
  single writer (store/postgres.py); due jobs are claimed with `FOR UPDATE SKIP LOCKED`, so nodes
  claiming at once take different jobs. A running job is leased to the node running it. The
  node renews the lease (`renew_leases`: the job's `updated`) while the job runs; a job whose lease
  ran out belongs to a node that died, and any node puts it back to pending (`recover_interrupted`
  with the lease). `finish` records an outcome only for the attempt it was given: a job taken over
  meanwhile is the new attempt's to finish.
"""

import json
import time
from dataclasses import dataclass, field

from store.db import Database, Transaction
from store.documents import dumps
from store.sql import Dialects

UNFINISHED = ("pending", "running")
LAMP_CLAIM_S = 30.0  # a lamp a node took to refresh is its own this long


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    key: str | None
    payload: dict
    state: str
    run_at: float
    attempts: int
    last_error: str | None = None


@dataclass(frozen=True)
class NewJob:
    kind: str
    payload: dict
    key: str | None = None
    delay_s: float = 0.0


@dataclass(frozen=True)
class Outcome:
    """How a run ended: `done`, `retry` (failed, try again at `run_at`), `failed` (give up), or
    `rescheduled` (not a failure: run again at `run_at` with `payload`, e.g. the next callback attempt)."""

    state: str
    detail: str = ""
    run_at: float | None = None
    payload: dict | None = None
    follow_ups: tuple[NewJob, ...] = field(default_factory=tuple)


_COLUMNS = "id, kind, key, payload, state, run_at, attempts, last_error"


def _job(row) -> Job:
    return Job(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5], row[6], row[7])


async def enqueue(tx: Transaction, job: NewJob, now: float | None = None) -> bool:
    """Add `job` within the caller's transaction; False when an unfinished job with its key exists."""
    now = time.time() if now is None else now
    changed = await tx.execute(
        "INSERT INTO jobs (kind, key, payload, run_at, created, updated) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (job.kind, job.key, dumps(job.payload), now + job.delay_s, now, now),
    )
    return changed == 1


async def enqueue_job(db: Database, job: NewJob, now: float | None = None) -> bool:
    """`enqueue` in a transaction of its own."""
    async with db.transaction(serialized=False) as tx:
        return await enqueue(tx, job, now)


_DUE = f"SELECT {_COLUMNS} FROM jobs WHERE state = 'pending' AND run_at <= ? ORDER BY run_at, id LIMIT ?"
# Nodes claiming at once each take other jobs: a due job another is claiming is skipped, not waited for.
_CLAIM = Dialects(sqlite=_DUE, postgresql=_DUE + " FOR UPDATE SKIP LOCKED")


async def claim_due(db: Database, now: float, limit: int) -> list[Job]:
    """Up to `limit` due pending jobs, oldest due first, now marked running with a new attempt."""
    # An indexed read first: the worker looks after every commit, and most find nothing due; a write
    # transaction each time would queue at the writer behind the callers' messages for nothing.
    due = await db.fetch_one(
        "SELECT 1 FROM jobs WHERE state = 'pending' AND run_at <= ? LIMIT 1", (now,)
    )
    if due is None:
        return []
    async with db.transaction(serialized=False) as tx:
        rows = await tx.fetch_all(_CLAIM, (now, limit))
        jobs = [_job(row) for row in rows]
        await tx.execute_many(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, updated = ? WHERE id = ?",
            [(now, job.id) for job in jobs],
        )
        await tx.execute_many(
            "INSERT INTO job_attempts (job_id, attempt, started) VALUES (?, ?, ?)",
            [(job.id, job.attempts + 1, now) for job in jobs],
        )
    return [
        Job(j.id, j.kind, j.key, j.payload, "running", j.run_at, j.attempts + 1, j.last_error)
        for j in jobs
    ]


async def finish(db: Database, job: Job, outcome: Outcome, now: float) -> bool:
    """Record how `job`'s current attempt ended, and enqueue its follow-ups, in one transaction; False
    (nothing recorded) when that attempt is no longer the job's (its lease ran out and another node
    took it over)."""
    state = {"done": "done", "failed": "failed", "retry": "pending", "rescheduled": "pending"}[
        outcome.state
    ]
    error = outcome.detail if outcome.state in ("retry", "failed") else None
    async with db.transaction(serialized=False) as tx:
        changed = await tx.execute(
            "UPDATE jobs SET state = ?, run_at = COALESCE(?, run_at), payload = COALESCE(?, payload),"
            " last_error = COALESCE(?, last_error), updated = ?"
            " WHERE id = ? AND state = 'running' AND attempts = ?",
            (
                state,
                outcome.run_at,
                None if outcome.payload is None else dumps(outcome.payload),
                error,
                now,
                job.id,
                job.attempts,
            ),
        )
        if not changed:
            return False
        await tx.execute(
            "UPDATE job_attempts SET finished = ?, outcome = ?, detail = ? WHERE job_id = ? AND attempt = ?",
            (now, outcome.state, outcome.detail[:2000], job.id, job.attempts),
        )
        for follow_up in outcome.follow_ups:
            await enqueue(tx, follow_up, now)
    return True


async def recover_interrupted(db: Database, now: float, lease_s: float = 0) -> int:
    """Put jobs left running by a process that died back to pending; how many there were. With a
    lease, only jobs whose lease ran out (not renewed for `lease_s`): other nodes' jobs run on."""
    expired = now - lease_s
    async with db.transaction(serialized=False) as tx:
        await tx.execute(
            "UPDATE job_attempts SET finished = ?, outcome = 'interrupted' WHERE finished IS NULL"
            " AND job_id IN (SELECT id FROM jobs WHERE state = 'running' AND updated <= ?)",
            (now, expired),
        )
        return await tx.execute(
            "UPDATE jobs SET state = 'pending', updated = ? WHERE state = 'running' AND updated <= ?",
            (now, expired),
        )


async def renew_leases(db: Database, jobs: list[Job], now: float) -> None:
    """Renew the leases of running `jobs` (this node's): no other node takes them over."""
    async with db.transaction(serialized=False) as tx:
        await tx.execute_many(
            "UPDATE jobs SET updated = ? WHERE id = ? AND state = 'running' AND attempts = ?",
            [(now, job.id, job.attempts) for job in jobs],
        )


async def next_due(db: Database) -> float | None:
    """When the earliest pending job is due (Unix seconds), or None."""
    row = await db.fetch_one("SELECT min(run_at) FROM jobs WHERE state = 'pending'")
    return row[0] if row else None


async def list_jobs(
    db: Database, states: tuple[str, ...] = ("pending", "running", "failed"), limit: int = 200
) -> list[Job]:
    """Jobs in `states`, most recently updated first."""
    marks = ",".join("?" * len(states))
    rows = await db.scan(
        f"SELECT {_COLUMNS} FROM jobs WHERE state IN ({marks}) ORDER BY updated DESC, id DESC LIMIT ?",
        (*states, limit),
    )
    return [_job(row) for row in rows]


async def attempts_of(db: Database, job_id: int) -> list[tuple]:
    """(attempt, started, finished, outcome, detail) of every run of a job."""
    rows = await db.fetch_all(
        "SELECT attempt, started, finished, outcome, detail FROM job_attempts WHERE job_id = ? ORDER BY attempt",
        (job_id,),
    )
    return [tuple(row) for row in rows]


async def retry_failed(db: Database, job_id: int | None, now: float) -> int:
    """Make a failed job (or, with None, every failed job) pending again, due now; how many."""
    where, params = ("AND id = ?", (job_id,)) if job_id is not None else ("", ())
    async with db.transaction(serialized=False) as tx:
        return await tx.execute(
            f"UPDATE jobs SET state = 'pending', run_at = ?, updated = ? WHERE state = 'failed' {where}",
            (now, now, *params),
        )


async def last_done(db: Database, kind: str, key: str) -> float | None:
    """When the last job of `kind` with `key` finished successfully (Unix seconds), or None."""
    row = await db.fetch_one(
        "SELECT max(updated) FROM jobs WHERE kind = ? AND key = ? AND state = 'done'", (kind, key)
    )
    return row[0] if row else None


@dataclass(frozen=True)
class LampChange:
    box_id: str
    account_id: str
    mailbox: str
    changes: int
    deleted: bool


async def lamps_to_update(
    db: Database, limit: int = 500, now: float | None = None
) -> list[LampChange]:
    """Boxes whose message-waiting lamp must be refreshed. With several nodes (PostgreSQL) the lamps
    returned are claimed for this node for LAMP_CLAIM_S, so one node sends each change (the Asterisk
    servers share lamp states: README "Several nodes"); a node that dies leaves them to the others."""
    if db.dialect != "postgresql":
        rows = await db.fetch_all(
            "SELECT box_id, account_id, mailbox, changes, deleted FROM mwi_pending LIMIT ?",
            (limit,),
        )
    else:
        now = time.time() if now is None else now
        async with db.transaction() as tx:
            rows = await tx.fetch_all(
                "UPDATE mwi_pending SET claimed_by = ?, claimed_until = ? WHERE box_id IN"
                " (SELECT box_id FROM mwi_pending WHERE claimed_by IS NULL OR claimed_by = ?"
                " OR claimed_until < ? LIMIT ?)"
                " RETURNING box_id, account_id, mailbox, changes, deleted",
                (db.node, now + LAMP_CLAIM_S, db.node, now, limit),
            )
    return [LampChange(row[0], row[1], row[2], row[3], bool(row[4])) for row in rows]


async def lamp_updated(db: Database, change: LampChange) -> None:
    """Forget a refreshed lamp, unless its box changed again meanwhile (then it is refreshed again)."""
    async with db.transaction() as tx:
        await tx.execute(
            "DELETE FROM mwi_pending WHERE box_id = ? AND changes = ?",
            (change.box_id, change.changes),
        )


async def refresh_every_lamp(db: Database) -> int:
    """Mark every box's lamp for refreshing (at start-up: the phones may have missed changes)."""
    async with db.transaction() as tx:
        return await tx.execute(
            "INSERT INTO mwi_pending (box_id, account_id, mailbox) SELECT id, account_id, mailbox FROM vmboxes"
            " WHERE true ON CONFLICT (box_id) DO UPDATE SET changes = mwi_pending.changes + 1"
        )
