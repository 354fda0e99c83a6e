"""Callback calls and message-waiting lamps against a fake Asterisk speaking real AMI on loopback
(tests/amikit.py), with the real store, the real job worker and panoramisk, on a clock only the tests
move: hours of schedules run without waiting, and nothing waits but for real I/O and commits."""

import asyncio
import logging
from dataclasses import replace
from pathlib import Path

import pytest

from ivr import channel_vars
from ivr.agi.connection import parse_request
from ivr.agi.driver import call_info
from ivr.config import AmiSettings, ConfigError, Settings, StoreSettings
from ivr.notify.ami import (
    ANSWERED,
    BUSY,
    CONGESTION,
    NO_ANSWER,
    AmiDown,
    AmiLamps,
    AmiLink,
    CallbackNotifier,
)
from ivr.notify.dispatch import Dispatcher
from ivr.notify.lamps import LampRefresher
from ivr.notify.setup import notifications
from ivr.notify.worker import Worker
from store.accounts import create_account
from store.core import open_store
from store.jobs import attempts_of, list_jobs
from store.message_changes import change_folder
from store.messages import announce, create_message
from store.vmboxes import create_vmbox, delete_vmbox
from tests.amikit import FakeAsterisk, TestClock
from tests.test_prompts import _expand, dialplan, entry_points

ROOT = Path(__file__).resolve().parent.parent
AMI = AmiSettings(host="127.0.0.1", username="vmbox", secret="s3cret")
EVERY_STATE = ("pending", "running", "done", "failed")


class Vmbox:
    """vmbox's notification side over one data directory, wired as `vmbox serve` wires it: the store, the
    AMI link, the callback notifier and the lamp refresher, on the real job worker."""

    def __init__(
        self, data_dir: Path, settings: AmiSettings, clock: TestClock, store_url: str | None
    ):
        self.data_dir, self.settings, self.clock = data_dir, settings, clock
        self.store_url = store_url
        self.tasks: list[asyncio.Task] = []

    async def open(self) -> None:
        self.store = await open_store(self.data_dir, retention_days=93, url=self.store_url)
        self.committed = asyncio.Event()
        self.store.db.on_commit(self.committed.set)

    async def start(self) -> None:
        """Connect to Asterisk, then run the worker and the lamps (as after `vmbox serve` starts)."""
        self.link = AmiLink(self.settings, self.clock)
        dispatcher = Dispatcher(self.store, email=False, transcription=False, callbacks=True)
        notifier = CallbackNotifier(self.store, self.link, self.settings, self.clock)
        worker = Worker(
            self.store,
            {"message.new": dispatcher.message_new, "callback": notifier.attempt},
            self.clock,
        )
        lamps = LampRefresher(
            self.store, AmiLamps(self.link), self.settings.mwi_context, self.clock
        )
        self.tasks = [asyncio.create_task(self.link.run())]
        await asyncio.wait_for(self.link.wait_up(), 10)
        self.tasks += [asyncio.create_task(worker.run()), asyncio.create_task(lamps.run())]

    async def stop(self) -> None:
        """Stop as a killed process would, as far as jobs go: whatever runs is left unfinished. The
        worker (and its jobs) stop before the AMI link: a job must not see the link drop and finish
        as it would then (rescheduled), which a killed process never does."""
        link, others = self.tasks[:1], self.tasks[1:]
        for group in (others, link):
            for task in group:
                task.cancel()
            await asyncio.gather(*group, return_exceptions=True)
        self.tasks = []
        if hasattr(self, "link"):
            await self.link.close()
        await self.store.db.close()

    async def restart(self) -> None:
        await self.stop()
        await self.open()
        await self.start()

    async def box(self, mailbox: str, callback: dict | None = None, account: str | None = None):
        if account is None:
            account = (await create_account(self.store.db, "A"))[0].id
        doc = {"name": f"Box {mailbox}", "mailbox": mailbox}
        if callback:
            doc["notify"] = {"callback": callback}
        return await create_vmbox(self.store.db, account, doc)

    async def deposit(self, box, folder: str = "new", announced: bool = True) -> str:
        """A message left in `box`, with the notifications a deposit queues."""
        message = await create_message(
            self.store, box.account_id, box.id, {"caller_id_number": "5550100", "folder": folder}
        )
        if announced:
            async with self.store.db.transaction() as tx:
                await announce(tx, box.account_id, box.id, message.id)
        return message.id

    async def settled(self, check, timeout: float = 10):
        """Wait, on the store's commits (never by polling), until `await check()` is truthy; return it."""

        async def until():
            while True:
                self.committed.clear()
                if result := await check():
                    return result
                await self.committed.wait()

        return await asyncio.wait_for(until(), timeout)

    async def jobs(self, kind: str):
        return [job for job in await list_jobs(self.store.db, EVERY_STATE) if job.kind == kind]

    async def series(self, state: str, attempt: int | None = None, runs: int | None = None):
        """The callback job once it is in `state` (with `attempt` next, after `runs` runs of the job)."""

        async def found():
            return next(
                (
                    job
                    for job in await self.jobs("callback")
                    if job.state == state
                    and (attempt is None or job.payload["attempt"] == attempt)
                    and (runs is None or job.attempts == runs)
                ),
                None,
            )

        return await self.settled(found)

    async def outcomes(self, job) -> list[tuple[str, str]]:
        return [
            (outcome, detail)
            for _, _, _, outcome, detail in await attempts_of(self.store.db, job.id)
        ]

    async def lamps_settled(self) -> None:
        async def empty():
            return not await self.store.db.fetch_all("SELECT box_id FROM mwi_pending")

        await self.settled(empty)


@pytest.fixture
def clock():
    return TestClock()


@pytest.fixture
async def asterisk(clock):
    fake = FakeAsterisk(clock)
    await fake.start()
    yield fake
    await fake.stop()
    assert not fake.unexpected, fake.unexpected


@pytest.fixture
async def vmbox(tmp_path, clock, asterisk, store_url):
    running = Vmbox(tmp_path / "data", replace(AMI, port=asterisk.port), clock, store_url)
    await running.open()
    yield running
    await running.stop()


# Callback calls.


async def test_a_schedule_sets_when_each_attempt_rings(vmbox, asterisk, clock):
    box = await vmbox.box("1001", {"number": "2001", "schedule": [0, 60, 600], "timeout_s": 25})
    asterisk.originate_outcomes = [NO_ANSWER, BUSY, CONGESTION]
    await vmbox.start()
    start = clock.now()
    await vmbox.deposit(box)
    await asterisk.wait_for("Originate", 1)
    assert (await vmbox.series("pending", attempt=1)).run_at == start + 60
    clock.advance(60)
    await asterisk.wait_for("Originate", 2)
    assert (await vmbox.series("pending", attempt=2)).run_at == start + 660
    clock.advance(600)
    calls = await asterisk.wait_for("Originate", 3)
    job = await vmbox.series("done")
    assert [call.at for call in calls] == [start, start + 60, start + 660]
    assert [call["Timeout"] for call in calls] == ["25000"] * 3
    outcomes = await vmbox.outcomes(job)
    assert [outcome for outcome, _ in outcomes] == ["rescheduled", "rescheduled", "done"]
    assert "busy (reason 5)" in outcomes[1][1]
    assert "congestion (reason 8); no attempts left" in outcomes[2][1]


async def test_attempts_ring_every_interval_and_the_call_lands_in_the_callback_context(
    vmbox, asterisk, clock
):
    box = await vmbox.box("1001", {"number": "(555) 010-2001", "attempts": 3, "interval_s": 120})
    asterisk.originate_outcomes = [NO_ANSWER] * 3
    await vmbox.start()
    start = clock.now()
    await vmbox.deposit(box)
    waiting = await vmbox.series(
        "pending", attempt=0, runs=1
    )  # the first attempt waits its interval too
    assert (waiting.run_at, waiting.payload["due"]) == (start + 120, start + 120)
    assert asterisk.seen("Originate") == []
    for attempt in range(3):
        clock.advance(120)
        await vmbox.series(
            "done" if attempt == 2 else "pending", attempt=min(attempt + 1, 2), runs=attempt + 2
        )
    calls = asterisk.seen("Originate")
    assert [call.at for call in calls] == [start + 120, start + 240, start + 360]
    assert calls[0].headers == calls[0].headers | {
        "channel": ["Local/5550102001@vmbox-dial"],
        "context": ["vmbox-callback"],
        "exten": ["1001"],
        "priority": ["1"],
        "timeout": ["20000"],
        "callerid": ['"Voicemail" <1001>'],
        "async": ["true"],
        "variable": [f"{channel_vars.ACCOUNT}={box.account_id}"],
    }


async def test_without_timing_five_attempts_ring_300_s_apart_for_20_s(vmbox, asterisk, clock):
    box = await vmbox.box("1001", {"number": "2001"})
    asterisk.originate_outcomes = [0, 1, NO_ANSWER, BUSY, CONGESTION]
    await vmbox.start()
    start = clock.now()
    await vmbox.deposit(box)
    await vmbox.series("pending", attempt=0, runs=1)
    for attempt in range(5):
        clock.advance(300)
        job = await vmbox.series(
            "done" if attempt == 4 else "pending", attempt=min(attempt + 1, 4), runs=attempt + 2
        )
    calls = asterisk.seen("Originate")
    assert [call.at - start for call in calls] == [300, 600, 900, 1200, 1500]
    assert {call["Timeout"] for call in calls} == {"20000"}
    assert (
        "attempt 5 of 5 to 2001: congestion (reason 8); no attempts left"
        in (await vmbox.outcomes(job))[-1][1]
    )


async def test_an_answered_call_ends_the_series(vmbox, asterisk, clock):
    box = await vmbox.box("1001", {"number": "2001", "schedule": [0, 60, 60]})
    asterisk.originate_outcomes = [NO_ANSWER, ANSWERED]
    await vmbox.start()
    await vmbox.deposit(box)
    await vmbox.series("pending", attempt=1)
    clock.advance(60)
    job = await vmbox.series("done")
    assert len(asterisk.seen("Originate")) == 2
    assert (await vmbox.outcomes(job))[-1] == ("done", "attempt 2 of 3 to 2001: answered")
    assert [job.state for job in await vmbox.jobs("callback")] == ["done"]


async def test_the_series_stops_when_no_new_message_is_left(vmbox, asterisk, clock):
    box = await vmbox.box("1001", {"number": "2001", "schedule": [0, 60]})
    asterisk.originate_outcomes = [NO_ANSWER]
    await vmbox.start()
    message_id = await vmbox.deposit(box)
    await vmbox.series("pending", attempt=1)
    await change_folder(vmbox.store, box.account_id, box.id, [message_id], "saved")
    clock.advance(60)
    job = await vmbox.series("done")
    assert (await vmbox.outcomes(job))[-1] == ("done", "no new messages left")
    assert len(asterisk.seen("Originate")) == 1


async def test_a_message_left_during_a_series_does_not_start_another(vmbox, asterisk, clock):
    box = await vmbox.box("1001", {"number": "2001", "schedule": [0, 60]})
    asterisk.originate_outcomes = [NO_ANSWER, ANSWERED]
    await vmbox.start()
    await vmbox.deposit(box)
    first = await vmbox.series("pending", attempt=1)
    await vmbox.deposit(box)

    async def both_dispatched():
        jobs = await vmbox.jobs("message.new")
        return len(jobs) == 2 and all(job.state == "done" for job in jobs)

    await vmbox.settled(both_dispatched)
    assert [(job.id, job.state, job.run_at) for job in await vmbox.jobs("callback")] == [
        (first.id, "pending", first.run_at)
    ]
    clock.advance(60)
    await vmbox.series("done")
    assert len(asterisk.seen("Originate")) == 2


async def test_a_dropped_ami_connection_postpones_the_attempt_without_using_it_up(
    vmbox, asterisk, clock
):
    box = await vmbox.box("1001", {"number": "2001", "schedule": [0, 60]})
    asterisk.originate_outcomes = ["drop", ANSWERED]
    await vmbox.start()
    start = clock.now()
    await vmbox.deposit(box)
    waiting = await vmbox.series("pending", attempt=0, runs=1)
    assert waiting.run_at == start + 30
    await clock.sleeping(1)  # the link backs off before reconnecting
    clock.advance(1)
    await asyncio.wait_for(vmbox.link.wait_up(), 10)
    clock.advance(29)
    job = await vmbox.series("done")
    calls = asterisk.seen("Originate")
    assert [call.at for call in calls] == [start, start + 30]
    outcomes = await vmbox.outcomes(job)
    assert [outcome for outcome, _ in outcomes] == ["rescheduled", "done"]
    assert "attempt 1 of 2 to 2001 waits for Asterisk" in outcomes[0][1]
    assert outcomes[1] == ("done", "attempt 1 of 2 to 2001: answered")


async def test_a_series_goes_on_after_a_restart(vmbox, asterisk, clock):
    box = await vmbox.box("1001", {"number": "2001", "schedule": [0, 60]})
    asterisk.originate_outcomes = [NO_ANSWER, ANSWERED]
    await vmbox.start()
    start = clock.now()
    await vmbox.deposit(box)
    before = await vmbox.series("pending", attempt=1)
    await vmbox.restart()
    clock.advance(60)
    after = await vmbox.series("done")
    assert after.id == before.id
    assert [call.at for call in asterisk.seen("Originate")] == [start, start + 60]


async def test_an_attempt_cut_short_by_a_crash_rings_again_after_restart(vmbox, asterisk, clock):
    box = await vmbox.box("1001", {"number": "2001", "schedule": [0, 60]})
    asterisk.originate_outcomes = ["hold", NO_ANSWER]
    await vmbox.start()
    await vmbox.deposit(box)
    await asterisk.wait_for("Originate", 1)
    assert (await vmbox.series("running")).payload["attempt"] == 0
    await vmbox.restart()
    job = await vmbox.series("pending", attempt=1)
    assert len(await asterisk.wait_for("Originate", 2)) == 2
    assert [outcome for outcome, _ in await vmbox.outcomes(job)] == ["interrupted", "rescheduled"]


async def test_an_originate_asterisk_refuses_is_retried_with_backoff(vmbox, asterisk, clock):
    box = await vmbox.box("1001", {"number": "2001", "schedule": [0, 60]})
    asterisk.originate_outcomes = ["refuse"]
    await vmbox.start()
    start = clock.now()
    await vmbox.deposit(box)
    job = await vmbox.settled(lambda: _retrying(vmbox))
    assert job.payload["attempt"] == 0 and job.run_at == start + 30
    assert "Asterisk refused Originate: Permission denied" in job.last_error


async def _retrying(vmbox):
    return next(
        (job for job in await vmbox.jobs("callback") if job.last_error and job.state == "pending"),
        None,
    )


async def test_an_undialable_number_fails_the_series(vmbox, asterisk):
    box = await vmbox.box("1001", {"number": "2001@elsewhere", "schedule": [0]})
    await vmbox.start()
    await vmbox.deposit(box)
    job = await vmbox.series("failed")
    assert "not dialable" in job.last_error and asterisk.seen("Originate") == []


def test_a_callback_channel_without_a_valid_template_is_a_config_error():
    with pytest.raises(ConfigError, match="callback_channel"):
        CallbackNotifier(
            None, None, replace(AMI, callback_channel="Local/{num}@vmbox-dial"), TestClock()
        )


async def test_a_wrong_secret_keeps_the_link_down_and_says_why(asterisk, clock, caplog):
    link = AmiLink(replace(AMI, port=asterisk.port, secret="wrong"), clock)
    running = asyncio.create_task(link.run())
    try:
        with caplog.at_level(logging.WARNING, "ivr.notify.ami"):
            await asterisk.wait_for("Login", 1)
            await clock.sleeping(1)
        assert not link.connected
        assert "Authentication failed" in caplog.text
        with pytest.raises(AmiDown):
            await link.originate("Local/2001@vmbox-dial", "vmbox-callback", "1001", 20000, "", {})
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await link.close()


# Message-waiting lamps.


def counts(updates) -> dict[str, tuple[str, str]]:
    return {update["Mailbox"]: (update["NewMessages"], update["OldMessages"]) for update in updates}


async def test_every_lamp_is_refreshed_at_start(vmbox, asterisk):
    first = await vmbox.box("1001")
    await vmbox.box("1002", account=first.account_id)
    third = await vmbox.box("1003", account=first.account_id)
    for folder in ("new", "new", "saved"):
        await vmbox.deposit(first, folder, announced=False)
    await vmbox.deposit(third, announced=False)
    await vmbox.start()
    updates = await asterisk.wait_for("MWIUpdate", 3)
    await vmbox.lamps_settled()
    assert len(asterisk.seen("MWIUpdate")) == 3
    assert counts(updates) == {
        "1001@vmbox": ("2", "1"),
        "1002@vmbox": ("0", "0"),
        "1003@vmbox": ("1", "0"),
    }


async def test_a_deposit_sends_one_update_with_the_new_counts(vmbox, asterisk):
    box = await vmbox.box("1001")
    await vmbox.deposit(box, "saved", announced=False)
    await vmbox.start()
    await asterisk.wait_for("MWIUpdate", 1)
    await vmbox.lamps_settled()
    await vmbox.deposit(box)
    updates = await asterisk.wait_for("MWIUpdate", 2)
    await vmbox.lamps_settled()
    assert len(asterisk.seen("MWIUpdate")) == 2
    assert counts(updates[1:]) == {"1001@vmbox": ("1", "1")}


async def test_a_bulk_change_of_500_messages_sends_one_update(vmbox, asterisk):
    box = await vmbox.box("1001")
    ids = [await vmbox.deposit(box, announced=False) for _ in range(500)]
    await vmbox.start()
    assert counts(await asterisk.wait_for("MWIUpdate", 1)) == {"1001@vmbox": ("500", "0")}
    await vmbox.lamps_settled()
    outcome = await change_folder(vmbox.store, box.account_id, box.id, ids, "saved")
    assert len(outcome.succeeded) == 500
    updates = await asterisk.wait_for("MWIUpdate", 2)
    await vmbox.lamps_settled()
    assert len(asterisk.seen("MWIUpdate")) == 2
    assert counts(updates[1:]) == {"1001@vmbox": ("0", "500")}


async def test_a_deleted_box_has_its_lamp_deleted(vmbox, asterisk):
    box = await vmbox.box("1001")
    await vmbox.deposit(box, announced=False)
    await vmbox.start()
    await asterisk.wait_for("MWIUpdate", 1)
    await vmbox.lamps_settled()
    await delete_vmbox(vmbox.store, box.account_id, box.id)
    deletes = await asterisk.wait_for("MWIDelete", 1)
    await vmbox.lamps_settled()
    assert [delete["Mailbox"] for delete in deletes] == ["1001@vmbox"]
    assert len(asterisk.seen("MWIUpdate")) == 1


async def test_a_box_taking_a_deleted_box_s_mailbox_keeps_the_lamp(vmbox, asterisk, clock):
    old = await vmbox.box("1001")
    await vmbox.deposit(old, announced=False)
    await vmbox.start()
    await asterisk.wait_for("MWIUpdate", 1)
    await vmbox.lamps_settled()
    await asterisk.stop()  # both changes wait for AMI together
    await clock.sleeping(1)
    await delete_vmbox(vmbox.store, old.account_id, old.id)
    new = await vmbox.box("1001", account=old.account_id)
    await vmbox.deposit(new, "saved")
    await asterisk.start()
    clock.advance(1)
    await asterisk.wait_for("MWIUpdate", 2)
    await vmbox.lamps_settled()
    assert asterisk.seen("MWIDelete") == []
    assert counts(asterisk.seen("MWIUpdate")[1:]) == {"1001@vmbox": ("0", "1")}


async def test_lamps_changed_while_ami_is_down_are_sent_when_it_is_back(vmbox, asterisk, clock):
    box = await vmbox.box("1001")
    await vmbox.start()
    await asterisk.wait_for("MWIUpdate", 1)
    await vmbox.lamps_settled()
    await asterisk.stop()
    await clock.sleeping(1)  # the link, down, backs off
    await vmbox.deposit(box)
    assert len(asterisk.seen("MWIUpdate")) == 1
    await asterisk.start()
    clock.advance(1)
    updates = await asterisk.wait_for("MWIUpdate", 2)
    await vmbox.lamps_settled()
    assert counts(updates[1:]) == {"1001@vmbox": ("1", "0")}
    assert len(asterisk.seen("Login")) == 2


# The fake itself, and the wiring and dialplan.


async def test_the_fake_fails_an_originate_without_async(asterisk):
    reader, writer = await asyncio.open_connection("127.0.0.1", asterisk.port)
    try:
        assert (await reader.readuntil(b"\r\n")).startswith(b"Asterisk Call Manager/")
        writer.write(b"Action: Login\r\nActionID: 1\r\nUsername: vmbox\r\nSecret: s3cret\r\n\r\n")
        assert b"Message: Authentication accepted" in await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"Action: Originate\r\nActionID: 2\r\nChannel: Local/2001@vmbox-dial\r\nContext: vmbox-callback"
            b"\r\nExten: 1001\r\nPriority: 1\r\n\r\n"
        )
        assert await reader.read() == b""  # the fake hangs up on it ...
        assert "Originate without Async" in asterisk.unexpected[0]  # ... and fails the test
    finally:
        writer.close()
        asterisk.unexpected.clear()


async def test_vmbox_serve_s_wiring_calls_back_and_lights_the_lamp(tmp_path, asterisk, clock):
    settings = Settings(
        store=StoreSettings(data_dir=str(tmp_path / "data")), ami=replace(AMI, port=asterisk.port)
    )
    store = await open_store(settings.data_dir, 93)
    try:
        box = await create_vmbox(
            store.db,
            (await create_account(store.db, "A"))[0].id,
            {
                "name": "Ann",
                "mailbox": "1001",
                "notify": {"callback": {"number": "2001", "schedule": [0]}},
            },
        )
        asterisk.originate_outcomes = [ANSWERED]
        async with notifications(store, settings, clock):
            await asterisk.wait_for("MWIUpdate", 1)  # logged in: the lamps were refreshed
            message = await create_message(
                store, box.account_id, box.id, {"caller_id_number": "5550100"}
            )
            async with store.db.transaction() as tx:
                await announce(tx, box.account_id, box.id, message.id)
            (call,) = await asterisk.wait_for("Originate", 1)
            updates = await asterisk.wait_for("MWIUpdate", 2)
        assert (call["Channel"], call["Exten"]) == ("Local/2001@vmbox-dial", "1001")
        assert counts(updates[1:]) == {"1001@vmbox": ("1", "0")}
    finally:
        await store.db.close()


def test_the_dialplan_takes_the_call_vmbox_originates():
    settings = AmiSettings()
    contexts = dialplan()
    assert settings.callback_context in contexts
    assert settings.callback_channel.partition("@")[2] in contexts
    ((_, _, lines),) = [entry for entry in entry_points() if entry[0] == settings.callback_context]
    agi = next(line for line in lines if "AGI(" in line)
    account = "0123456789abcdef0123456789abcdef"
    expanded = _expand(
        agi.partition("AGI(")[2][:-1],
        {"EXTEN": "1001", "VMBOX_AGI": "agi://127.0.0.1:4573", channel_vars.ACCOUNT: account},
    )
    url, *arguments = expanded.split(",")
    request = parse_request(
        {
            "agi_network_script": url.split("/", 3)[3],
            "agi_uniqueid": "1.1",
            **{f"agi_arg_{n}": value for n, value in enumerate(arguments, 1)},
        }
    )
    assert request.parameters["account"] == account
    assert call_info(request).mailbox == "1001"


def test_the_ami_user_has_just_the_permissions_vmbox_needs():
    user = {}
    section = None
    for line in (ROOT / "asterisk_conf" / "manager_vmbox.conf").read_text().splitlines():
        line = line.split(";", 1)[0].strip()
        if line.startswith("["):
            section = line.strip("[]")
        elif line and section == AMI.username:
            key, _, value = line.partition("=")
            user.setdefault(key.strip(), []).append(value.strip())
    assert user["read"] == ["call"]  # OriginateResponse is a call event
    assert set(user["write"][0].split(",")) == {
        "originate",
        "call",
    }  # Originate; MWIUpdate and MWIDelete
    assert user["permit"] == ["127.0.0.1/255.255.255.255"] and user["deny"] == ["0.0.0.0/0.0.0.0"]
