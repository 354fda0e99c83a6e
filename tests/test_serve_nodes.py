"""Two real `vmbox serve` nodes on one real PostgreSQL (README "Several nodes"): calls to both, seen by
the API of either; a node killed with SIGKILL in the middle of an email, whose job the other takes over
once its lease runs out: exactly one email."""

import asyncio
import re
import shutil
import signal

import aiohttp
import pytest

from store.core import open_store
from store.jobs import attempts_of, list_jobs
from tests.servekit import Serve
from tests.test_notify_serve import a_box_with_email, leave_a_message, mailing_settings

LEASE_S = 2
EMAIL_DONE = re.compile(r"job (\d+) \(email\.new_message\) attempt 2: done")


@pytest.fixture
async def nodes(postgres, tmp_path, mail, changes):
    url = await postgres.new_database()
    settings = mailing_settings(mail.port) | {
        "VMBOX_STORE_URL": url,
        "VMBOX_JOBS_LEASE_S": str(LEASE_S),
    }
    first = Serve(tmp_path / "a" / "data", settings, changes)
    second = Serve(tmp_path / "b" / "data", settings, changes)
    yield first, second, url
    for node in (first, second):
        if node.process is not None and node.process.returncode is None:
            await node.stop(signal.SIGKILL)


async def start_second(first: Serve, second: Serve) -> None:
    """The second node, with the first's PIN key and its account's credentials."""
    (second.cwd / "data").mkdir(parents=True, exist_ok=True)
    shutil.copy2(first.cwd / "data" / "pin.key", second.cwd / "data" / "pin.key")
    await second.start()
    second.credentials = first.credentials


async def test_calls_to_either_node_are_listed_and_played_by_both(nodes):
    first, second, _ = nodes
    await first.start()
    box = await a_box_with_email(first)
    await start_second(first, second)
    await leave_a_message(first)
    await leave_a_message(second)
    async with aiohttp.ClientSession() as session:
        for node in (first, second):
            client = await node.api(session)
            listed = (await client.get(f"/vmboxes/{box['id']}/messages")).data
            assert len(listed) == 2
            for message in listed:  # each node serves the audio the other stored
                raw = await client.get(f"/vmboxes/{box['id']}/messages/{message['media_id']}/raw")
                assert raw.status == 200 and len(raw.body) > 1000


async def test_a_node_killed_mid_email_leaves_its_job_to_the_other_and_one_email_goes(
    nodes, mail, changes
):
    first, second, url = nodes
    await first.start()
    await a_box_with_email(first)
    mail.handler.hold_first_rcpt = asyncio.Event()  # the first node's session stalls at RCPT
    await leave_a_message(first)
    await changes.until(lambda: mail.handler.held.is_set())
    assert await first.stop(signal.SIGKILL) == -signal.SIGKILL
    await start_second(first, second)
    await second.until_printed(EMAIL_DONE)  # once the dead node's lease ran out
    received = await mail.wait_for(1)
    store = await open_store(first.cwd / "check", 93, url=url)
    try:
        everything = await list_jobs(store.db, ("pending", "running", "done", "failed"))
        [job] = [job for job in everything if job.kind == "email.new_message"]
        attempts = await attempts_of(store.db, job.id)
    finally:
        await store.db.close()
    assert job.state == "done"
    assert [outcome for _, _, _, outcome, _ in attempts] == ["interrupted", "done"]
    assert len(received) == 1 and received[0].rcpt_tos == ["ann@example.com"]
