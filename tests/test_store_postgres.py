"""What only the PostgreSQL store has: its placeholders, its json_set, its migrations, a database that
cannot be reached, and several nodes (stores with their own data directories) on one database.

Everything else the store does is tested on both stores by the suite itself (tests/conftest.py's
`store_url`)."""

import asyncio
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from ivr.flow.actions import SaveMessage
from ivr.flow.events import Done
from ivr.flow.model import CallInfo, Purpose, Recording
from ivr.notify.worker import Worker
from ivr.recordings import SETTLE_S, Journal, recover
from ivr.services import CallServices
from store.accounts import create_account, create_first_account, create_token, token_info
from store.api.app import make_app
from store.api.options import ApiOptions
from store.core import ORPHAN_AGE_S, open_store, remove_unreferenced_audio
from store.errors import SchemaTooNew, StoreUnreachable
from store.jobs import (
    LAMP_CLAIM_S,
    NewJob,
    Outcome,
    attempts_of,
    claim_due,
    enqueue_job,
    finish,
    lamp_updated,
    lamps_to_update,
    list_jobs,
    recover_interrupted,
    renew_leases,
)
from store.message_changes import change_folder
from store.messages import create_message
from store.pg_schema import MIGRATIONS
from store.pin_logins import LockoutPolicy, PinLogin, log_in_with_pin
from store.postgres import AUDIO_PART, placeholders
from store.vmboxes import create_vmbox, folder_counts, get_vmbox
from tests.pgkit import PostgresServer

T0 = 1_700_000_000


def test_question_marks_are_numbered_outside_quotes_only():
    assert placeholders("SELECT '?', \"a?\" FROM t WHERE a = ? AND b = ?::text[]") == (
        "SELECT '?', \"a?\" FROM t WHERE a = $1 AND b = $2::text[]",
        (),
    )


def test_named_parameters_keep_one_number_per_name_and_casts_stay():
    assert placeholders("WHERE a > :cutoff AND b = :account AND c < :cutoff AND d = e::text") == (
        "WHERE a > $1 AND b = $2 AND c < $1 AND d = e::text",
        ("cutoff", "account"),
    )


@pytest.fixture
async def pg_url(postgres) -> str:
    return await postgres.new_database(postgres.template)


@pytest.mark.parametrize(
    ("doc", "field", "value"),
    [
        ('{"a":1,"folder":"new","b":[1,2]}', "folder", '"saved"'),
        ('{"a":1}', "folder", '"deleted"'),
        ("{}", "transcription", '{"result":"success","text":"hé \\"quoted\\"\\n"}'),
        ('{"é":"ü","n":null,"x":{"y":[]}}', "n", "3.5"),
    ],
)
async def test_vmbox_json_set_writes_what_sqlite_s_json_set_writes(pg_url, doc, field, value):
    conn = await asyncpg.connect(pg_url)
    try:
        ours = await conn.fetchval("SELECT vmbox_json_set($1, $2, $3::json)", doc, field, value)
    finally:
        await conn.close()
    sqlite = sqlite3.connect(":memory:")
    (theirs,) = sqlite.execute(
        "SELECT json_set(?, ?, json(?))", (doc, f"$.{field}", value)
    ).fetchone()
    assert ours == theirs


async def test_a_new_database_gets_the_whole_schema_and_two_nodes_may_start_at_once(
    postgres, tmp_path
):
    url = await postgres.new_database()
    first, second = await asyncio.gather(
        open_store(tmp_path / "a", 93, url=url), open_store(tmp_path / "b", 93, url=url)
    )
    try:
        version = await first.db.fetch_one("SELECT version FROM vmbox_schema")
        assert tuple(version) == (len(MIGRATIONS),)
        assert await second.db.fetch_all("SELECT id FROM accounts") == []
    finally:
        await first.db.close()
        await second.db.close()


async def test_a_node_older_than_the_database_s_schema_refuses_to_start(pg_url, tmp_path):
    conn = await asyncpg.connect(pg_url)
    await conn.execute("UPDATE vmbox_schema SET version = $1", len(MIGRATIONS) + 1)
    await conn.close()
    with pytest.raises(SchemaTooNew, match="newer than this vmbox"):
        await open_store(tmp_path / "data", 93, url=pg_url)


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_an_unreachable_database_is_a_clear_error_without_its_password(tmp_path):
    url = f"postgresql://vmbox:hunter2@127.0.0.1:{_closed_port()}/vmbox"
    with pytest.raises(StoreUnreachable) as raised:
        await open_store(tmp_path / "data", 93, url=url)
    message = str(raised.value)
    assert "hunter2" not in message and "vmbox:********@127.0.0.1" in message
    assert "VMBOX_STORE_URL" in message


def test_the_cli_says_so_in_one_line_and_vmbox_config_hides_the_password(tmp_path):
    url = f"postgresql://vmbox:hunter2@127.0.0.1:{_closed_port()}/vmbox"
    env = {"VMBOX_STORE_URL": url, "VMBOX_STORE_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    listed = subprocess.run(
        [sys.executable, "-m", "ivr.cli", "account", "list"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert listed.returncode == 1 and "Traceback" not in listed.stderr
    assert "cannot reach the PostgreSQL store" in listed.stderr and "hunter2" not in listed.stderr
    shown = subprocess.run(
        [sys.executable, "-m", "ivr.cli", "config"], env=env, capture_output=True, text=True
    )
    assert shown.returncode == 0 and "hunter2" not in shown.stdout
    assert 'url = "postgresql://vmbox:********@127.0.0.1' in shown.stdout


def test_a_store_url_that_is_neither_sqlite_nor_postgresql_is_refused_at_load(tmp_path):
    env = {"VMBOX_STORE_URL": "mysql://x@y/z", "PATH": "/usr/bin:/bin"}
    shown = subprocess.run(
        [sys.executable, "-m", "ivr.cli", "config"], env=env, capture_output=True, text=True
    )
    assert shown.returncode == 2 and "store.url" in shown.stderr and "postgresql://" in shown.stderr


# Two nodes: two stores, each with its own data directory, on one database; the PIN key is the same
# file on both (README "Several nodes").


@pytest.fixture
async def nodes(pg_url, tmp_path):
    first = await open_store(tmp_path / "a", 93, url=pg_url)
    account, _ = await create_account(first.db, "A")
    box = await create_vmbox(
        first.db, account.id, {"name": "Ann", "mailbox": "3000", "pin": "1234"}
    )
    (tmp_path / "b").mkdir()
    shutil.copy2(tmp_path / "a" / "pin.key", tmp_path / "b" / "pin.key")
    second = await open_store(tmp_path / "b", 93, url=pg_url)
    yield first, second, account.id, box.id
    await first.db.close()
    await second.db.close()


async def test_what_one_node_writes_the_other_reads(nodes):
    first, second, account, box = nodes
    assert (await get_vmbox(second.db, account, box)).doc["name"] == "Ann"
    message = await create_message(first, account, box, {"caller_id_number": "6001"})
    from store.message_listing import MessageQuery, list_messages

    [(_, _, listed, entry)] = await list_messages(
        second.db, MessageQuery(account, box, limit=50), second.cutoff()
    )
    assert listed == message.id and json.loads(entry)["caller_id_number"] == "6001"
    token, _ = await create_token(first.db, account, 3600)
    assert (await token_info(second.db, token)).account_id == account


async def test_folder_changes_through_both_nodes_at_once_keep_the_counts_true(nodes):
    first, second, account, box = nodes
    made = [
        await create_message(first, account, box, {"caller_id_number": str(n)}) for n in range(12)
    ]
    changes = [
        change_folder(node, account, box, [message.id], folder)
        for n, message in enumerate(made)
        for node, folder in ((first, "saved"), (second, "new" if n % 3 else "deleted"))
    ]
    await asyncio.gather(*changes)
    rows = await second.db.fetch_all(
        "SELECT folder, count(*) FROM messages WHERE box_id = ? AND state = 'active' GROUP BY folder",
        (box,),
    )
    counted = {"new": 0, "saved": 0, "deleted": 0} | {folder: n for folder, n in rows}
    assert sum(counted.values()) == 12
    for node in (first, second):
        assert await folder_counts(node.db, box, node.cutoff()) == {
            "new": counted["new"],
            "saved": counted["saved"],
        }


async def test_wrong_pins_through_both_nodes_count_toward_one_lockout(nodes):
    first, second, account, box = nodes
    policy = LockoutPolicy(failures=4, window_s=900, lock_s=600)
    tries = [
        log_in_with_pin(node.db, box, "0000", T0 + n, policy)
        for n, node in enumerate((first, second, first, second))
    ]
    results = await asyncio.gather(*tries)
    assert sum(1 for result in results if result.locked_now) == 1
    assert await log_in_with_pin(second.db, box, "1234", T0 + 10, policy) == PinLogin(
        False, max(result.locked_until or 0 for result in results)
    )
    assert await log_in_with_pin(first.db, box, "1234", T0 + 700, policy) == PinLogin(True)


async def test_a_commit_on_one_node_wakes_the_other(nodes):
    first, second, account, box = nodes
    woken = asyncio.Event()
    second.db.on_commit(woken.set)
    await create_message(first, account, box, {"caller_id_number": "6001"})
    async with asyncio.timeout(
        5
    ):  # NOTIFY arrives in milliseconds; the idle poll would take seconds
        await woken.wait()


async def test_a_job_whose_lease_runs_out_is_taken_over_once_and_its_first_attempt_not_recorded(
    nodes,
):
    first, second, _, _ = nodes
    await enqueue_job(first.db, NewJob("email.new_message", {"n": 1}), now=0)
    [job] = await claim_due(first.db, 0, 8)
    assert await recover_interrupted(second.db, 30, lease_s=60) == 0  # leased to the first node
    await renew_leases(first.db, [job], 50)
    assert await recover_interrupted(second.db, 100, lease_s=60) == 0  # renewed at 50
    assert await recover_interrupted(second.db, 111, lease_s=60) == 1  # the first node went quiet
    [again] = await claim_due(second.db, 111, 8)
    assert (again.id, again.attempts) == (job.id, 2)
    assert not await finish(first.db, job, Outcome("done", "sent late"), 112)
    assert await finish(second.db, again, Outcome("done", "sent"), 113)
    attempts = await attempts_of(second.db, job.id)
    assert [(number, outcome) for number, _, _, outcome, _ in attempts] == [
        (1, "interrupted"),
        (2, "done"),
    ]


async def test_two_nodes_workers_run_each_job_once(nodes):
    first, second, _, _ = nodes
    ran: list[tuple[str, int]] = []
    committed = asyncio.Event()
    first.db.on_commit(committed.set)  # the second node's commits too, by NOTIFY

    def handler(node: str):
        async def run(job):
            ran.append((node, job.payload["n"]))
            return Outcome("done")

        return run

    workers = [
        Worker(store, {"email.new_message": handler(name)}, concurrency=4, lease_s=60)
        for name, store in (("first", first), ("second", second))
    ]
    tasks = [asyncio.create_task(worker.run()) for worker in workers]
    try:
        for n in range(40):
            await enqueue_job((first, second)[n % 2].db, NewJob("email.new_message", {"n": n}))
        async with asyncio.timeout(20):
            while True:
                committed.clear()
                if not await list_jobs(first.db, ("pending", "running", "failed")):
                    break
                await committed.wait()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert sorted(n for _, n in ran) == list(range(40))


async def test_a_starting_node_leaves_a_file_another_node_may_be_about_to_commit(pg_url, tmp_path):
    """Only files unreferenced for an hour are orphans when several nodes may share the audio."""
    fresh, stale = (tmp_path / "media" / ("a" * 32) / f"{c * 32}.wav" for c in "bc")
    fresh.parent.mkdir(parents=True)
    for path in (fresh, stale):
        path.write_bytes(b"RIFF")
    os.utime(stale, (time.time() - 2 * ORPHAN_AGE_S,) * 2)
    store = await open_store(tmp_path, 93, url=pg_url)
    await store.db.close()
    assert fresh.exists() and not stale.exists()


# Audio on PostgreSQL: nodes share no filesystem.


async def stored_audio(node, account: str, source: Path, tmp_path: Path):
    upload = tmp_path / f"upload-{source.name}"
    shutil.copyfile(source, upload)
    return await node.media.store(upload, account)


@pytest.fixture(scope="module")
def long_tone(tmp_path_factory) -> Path:
    """20 s of tone: 320 kB as stored, more than one part (AUDIO_PART) in the database."""
    path = tmp_path_factory.mktemp("long") / "long.wav"
    subprocess.run(
        ["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(path), "synth", "20", "sine", "440"],
        check=True,
    )
    return path


async def test_audio_stored_on_one_node_is_played_and_downloaded_on_the_other(
    nodes, long_tone, tmp_path
):
    first, second, account, box = nodes
    audio = await stored_audio(first, account, long_tone, tmp_path)
    message = await create_message(first, account, box, {"caller_id_number": "6001"}, audio)
    stored = (first.media.root / audio.file).read_bytes()
    parts = await second.db.fetch_all(
        "SELECT part, length(data) FROM audio_parts WHERE file = ? ORDER BY part", (audio.file,)
    )
    assert len(parts) == -(-len(stored) // AUDIO_PART) > 1
    (checksum,) = await second.db.fetch_one(
        "SELECT sha256 FROM audio_files WHERE file = ?", (audio.file,)
    )
    assert checksum == hashlib.sha256(stored).hexdigest()
    assert not (second.media.root / audio.file).exists()  # nothing shared on disk
    assert await second.media.encoded(message.media_file, "wav") == stored
    assert (second.media.root / audio.file).read_bytes() == stored  # the node's own copy now


async def test_a_copy_on_one_node_is_whole_on_the_other_and_unreferenced_audio_is_freed(
    nodes, tone_wav, tmp_path
):
    first, second, account, box = nodes
    audio = await stored_audio(first, account, tone_wav, tmp_path)
    copy = await first.media.duplicate(audio.file, account)
    assert await second.media.encoded(copy, "wav") == (first.media.root / audio.file).read_bytes()
    # Neither file has a row: after an hour both are orphans, on the database and on the nodes' disks.
    assert await remove_unreferenced_audio(second) == 0  # too fresh: a node may be about to commit
    async with first.db.transaction() as tx:
        await tx.execute("UPDATE audio_files SET written = written - ?", (2 * ORPHAN_AGE_S,))
    for path in (first.media.root / audio.file, second.media.root / copy):
        os.utime(path, (time.time() - 2 * ORPHAN_AGE_S,) * 2)
    assert await remove_unreferenced_audio(second) == 2
    assert not (second.media.root / copy).exists()
    with pytest.raises(FileNotFoundError):
        await second.media.encoded(audio.file, "wav")
    assert await first.db.fetch_all("SELECT file FROM audio_parts") == []


@pytest.fixture
async def own_server():
    """A PostgreSQL of this test's own, to stop under vmbox."""
    server = PostgresServer()
    server.start()
    yield server
    server.stop()


async def test_a_message_left_while_the_database_is_down_is_kept_and_stored_once_it_is_back(
    own_server, tmp_path, long_tone
):
    store = await open_store(tmp_path / "data", 93, url=await own_server.new_database())
    try:
        account, _ = await create_account(store.db, "A")
        box = await create_vmbox(store.db, account.id, {"name": "Ann", "mailbox": "3000"})
        journal = Journal(tmp_path / "recordings", time.time)
        journal.directory.mkdir()
        services = CallServices(store, journal=journal)
        call = CallInfo(
            "1700000000.9", Purpose.LEAVE, "3000", "5551234", "Bob", account_id=account.id
        )
        journal.open("1700000000.9-1", call, box.id, 500)
        recording = journal.directory / "1700000000.9-1.wav"
        shutil.copyfile(long_tone, recording)  # 8 kHz mono, as Asterisk records
        held = Recording(str(recording), 20000)

        own_server.pause()
        assert await services.run(call, SaveMessage(box.id, held)) == Done()  # logged, not raised
        assert recording.exists() and list(store.media.root.glob("*/*.wav")) == []
        os.utime(recording, (time.time() - SETTLE_S,) * 2)
        journal.release_call(call.call_id, 1)  # the call ended
        assert await recover(journal, services, 500) == 0  # still down: kept for the next round
        assert recording.exists()

        own_server.resume()
        assert await recover(journal, services, 500) == 1
        assert not recording.exists() and list(journal.directory.iterdir()) == []
        assert await folder_counts(store.db, box.id, store.cutoff()) == {"new": 1, "saved": 0}
    finally:
        await store.db.close()


async def test_the_api_answers_503_while_the_database_is_down_and_serves_again_after(
    own_server, tmp_path
):
    store = await open_store(tmp_path / "data", 93, url=await own_server.new_database())
    account, _ = await create_account(store.db, "A")
    token, _ = await create_token(store.db, account.id, 3600)
    runner = web.AppRunner(make_app(store, ApiOptions()), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/v2/accounts/{account.id}/vmboxes"
    try:
        async with aiohttp.ClientSession(headers={"X-Auth-Token": token}) as session:
            own_server.pause()
            async with session.get(url) as reply:
                body = await reply.json()
            assert (reply.status, body["message"]) == (503, "datastore_fault")
            assert "try again" in body["data"]["message"]
            own_server.resume()
            async with session.get(url) as reply:
                assert (reply.status, (await reply.json())["data"]) == (200, [])
    finally:
        await runner.cleanup()
        await store.db.close()


async def test_a_node_listens_again_after_the_database_comes_back(own_server, tmp_path):
    url = await own_server.new_database()
    first, second = (
        await open_store(tmp_path / "a", 93, url=url),
        await open_store(tmp_path / "b", 93, url=url),
    )
    woken = asyncio.Event()
    second.db.on_commit(woken.set)
    try:
        own_server.pause()
        own_server.resume()
        async with asyncio.timeout(10):
            await woken.wait()  # listening again, it wakes its workers for what it may have missed
        woken.clear()
        await create_account(first.db, "A")
        async with asyncio.timeout(5):
            await woken.wait()  # and hears the other node's commits again
    finally:
        await first.db.close()
        await second.db.close()


async def test_one_node_refreshes_each_lamp_and_a_dead_node_s_lamps_pass_to_another(nodes):
    first, second, account, box = nodes
    await create_message(first, account, box, {"caller_id_number": "6001"})
    [lamp] = await lamps_to_update(first.db, now=T0)
    assert lamp.box_id == box and await lamps_to_update(second.db, now=T0) == []
    assert len(await lamps_to_update(first.db, now=T0 + 1)) == 1  # still its own to refresh
    await lamp_updated(first.db, lamp)
    assert await lamps_to_update(second.db, now=T0 + 2) == []
    await create_message(first, account, box, {"caller_id_number": "6002"})
    [taken] = await lamps_to_update(second.db, now=T0 + 3)
    assert await lamps_to_update(first.db, now=T0 + 4) == []  # the second node's now
    # The second node dies before refreshing it: once its claim runs out, the first takes it over.
    [again] = await lamps_to_update(first.db, now=T0 + 3 + LAMP_CLAIM_S + 1)
    assert (again.box_id, again.changes) == (taken.box_id, taken.changes)


async def test_nodes_claiming_at_once_take_different_jobs(nodes):
    first, second, _, _ = nodes
    for n in range(12):
        await enqueue_job(first.db, NewJob("email.new_message", {"n": n}), now=0)
    claims = await asyncio.gather(
        *(claim_due(node.db, 1, 4) for node in (first, second, first, second))
    )
    claimed = [job.id for jobs in claims for job in jobs]
    assert len(claimed) == len(set(claimed)) == 12
    assert all(job.attempts == 1 for jobs in claims for job in jobs)


async def test_a_pool_of_one_connection_serves_many_requests_at_once_in_turn(pg_url, tmp_path):
    store = await open_store(tmp_path / "data", 93, url=pg_url, pool_size=1)
    try:
        account, _ = await create_account(store.db, "A")
        boxes = await asyncio.gather(
            *(
                create_vmbox(store.db, account.id, {"name": f"B{n}", "mailbox": str(3000 + n)})
                for n in range(10)
            )
        )
        found = await asyncio.gather(*(get_vmbox(store.db, account.id, b.id) for b in boxes))
        assert sorted(box.doc["mailbox"] for box in found) == [str(3000 + n) for n in range(10)]
    finally:
        await store.db.close()


async def test_nodes_starting_at_once_on_an_empty_database_create_one_default_account(
    pg_url, tmp_path
):
    stores = [await open_store(tmp_path / name, 93, url=pg_url) for name in "abc"]
    try:
        made = await asyncio.gather(*(create_first_account(s.db, "default") for s in stores))
        assert sum(1 for result in made if result is not None) == 1
        assert len(await stores[0].db.fetch_all("SELECT id FROM accounts")) == 1
    finally:
        for store in stores:
            await store.db.close()
