"""The shared cache of encoded audio (store/encodings.py): one encoding per message and format, whoever
asks first (the email notifier, `GET …/raw`, a ZIP), bounded, and never older than the message's audio.

Black-box where it can be: the real API over TCP, the real notifier against a real SMTP server, real
files; the number of encodings is what the store's encoder counts (`store.media.encoder.encoded`).
"""

import asyncio
import io
import zipfile
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from ivr.config import AgiSettings, ApiSettings, JobSettings, Settings, SmtpSettings, StoreSettings
from ivr.notify.setup import notifications
from ivr.serve import running
from store.accounts import create_account
from store.core import open_store
from store.message_changes import copy_messages
from store.messages import attach_audio, create_message
from store.retention import expire_messages, purge_messages
from store.vmboxes import create_vmbox
from tests.conftest import probe
from tests.mailkit import Changes, MovableClock, write_tone
from tests.storekit import set_timestamp


@pytest.fixture
def changes(api):
    changes = Changes()
    api.store.db.on_commit(changes.happened)
    return changes


def encodings(api) -> int:
    return sum(api.store.media.encoder.encoded.values())


def cached(data_dir: Path) -> set[str]:
    """The encoded files in the cache, as `<account>/<name>`."""
    return {f"{p.parent.name}/{p.name}" for p in (data_dir / "cache").glob("*/*")}


async def stored_file(api, message_id: str) -> str:
    row = await api.store.db.fetch_one(
        "SELECT media_file FROM messages WHERE id = ?", (message_id,)
    )
    return row[0]


async def finished(api) -> bool:
    rows = await api.store.db.fetch_all("SELECT state FROM jobs")
    return all(state in ("done", "failed") for (state,) in rows)


async def email_waiting_to_retry(api) -> bool:
    row = await api.store.db.fetch_one(
        "SELECT 1 FROM jobs WHERE kind = 'email.new_message' AND state = 'pending' AND attempts > 0"
    )
    return row is not None


@asynccontextmanager
async def notifying(api, mail):
    """The notification worker of `vmbox serve` on the API's store, emailing through `mail`."""
    settings = Settings(
        smtp=SmtpSettings(host="127.0.0.1", port=mail.port, sender="vm@example.com", timeout_s=10),
        jobs=JobSettings(backoff_base_s=30, backoff_max_s=3600, max_attempts=5),
    )
    clock = MovableClock(mail.changes)
    async with notifications(api.store, settings, clock):
        yield clock


async def a_box(api, mailbox: str = "3000", **doc) -> str:
    box = await api.client.create_box(mailbox, notify_email_addresses=["ann@example.com"], **doc)
    return box["id"]


async def a_message(api, box: str, seconds: float, tmp_path: Path) -> str:
    """A message left as the phone leaves one (announced: the API's own messages are not)."""
    tone = write_tone(tmp_path / f"tone-{seconds}.wav", seconds)
    account = api.client.account_id
    audio = await api.store.media.store(tone, account)
    return (
        await create_message(api.store, account, box, {"caller_id_number": "5551234"}, audio)
    ).id


async def download(api, box: str, message: str) -> bytes:
    reply = await api.client.get(f"/vmboxes/{box}/messages/{message}/raw")
    assert reply.status == 200, reply.body
    return reply.body


def attachment_of(received) -> bytes:
    [attachment] = received.email.iter_attachments()
    return attachment.get_content()


# --- shared by the email and the downloads --------------------------------------------------------------


async def test_a_download_after_the_email_is_not_encoded_again(api, mail, changes, tmp_path):
    box = await a_box(api)
    message = await a_message(api, box, 3, tmp_path)
    async with notifying(api, mail):
        await changes.until(lambda: finished(api))
    [received] = mail.received
    assert encodings(api) == 1
    assert await download(api, box, message) == attachment_of(received)
    zipped = await api.client.post(
        f"/vmboxes/{box}/messages/raw", {"data": {"messages": [message]}}
    )
    assert zipped.status == 200
    with zipfile.ZipFile(io.BytesIO(zipped.body)) as archive:
        [name] = archive.namelist()
        assert archive.read(name) == attachment_of(received)
    assert encodings(api) == 1


async def test_an_email_sent_again_after_a_refusal_is_not_encoded_again(
    api, mail, changes, tmp_path
):
    mail.handler.data_reply = lambda address, offered: "451 4.3.0 later" if offered == 1 else None
    box = await a_box(api)
    await a_message(api, box, 3, tmp_path)
    async with notifying(api, mail) as clock:
        await changes.until(lambda: email_waiting_to_retry(api))
        assert mail.received == []
        clock.advance(31)
        await mail.wait_for(1)
        await changes.until(lambda: finished(api))
    assert mail.handler.offered[("DATA", "")] == 2
    assert encodings(api) == 1


async def test_a_message_copied_to_another_box_is_not_encoded_again(api, mail, changes, tmp_path):
    box, other = await a_box(api), await a_box(api, "3001")
    message = await a_message(api, box, 3, tmp_path)
    async with notifying(api, mail):
        await mail.wait_for(1)
        # Forwarded as by phone: a copy the REST API makes is not announced.
        copied = await copy_messages(api.store, api.client.account_id, box, [message], [other])
        assert copied.succeeded
        await mail.wait_for(2)
        await changes.until(lambda: finished(api))
    first, second = mail.received
    assert attachment_of(first) == attachment_of(second)
    assert encodings(api) == 1


async def test_the_first_of_many_asking_at_once_encodes_for_all(api, tmp_path):
    box = await a_box(api)
    message = await a_message(api, box, 5, tmp_path)
    downloads = await asyncio.gather(*(download(api, box, message) for _ in range(8)))
    assert len(set(downloads)) == 1
    assert encodings(api) == 1


async def test_one_who_gives_up_does_not_stop_the_encoding_for_the_others(api, tmp_path):
    box = await a_box(api)
    file = await stored_file(api, await a_message(api, box, 5, tmp_path))
    media = api.store.media
    leaving = asyncio.ensure_future(media.encoded(file, "mp3"))
    staying = asyncio.ensure_future(media.encoded(file, "mp3"))
    await asyncio.sleep(0)  # one turn: both are waiting for the one encoding
    leaving.cancel()
    audio = await staying
    assert leaving.cancelled()
    assert probe(audio, tmp_path, ".mp3")["format"] == "mp3"
    assert (file, "mp3") in media.cache
    assert media.encoder.encoded == {"mp3": 1}


async def test_each_format_is_kept_apart(api, tmp_path):
    box = await a_box(api, media_extension="mp4")
    message = await a_message(api, box, 2, tmp_path)
    mp4 = await download(api, box, message)
    assert await download(api, box, message) == mp4
    assert "mp4" in probe(mp4, tmp_path, ".mp4")["format"]
    assert api.store.media.encoder.encoded == {"mp4": 1}
    patched = await api.client.patch(f"/vmboxes/{box}", {"data": {"media_extension": "mp3"}})
    assert patched.status == 200, patched.body
    mp3 = await download(api, box, message)
    assert probe(mp3, tmp_path, ".mp3")["format"] == "mp3"
    assert api.store.media.encoder.encoded == {"mp4": 1, "mp3": 1}
    assert len(cached(api.data_dir)) == 2


# --- never stale; gone with the message -----------------------------------------------------------------


async def test_replaced_audio_is_what_is_served_next(api, tmp_path):
    box = await a_box(api)
    message = await a_message(api, box, 2, tmp_path)
    path = f"/vmboxes/{box}/messages/{message}"
    before = await download(api, box, message)
    old = cached(api.data_dir)
    replaced = await api.client.call(
        "PUT",
        f"{path}/raw",
        data=write_tone(tmp_path / "longer.wav", 5).read_bytes(),
        headers={"Content-Type": "audio/wav"},
    )
    assert replaced.status == 200, replaced.body
    assert cached(api.data_dir) == set()  # the old encoding went with the old audio
    after = await download(api, box, message)
    assert after != before
    assert abs(probe(after, tmp_path, ".mp3")["duration"] - 5) < 0.3
    assert cached(api.data_dir) and cached(api.data_dir) != old
    assert encodings(api) == 2


async def test_an_encoding_running_while_the_audio_is_replaced_is_not_kept(api, tmp_path):
    box = await a_box(api)
    message = await a_message(api, box, 5, tmp_path)
    old = await stored_file(api, message)
    media = api.store.media
    encoded, release, encode = asyncio.Event(), asyncio.Event(), media.encoder.encode

    async def held(*args):  # the encoding is made, and not yet kept, when the audio is replaced
        await encode(*args)
        encoded.set()
        await release.wait()

    media.encoder.encode = held
    encoding = asyncio.ensure_future(media.encoded(old, "mp3"))
    await encoded.wait()
    new = await media.adopt(write_tone(media.temp_path(".wav"), 2), api.client.account_id)
    await attach_audio(api.store, api.client.account_id, box, message, new)
    assert not encoding.done()
    release.set()
    await encoding  # those who asked before the change get what they asked for ...
    assert (old, "mp3") not in media.cache  # ... and it is not kept for anyone after
    assert cached(api.data_dir) == set()
    assert abs(probe(await download(api, box, message), tmp_path, ".mp3")["duration"] - 2) < 0.3


async def test_a_deleted_message_takes_its_encoding_with_it(api, tmp_path):
    box = await a_box(api)
    message = await a_message(api, box, 2, tmp_path)
    kept = await a_message(api, box, 2, tmp_path)
    await download(api, box, message)
    await download(api, box, kept)
    assert len(cached(api.data_dir)) == 2
    deleted = await api.client.delete(f"/vmboxes/{box}/messages/{message}")
    assert deleted.status == 200, deleted.body
    assert cached(api.data_dir) == {f"{(await stored_file(api, kept))[:-4]}.mp3"}
    assert api.store.media.cache.size == len(await download(api, box, kept))


async def test_purged_messages_take_their_encodings_with_them(api, tmp_path):
    box = await a_box(api)
    aged = await a_message(api, box, 2, tmp_path)
    kept = await a_message(api, box, 2, tmp_path)
    await download(api, box, aged)
    await download(api, box, kept)
    old = api.store.cutoff() - 60
    async with api.store.db.transaction() as tx:
        await set_timestamp(tx, aged, old)
    await expire_messages(api.store)
    assert len(cached(api.data_dir)) == 2
    assert await purge_messages(api.store) == 1
    assert cached(api.data_dir) == {f"{(await stored_file(api, kept))[:-4]}.mp3"}


# --- bounded --------------------------------------------------------------------------------------------


async def test_the_least_recently_used_go_first_when_the_cache_is_full(api, tmp_path):
    box = await a_box(api)
    first, second, third = [await a_message(api, box, 3, tmp_path) for _ in range(3)]
    size = len(await download(api, box, first))
    api.store.media.cache.resize(size * 5 // 2)  # room for two
    await download(api, box, second)
    await download(api, box, first)  # used again: now the second is the least recent
    await download(api, box, third)
    assert encodings(api) == 3
    assert api.store.media.cache.size <= size * 5 // 2
    await download(api, box, first)
    await download(api, box, third)
    assert encodings(api) == 3
    await download(api, box, second)  # evicted: encoded again
    assert encodings(api) == 4
    assert len(cached(api.data_dir)) == 2


async def test_shrinking_the_cache_evicts_at_once_and_a_zero_cache_keeps_nothing(api, tmp_path):
    box = await a_box(api)
    message = await a_message(api, box, 2, tmp_path)
    audio = await download(api, box, message)
    api.store.media.cache.resize(0)
    assert cached(api.data_dir) == set() and api.store.media.cache.size == 0
    assert await download(api, box, message) == audio
    assert cached(api.data_dir) == set()
    assert encodings(api) == 2


async def test_vmbox_serve_sizes_the_cache_from_the_settings(tmp_path):
    settings = Settings(
        store=StoreSettings(data_dir=str(tmp_path / "data"), cache_mb=3),
        api=ApiSettings(port=0),
        agi=AgiSettings(port=0),
    )
    async with running(settings) as served:
        assert served.store.media.cache.limit == 3 * 1024 * 1024


# --- across restarts ------------------------------------------------------------------------------------


async def test_the_cache_outlives_a_restart_but_not_its_leftovers(tmp_path, store_url):
    data_dir = tmp_path / "data"
    store = await open_store(data_dir, retention_days=93, url=store_url)
    account = (await create_account(store.db, "A"))[0].id
    box = await create_vmbox(store.db, account, {"name": "Ann", "mailbox": "3000"})
    kept = await store.media.adopt(write_tone(store.media.temp_path(".wav"), 2), account)
    await create_message(store, account, box.id, {}, kept)
    orphan = await store.media.adopt(write_tone(store.media.temp_path(".wav"), 2), account)
    audio = await store.media.encoded(kept.file, "mp3")
    await store.media.encoded(orphan.file, "mp3")  # no row refers to it: gone at the next start
    await store.db.close()
    part = data_dir / "cache" / f"{kept.file[:-4]}.mp3.0123.part"  # a crash while writing
    part.write_bytes(b"half an encoding")

    reopened = await open_store(data_dir, retention_days=93, url=store_url)
    try:
        assert not part.exists()
        assert cached(data_dir) == {f"{kept.file[:-4]}.mp3"}
        assert await reopened.media.encoded(kept.file, "mp3") == audio
        assert reopened.media.encoder.encoded == {}
        assert reopened.media.cache.size == len(audio)
    finally:
        await reopened.db.close()


async def test_a_cache_entry_is_read_back_whole(api, tmp_path):
    """What the cache hands out is the MP3 that was encoded (the ffprobe view of the player's file)."""
    box = await a_box(api)
    message = await a_message(api, box, 4, tmp_path)
    first, again = await download(api, box, message), await download(api, box, message)
    assert first == again
    info = probe(again, tmp_path, ".mp3")
    assert info["format"] == "mp3" and info["sample_rate"] == 8000 and info["channels"] == 1
    assert encodings(api) == 1
