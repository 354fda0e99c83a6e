"""The durable job queue and its worker, on a real store, with a clock the tests move."""

import asyncio
import dataclasses
import json

import pytest

from ivr.notify.dispatch import Dispatcher
from ivr.notify.setup import _report_death
from ivr.notify.worker import IDLE_POLL_S, STORE_RETRY_S, Backoff, Failure, Retry, Worker
from store.core import open_store
from store.jobs import (
    NewJob,
    Outcome,
    attempts_of,
    claim_due,
    enqueue_job,
    lamp_updated,
    lamps_to_update,
    list_jobs,
    recover_interrupted,
    retry_failed,
)
from store.message_changes import change_folder
from store.messages import attach_audio, create_message
from store.vmboxes import create_vmbox, patch_vmbox
from tests.amikit import TestClock
from tests.mailkit import write_tone


class Clock:
    def __init__(self, now: float = 2e9):  # after every job the tests queue with the real time
        self.t = now

    def now(self) -> float:
        return self.t


@pytest.fixture
async def box(store, account):
    return await create_vmbox(store.db, account, {"name": "Ann", "mailbox": "3000"})


async def a_message(store, account, box, tmp_path, seconds: int = 2):
    path = store.media.temp_path(".wav")
    write_tone(path, seconds)
    return await create_message(
        store, account, box.id, {"caller_id_number": "1001"}, await store.media.adopt(path, account)
    )


async def jobs_of(store, kind: str | None = None, states=("pending", "running", "failed", "done")):
    return [job for job in await list_jobs(store.db, states) if kind is None or job.kind == kind]


async def test_a_message_with_audio_queues_its_notification_in_the_same_transaction(
    store, account, box, tmp_path
):
    message = await a_message(store, account, box, tmp_path)
    [job] = await jobs_of(store)
    assert (job.kind, job.state) == ("message.new", "pending")
    assert job.payload == {"account_id": account, "box_id": box.id, "message_id": message.id}


async def test_audio_attached_later_is_no_news(store, account, box, tmp_path):
    # attach_audio is the REST API's PUT …/raw, which KAZOO does not announce either.
    message = await create_message(store, account, box.id, {"caller_id_number": "1001"})
    path = store.media.temp_path(".wav")
    write_tone(path, 1)
    await attach_audio(store, account, box.id, message.id, await store.media.adopt(path, account))
    assert await jobs_of(store) == []


async def test_copies_notify_their_new_box_unless_told_not_to(store, account, box, tmp_path):
    from store.message_changes import copy_messages, move_messages

    other = await create_vmbox(store.db, account, {"name": "Bob", "mailbox": "3001"})
    message = await a_message(store, account, box, tmp_path)
    outcome = await copy_messages(store, account, box.id, [message.id], [other.id])  # the phone's
    news = [job.payload for job in await jobs_of(store, "message.new")]
    assert {"account_id": account, "box_id": other.id, "message_id": outcome.succeeded[0]} in news
    await copy_messages(store, account, box.id, [message.id], [other.id], announce=False)
    await move_messages(store, account, box.id, [message.id], other.id)  # only the API moves
    assert len(await jobs_of(store, "message.new")) == len(news) == 2


def dispatcher(store, **configured):
    return Dispatcher(
        store, **{"email": False, "transcription": False, "callbacks": False, **configured}
    )


async def test_a_new_message_becomes_an_email_job_when_email_is_configured(
    store, account, box, tmp_path
):
    clock = Clock()
    await a_message(store, account, box, tmp_path)
    worker = Worker(store, {"message.new": dispatcher(store, email=True).message_new}, clock)
    assert await worker.run_due() == 1
    assert [job.kind for job in await jobs_of(store, states=("pending",))] == ["email.new_message"]


async def test_a_transcribing_box_transcribes_first(store, account, box, tmp_path):
    await patch_vmbox(store.db, account, box.id, {"transcribe": True})
    await a_message(store, account, box, tmp_path)
    worker = Worker(
        store,
        {"message.new": dispatcher(store, email=True, transcription=True).message_new},
        Clock(),
    )
    await worker.run_due()
    assert [job.kind for job in await jobs_of(store, states=("pending",))] == ["transcribe"]


async def test_one_callback_series_per_box_and_number(store, account, box, tmp_path):
    await patch_vmbox(store.db, account, box.id, {"notify": {"callback": {"number": "5551234"}}})
    worker = Worker(store, {"message.new": dispatcher(store, callbacks=True).message_new}, Clock())
    await a_message(store, account, box, tmp_path)
    await a_message(store, account, box, tmp_path)
    assert await worker.run_due() == 2
    [series] = await jobs_of(store, "callback")
    assert series.key == f"callback:{box.id}:5551234" and series.payload["attempt"] == 0


async def test_a_disabled_callback_starts_nothing(store, account, box, tmp_path):
    await patch_vmbox(
        store.db, account, box.id, {"notify": {"callback": {"number": "555", "disabled": True}}}
    )
    worker = Worker(store, {"message.new": dispatcher(store, callbacks=True).message_new}, Clock())
    await a_message(store, account, box, tmp_path)
    await worker.run_due()
    assert await jobs_of(store, "callback") == []


async def test_failures_back_off_exponentially_then_give_up(store):
    clock = Clock()
    calls = []

    async def flaky(job):
        calls.append(clock.now())
        raise Retry("SMTP down")

    await enqueue_job(store.db, NewJob("flaky", {}), clock.now())
    worker = Worker(store, {"flaky": flaky}, clock, Backoff(base_s=30, max_s=100, max_attempts=4))
    for expected_delay in (30, 60, 100):
        await worker.run_due()
        [job] = await jobs_of(store)
        assert job.state == "pending" and job.run_at == clock.now() + expected_delay
        assert await worker.run_due() == 0  # not due yet
        clock.t = job.run_at
    await worker.run_due()
    [job] = await jobs_of(store)
    assert job.state == "failed" and "gave up after 4 attempts" in job.last_error
    assert [outcome for _, _, _, outcome, _ in await attempts_of(store.db, job.id)] == [
        "retry"
    ] * 3 + ["failed"]
    assert len(calls) == 4


async def test_a_permanent_failure_is_not_retried(store):
    async def refused(job):
        raise Failure("recipient refused")

    await enqueue_job(store.db, NewJob("mail", {}))
    await Worker(store, {"mail": refused}, Clock(2e9)).run_due()
    [job] = await jobs_of(store)
    assert job.state == "failed" and job.last_error == "recipient refused"


async def test_a_bug_in_a_handler_is_retried_and_the_worker_goes_on(store, caplog):
    async def buggy(job):
        raise KeyError("oops")

    async def fine(job):
        return Outcome("done", "ok")

    await enqueue_job(store.db, NewJob("buggy", {}))
    await enqueue_job(store.db, NewJob("fine", {}))
    await Worker(store, {"buggy": buggy, "fine": fine}, Clock(2e9)).run_due()
    states = {job.kind: job.state for job in await jobs_of(store)}
    assert states == {"buggy": "pending", "fine": "done"}
    assert "job" in caplog.text and "KeyError" in caplog.text


async def test_a_job_of_an_unknown_kind_fails_with_a_reason(store):
    await enqueue_job(store.db, NewJob("teleport", {}))
    await Worker(store, {}, Clock(2e9)).run_due()
    [job] = await jobs_of(store)
    assert job.state == "failed" and "teleport" in job.last_error


async def test_follow_ups_are_queued_with_the_finish(store):
    async def first(job):
        return Outcome("done", "step one", follow_ups=(NewJob("second", {"n": 2}),))

    await enqueue_job(store.db, NewJob("first", {"n": 1}))
    await Worker(store, {"first": first}, Clock(2e9)).run_due()
    pending = await jobs_of(store, states=("pending",))
    assert [(job.kind, job.payload) for job in pending] == [("second", {"n": 2})]


async def test_a_job_interrupted_by_a_dying_process_runs_again_after_restart(tmp_path, store_url):
    first = await open_store(tmp_path / "other", retention_days=93, url=store_url)
    await enqueue_job(first.db, NewJob("email", {"n": 1}))
    [claimed] = await claim_due(first.db, 2e9, 10)  # the process dies while running it
    assert claimed.state == "running"
    await first.db.close()
    reopened = await open_store(tmp_path / "other", retention_days=93, url=store_url)
    try:
        assert await recover_interrupted(reopened.db, 2e9) == 1
        ran = []

        async def email(job):
            ran.append(job.attempts)
            return Outcome("done")

        await Worker(reopened, {"email": email}, Clock(2e9)).run_due()
        assert ran == [2]
        [job] = await jobs_of(reopened)
        assert [outcome for _, _, _, outcome, _ in await attempts_of(reopened.db, job.id)] == [
            "interrupted",
            "done",
        ]
    finally:
        await reopened.db.close()


async def test_retry_failed_makes_them_due_again(store):
    async def refused(job):
        raise Failure("no")

    await enqueue_job(store.db, NewJob("mail", {}))
    await Worker(store, {"mail": refused}, Clock(2e9)).run_due()
    assert await retry_failed(store.db, None, 3e9) == 1
    [job] = await jobs_of(store)
    assert job.state == "pending" and job.run_at == 3e9


@pytest.mark.parametrize(
    "settings, folder",
    [
        ({}, "new"),
        ({"delete_after_notify": True}, "deleted"),
        ({"save_after_notify": True}, "saved"),
        ({"save_after_notify": True, "delete_after_notify": True}, "saved"),
    ],
)
async def test_after_notify_moves_the_message_as_the_box_says(
    store, account, box, tmp_path, settings, folder
):
    await patch_vmbox(store.db, account, box.id, settings)
    message = await a_message(store, account, box, tmp_path)
    await enqueue_job(
        store.db,
        NewJob(
            "message.after_notify",
            {"account_id": account, "box_id": box.id, "message_id": message.id},
        ),
    )
    await Worker(
        store, {"message.after_notify": dispatcher(store).after_notify}, Clock(2e9)
    ).run_due()
    row = await store.db.fetch_one("SELECT folder FROM messages WHERE id = ?", (message.id,))
    assert row[0] == folder


async def test_lamps_are_marked_once_per_box_whatever_the_burst(store, account, box, tmp_path):
    messages = [await a_message(store, account, box, tmp_path) for _ in range(5)]
    [lamp] = await lamps_to_update(store.db)
    assert (lamp.box_id, lamp.mailbox, lamp.deleted) == (box.id, "3000", False)
    await lamp_updated(store.db, lamp)
    assert await lamps_to_update(store.db) == []
    await change_folder(store, account, box.id, [m.id for m in messages], "saved")
    [lamp] = await lamps_to_update(store.db)
    assert lamp.changes == 5  # five rows changed in one transaction: still one lamp to refresh
    await a_message(store, account, box, tmp_path)  # changes again before the refresh is recorded
    await lamp_updated(store.db, lamp)
    assert len(await lamps_to_update(store.db)) == 1  # so it is refreshed once more


async def test_messages_past_retention_mark_their_box_s_lamp_when_they_expire(
    store, account, box, tmp_path
):
    from store.retention import expire_messages

    message = await create_message(
        store, account, box.id, {"caller_id_number": "1001", "timestamp": store.cutoff() + 60}
    )
    [lamp] = await lamps_to_update(store.db)
    await lamp_updated(store.db, lamp)
    assert await expire_messages(store) == 0 and await lamps_to_update(store.db) == []
    later = dataclasses.replace(
        store, retention_s=store.retention_s - 120
    )  # the store, two minutes on
    assert await expire_messages(later) == 1
    [lamp] = await lamps_to_update(store.db)
    assert (lamp.box_id, lamp.deleted) == (box.id, False), message.id


async def test_a_deleted_box_is_marked_for_its_lamp_to_be_cleared(store, account, box, tmp_path):
    from store.vmboxes import delete_vmbox

    await a_message(store, account, box, tmp_path)
    await delete_vmbox(store, account, box.id)
    [lamp] = await lamps_to_update(store.db)
    assert lamp.deleted and lamp.mailbox == "3000"


async def test_vmbox_jobs_lists_and_retries(tmp_path, store, store_url):
    import subprocess
    import sys

    async def refused(job):
        raise Failure("550 no such user")

    await enqueue_job(store.db, NewJob("email.new_message", {"x": 1}))
    await Worker(store, {"email.new_message": refused}, Clock(2e9)).run_due()
    env = {"VMBOX_STORE_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    if store_url:
        env["VMBOX_STORE_URL"] = store_url
    listed = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "ivr.cli", "jobs"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert (
        listed.returncode == 0
        and "email.new_message" in listed.stdout
        and "550 no such user" in listed.stdout
    )
    retried = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "ivr.cli", "jobs", "retry", "--all-failed"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert retried.returncode == 0 and "1 failed job(s) queued again" in retried.stdout
    [job] = await jobs_of(store)
    assert job.state == "pending"
    assert json.loads(json.dumps(job.payload)) == {"x": 1}


async def test_a_failing_store_pauses_the_worker_instead_of_ending_it(tmp_path, caplog, store_url):
    store = await open_store(tmp_path / "data", retention_days=93, url=store_url)
    clock = TestClock()
    running = asyncio.create_task(Worker(store, {}, clock).run())
    try:
        await clock.sleeping(IDLE_POLL_S)  # idle, nothing to do
        await store.db.close()  # the store fails from now on
        clock.advance(IDLE_POLL_S)
        await clock.sleeping(STORE_RETRY_S)
        assert not running.done()
        assert "the job worker could not use the store; trying again in 30 s" in caplog.text
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def test_a_notification_task_that_dies_says_so_at_once(caplog):
    async def lamps():
        raise RuntimeError("lost the plot")

    task = asyncio.create_task(lamps(), name="LampRefresher.run")
    task.add_done_callback(_report_death)
    with pytest.raises(RuntimeError):
        await task  # resumed after the callback: the report is already out
    [record] = [r for r in caplog.records if r.levelname == "CRITICAL"]
    assert (
        record.getMessage()
        == "LampRefresher.run stopped: no more notifications until vmbox restarts"
    )
    assert "lost the plot" in caplog.text


async def test_a_slot_is_taken_again_as_soon_as_its_job_ends_not_after_the_whole_batch(
    tmp_path, store_url
):
    """Two slots, three jobs: `slow` holds its slot; `quick` ends, and `next` runs in its slot while
    `slow` still runs (batch by batch, `next` would wait for `slow`)."""
    store = await open_store(tmp_path / "data", retention_days=93, url=store_url)
    release_slow, next_ran = asyncio.Event(), asyncio.Event()

    async def slow(job):
        await release_slow.wait()
        return Outcome("done", "slow")

    async def quick(job):
        return Outcome("done", "quick")

    async def then(job):
        next_ran.set()
        return Outcome("done", "next")

    for kind in ("slow", "quick"):
        await enqueue_job(store.db, NewJob(kind, {}))
    worker = Worker(store, {"slow": slow, "quick": quick, "next": then}, TestClock(), concurrency=2)
    running = asyncio.create_task(worker.run())
    try:
        await enqueue_job(store.db, NewJob("next", {}))
        async with asyncio.timeout(10):  # a guard: the event comes at once, or never
            await next_ran.wait()
        assert not release_slow.is_set()
        [slow_job] = await jobs_of(store, "slow")
        assert slow_job.state == "running"
    finally:
        release_slow.set()
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await store.db.close()
