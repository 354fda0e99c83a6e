"""`vmbox migrate --to postgresql://…`: an embedded store with accounts, boxes, users, greetings, messages
(new, saved, deleted), tokens, jobs and PIN failures, copied into a real PostgreSQL by the real command,
resumed after a stop midway, verified, then used by a vmbox on PostgreSQL through the REST API."""

import os
import shutil
import subprocess
import sys

import aiohttp
import pytest
from aiohttp import web

from store.accounts import create_account, create_token, token_info
from store.api.app import make_app
from store.api.options import ApiOptions
from store.core import open_store
from store.greetings import create_greeting
from store.jobs import NewJob, enqueue_job, list_jobs
from store.message_changes import change_folder
from store.messages import create_message
from store.migration import migrate
from store.pin_logins import LockoutPolicy, PinLogin, log_in_with_pin
from store.users import create_user
from store.vmboxes import create_vmbox, folder_counts

T0 = 1_700_000_000


class Stop(Exception):
    pass


async def embedded_store(data_dir, tone_wav, tmp_path) -> dict:
    """A store as a while of use leaves it; what the test checks after the migration."""
    store = await open_store(data_dir, 93)
    account, api_key = await create_account(store.db, "Acme", "acme.example")
    user = await create_user(
        store.db,
        account.id,
        {"first_name": "Ann", "last_name": "Lee", "caller_id_numbers": ["6001"]},
    )
    box = await create_vmbox(
        store.db,
        account.id,
        {"name": "Ann", "mailbox": "3000", "pin": "1234", "owner_id": user.id},
    )

    async def audio():
        upload = tmp_path / "upload.wav"
        shutil.copyfile(tone_wav, upload)
        return await store.media.store(upload, account.id)

    greeting = await create_greeting(store, account.id, "Ann's greeting", await audio())
    messages = [
        await create_message(
            store, account.id, box.id, {"caller_id_number": f"60{n}"}, await audio()
        )
        for n in range(5)
    ]
    await change_folder(store, account.id, box.id, [messages[0].id, messages[1].id], "saved")
    await change_folder(store, account.id, box.id, [messages[2].id], "deleted")
    token, _ = await create_token(store.db, account.id, 3600)
    await enqueue_job(store.db, NewJob("email.new_message", {"n": 1}))
    await log_in_with_pin(store.db, box.id, "0000", T0, LockoutPolicy(3, 10**10, 600))
    audio_of = {m.id: (store.media.root / m.media_file).read_bytes() for m in messages}
    await store.db.close()
    return {
        "account": account.id,
        "api_key": api_key,
        "box": box.id,
        "greeting": greeting,
        "token": token,
        "audio": audio_of,
        "message": messages[3].id,
        "file": messages[3].media_file,
    }


def run_migrate(data_dir, url) -> subprocess.CompletedProcess:
    env = {"VMBOX_STORE_DATA_DIR": str(data_dir), "PATH": os.environ["PATH"]}
    return subprocess.run(
        [sys.executable, "-m", "ivr.cli", "migrate", "--to", url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
async def migrated(postgres, tmp_path, tone_wav):
    data_dir = tmp_path / "data"
    facts = await embedded_store(data_dir, tone_wav, tmp_path)
    url = await postgres.new_database()

    # A first run stops midway (the boxes copied, their messages not yet).
    def stop_at_messages(what, done, total):
        if what == "messages":
            raise Stop

    source = await open_store(data_dir, 93)
    target = await open_store(tmp_path / "scratch", 93, url=url)
    with pytest.raises(Stop):
        await migrate(source, target, stop_at_messages)
    await source.db.close()
    await target.db.close()

    resumed = run_migrate(data_dir, url)
    assert resumed.returncode == 0, resumed.stderr
    assert "verified:" in resumed.stdout and "pin.key" in resumed.stdout
    assert "messages" in resumed.stderr and "[##############################] 5/5" in resumed.stderr
    return data_dir, url, facts


async def test_a_resumed_migration_copies_everything_once_and_a_second_run_copies_nothing(migrated):
    data_dir, url, facts = migrated
    again = run_migrate(data_dir, url)
    assert again.returncode == 0, again.stderr
    assert "copied now: 0 rows, 0 audio files" in again.stdout and "verified:" in again.stdout


async def test_the_postgresql_node_serves_what_the_embedded_store_held(migrated, tmp_path):
    data_dir, url, facts = migrated
    node_dir = tmp_path / "node"
    node_dir.mkdir()
    shutil.copy2(data_dir / "pin.key", node_dir / "pin.key")  # as the README says
    store = await open_store(node_dir, 93, url=url)
    runner = web.AppRunner(make_app(store, ApiOptions()), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}/v2/accounts/{facts['account']}"
    try:
        assert await folder_counts(store.db, facts["box"], store.cutoff()) == {"new": 2, "saved": 2}
        assert (await token_info(store.db, facts["token"])).account_id == facts["account"]
        policy = LockoutPolicy(3, 10**10, 600)
        assert await log_in_with_pin(store.db, facts["box"], "1234", T0 + 1, policy) == PinLogin(
            True
        )
        copied_jobs = await list_jobs(store.db)  # ours and the five new-message notifications
        assert len(copied_jobs) == 6 and {"n": 1} in [job.payload for job in copied_jobs]
        async with aiohttp.ClientSession(headers={"X-Auth-Token": facts["token"]}) as http:
            async with http.get(f"{base}/vmboxes") as reply:
                [box] = (await reply.json())["data"]
            assert (box["mailbox"], box["folders"]) == ("3000", {"new": 2, "saved": 2})
            async with http.get(f"{base}/vmboxes/{facts['box']}/messages") as reply:
                listed = (await reply.json())["data"]
            assert len(listed) == 4 and {m["folder"] for m in listed} == {"new", "saved"}
            raw = f"{base}/vmboxes/{facts['box']}/messages/{facts['message']}/raw"
            async with http.get(raw) as reply:  # the box's media_extension: MP3
                assert (reply.status, reply.content_type) == (200, "audio/mpeg")
                assert len(await reply.read()) > 1000
            # The stored audio came from the database (the node's disk had none), byte for byte.
            assert (node_dir / "media" / facts["file"]).read_bytes() == facts["audio"][
                facts["message"]
            ]
            async with http.get(f"{base}/media/{facts['greeting']}/raw") as reply:
                assert reply.status == 200 and len(await reply.read()) > 1000
            change = f"{base}/vmboxes/{facts['box']}/messages/{facts['message']}"
            async with http.post(change, json={"data": {"folder": "saved"}}) as reply:
                assert reply.status == 200
            async with http.get(f"{base}/users") as reply:
                assert [u["first_name"] for u in (await reply.json())["data"]] == ["Ann"]
        assert await folder_counts(store.db, facts["box"], store.cutoff()) == {"new": 1, "saved": 3}
        # A new job gets an id after the copied ones.
        await enqueue_job(store.db, NewJob("email.new_message", {"n": 2}))
        [new] = [job for job in await list_jobs(store.db) if job.payload == {"n": 2}]
        assert new.id > max(job.id for job in copied_jobs)
    finally:
        await runner.cleanup()
        await store.db.close()


def test_migrate_refuses_what_is_not_a_postgresql_url(tmp_path):
    done = run_migrate(tmp_path / "data", "sqlite:///elsewhere.sqlite3")
    assert done.returncode == 2 and "postgresql://" in done.stderr
