"""Email notifications against a real SMTP server (aiosmtpd on loopback), with a real store, ffmpeg, and
the real worker as `vmbox serve` wires it (ivr.notify.setup.notifications), on a clock the tests move."""

import json
import shutil
from contextlib import asynccontextmanager
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from ivr.config import JobSettings, Settings, SmtpSettings
from ivr.notify.email import EmailNotifier
from ivr.notify.email_content import TemplateError, hms
from ivr.notify.setup import notifications
from store.core import open_store
from store.ids import to_unix
from store.jobs import NewJob, attempts_of, enqueue_job, list_jobs
from store.messages import create_message, get_message
from store.users import create_user
from store.vmboxes import create_vmbox
from tests.conftest import probe
from tests.mailkit import (
    MailServer,
    MovableClock,
    make_certificate,
    server_context,
    write_tone,
)
from tests.storekit import set_field

ALL_STATES = ("pending", "running", "failed", "done")


@pytest.fixture
def clock(changes):
    return MovableClock(changes)


@pytest.fixture
async def store(tmp_path, changes, store_url):
    store = await open_store(tmp_path / "data", retention_days=93, url=store_url)
    store.db.on_commit(changes.happened)
    yield store
    await store.db.close()


async def a_box(store, account, **doc):
    return await create_vmbox(
        store.db,
        account,
        {"name": "Ann", "mailbox": "3000", "notify_email_addresses": ["ann@example.com"], **doc},
    )


async def deposit(store, account, box, seconds: float = 3, **metadata):
    """A message left in `box` (a sox tone of `seconds`), queued for notification as a call leaves one."""
    tone = write_tone(store.media.temp_path(".wav"), seconds)
    stored = await store.media.adopt(tone, account)
    return await create_message(
        store,
        account,
        box.id,
        {"caller_id_number": "5551234", "caller_id_name": "Bob Builder", **metadata},
        stored,
    )


async def jobs(store, kind: str | None = None):
    return [
        job
        for job in await list_jobs(store.db, ALL_STATES, 1000)
        if kind is None or job.kind == kind
    ]


async def all_finished(store) -> bool:
    return all(job.state in ("done", "failed") for job in await jobs(store))


@asynccontextmanager
async def notifying(store, mail, clock, **smtp):
    """The notification worker of `vmbox serve`, emailing through `mail`, until the block ends."""
    settings = Settings(
        smtp=SmtpSettings(
            **{
                "host": "127.0.0.1",
                "port": mail.port,
                "sender": "Voicemail <vm@example.com>",
                "timeout_s": 10,
                **smtp,
            }
        ),
        jobs=JobSettings(backoff_base_s=30, backoff_max_s=3600, max_attempts=5),
    )
    async with notifications(store, settings, clock) as worker:
        yield worker


async def emailed(store, account, box, mail, clock, changes, seconds: float = 3, **smtp):
    """Leave one message, let the worker run every job; (the message, the one email received)."""
    message = await deposit(store, account, box, seconds)
    async with notifying(store, mail, clock, **smtp):
        await changes.until(lambda: all_finished(store))
    [received] = mail.received
    return message, received


def bodies(email) -> tuple[str, str]:
    """(plain text, HTML) of an email, with the wire's CRLF line ends read as newlines."""
    return tuple(
        email.get_body((kind,)).get_content().replace("\r\n", "\n") for kind in ("plain", "html")
    )


# --- recipients and headers ----------------------------------------------------------------------------


async def test_the_box_list_and_the_owner_are_emailed_once_each(
    store, account, mail, clock, changes
):
    owner = await create_user(
        store.db, account, {"first_name": "O", "last_name": "W", "email": "owner@example.com"}
    )
    box = await a_box(
        store,
        account,
        owner_id=owner.id,
        notify_email_addresses=["ann@example.com", "Owner@Example.com"],
    )
    # An address the API now refuses (KAZOO's email format), as a box saved before may hold one.
    async with store.db.transaction() as tx:
        (doc,) = await tx.fetch_one("SELECT doc FROM vmboxes WHERE id = ?", (box.id,))
        doc = json.loads(doc)
        doc["notify_email_addresses"].append("not an address")
        await tx.execute("UPDATE vmboxes SET doc = ? WHERE id = ?", (json.dumps(doc), box.id))
    message, received = await emailed(store, account, box, mail, clock, changes)
    assert received.rcpt_tos == ["ann@example.com", "Owner@Example.com"]
    assert received.mail_from == "vm@example.com"
    email = received.email
    assert (
        email["To"] == "ann@example.com, Owner@Example.com"
        and email["From"] == "Voicemail <vm@example.com>"
    )
    [job] = await jobs(store, "email.new_message")
    assert email["Message-ID"].strip() == f"<vmbox.{job.id}.{message.id}@example.com>"
    assert abs(email["Date"].datetime.timestamp() - clock.now()) < 60


async def test_an_owner_who_opted_out_is_not_emailed(store, account, mail, clock, changes):
    owner = await create_user(
        store.db,
        account,
        {
            "first_name": "O",
            "last_name": "W",
            "email": "owner@example.com",
            "vm_to_email_enabled": False,
        },
    )
    box = await a_box(store, account, owner_id=owner.id)
    _, received = await emailed(store, account, box, mail, clock, changes)
    assert received.rcpt_tos == ["ann@example.com"]


async def test_the_owner_alone_is_enough(store, account, mail, clock, changes):
    owner = await create_user(
        store.db, account, {"first_name": "O", "last_name": "W", "email": "owner@example.com"}
    )
    box = await a_box(store, account, owner_id=owner.id, notify_email_addresses=[])
    _, received = await emailed(store, account, box, mail, clock, changes)
    assert received.rcpt_tos == ["owner@example.com"]


# --- subject and bodies ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "box_zone, owner_zone, shown",
    [
        ("America/New_York", "Asia/Tokyo", "America/New_York"),
        (None, "Asia/Tokyo", "Asia/Tokyo"),
        ("inherit", "Asia/Tokyo", "Asia/Tokyo"),  # KAZOO's "inherit" is unset
        (None, None, "America/Los_Angeles"),  # the installation's default, KAZOO's
    ],
)
async def test_subject_and_both_bodies_carry_every_field(
    store, account, mail, clock, changes, box_zone, owner_zone, shown
):
    user = {"first_name": "O", "last_name": "W", **({"timezone": owner_zone} if owner_zone else {})}
    owner = await create_user(store.db, account, user)
    box = await a_box(
        store,
        account,
        name="Ann's <b>box</b>",
        owner_id=owner.id,
        **({"timezone": box_zone} if box_zone else {}),
    )
    message, received = await emailed(store, account, box, mail, clock, changes, seconds=65)
    when = datetime.fromtimestamp(to_unix(message.doc["timestamp"]), ZoneInfo(shown))
    received_at = f"{when:%Y-%m-%d %H:%M:%S} {when.tzname()}"
    email = received.email
    assert email["Subject"] == "New voicemail from Bob Builder (5551234) in mailbox 3000"
    text, page = bodies(email)
    for field in (
        "Bob Builder (5551234)",
        "Ann's <b>box</b>",
        "mailbox 3000",
        received_at,
        "0:01:05",
        message.id,
    ):
        assert field in text
    for field in (
        "Bob Builder (5551234)",
        "Ann&#x27;s &lt;b&gt;box&lt;/b&gt;",
        "mailbox 3000",
        received_at,
        "0:01:05",
        message.id,
    ):
        assert field in page
    assert "<b>box</b>" not in page
    assert email.get_content_type() == "multipart/mixed"
    assert email.get_payload()[0].get_content_type() == "multipart/alternative"


@pytest.mark.parametrize(
    "ms, shown",
    [
        (0, "0:00:00"),
        (499, "0:00:00"),
        (500, "0:00:01"),
        (65_000, "0:01:05"),
        (3_725_000, "1:02:05"),
    ],
)
def test_lengths_read_as_hours_minutes_seconds(ms, shown):
    assert hms(ms) == shown


async def set_transcription(store, message, transcription: dict) -> None:
    """What the transcription job stores on a message (written here directly: it is another module's job)."""
    async with store.db.transaction() as tx:
        await set_field(tx, message.id, "transcription", json.dumps(transcription))


@pytest.mark.parametrize(
    "include, transcription, shown",
    [
        (True, {"result": "success", "text": "Call me back <soon> & bring cake"}, True),
        (False, {"result": "success", "text": "Call me back <soon> & bring cake"}, False),
        (True, {"result": "failure", "text": ""}, False),
        (True, None, False),
    ],
)
async def test_the_transcription_is_included_when_the_box_wants_it_and_there_is_one(
    store, account, mail, clock, changes, include, transcription, shown
):
    box = await a_box(store, account, include_transcription_on_notify=include)
    message = await deposit(store, account, box)
    if transcription is not None:
        await set_transcription(store, message, transcription)
    async with notifying(store, mail, clock):
        [received] = await mail.wait_for(1)
    text, page = bodies(received.email)
    assert ("Transcription:\nCall me back <soon> & bring cake" in text) is shown
    assert ("Call me back &lt;soon&gt; &amp; bring cake" in page) is shown
    if not shown:
        assert "Transcription" not in text + page


# --- the attachment -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extension, mime, format_name, tolerance",
    [
        ("mp3", "audio/mpeg", "mp3", 0.3),  # MP3 frames (144 ms at 8 kHz) and the encoder's padding
        ("mp4", "audio/mp4", "mov,mp4,m4a,3gp,3g2,mj2", 0.15),
        ("wav", "audio/x-wav", "wav", 0.001),
    ],
)
async def test_the_audio_is_attached_in_the_box_format(
    store, account, mail, clock, changes, tmp_path, extension, mime, format_name, tolerance
):
    box = await a_box(store, account, media_extension=extension, timezone="Europe/Paris")
    message, received = await emailed(store, account, box, mail, clock, changes, seconds=4)
    [attachment] = received.email.iter_attachments()
    assert attachment.get_content_type() == mime
    when = datetime.fromtimestamp(to_unix(message.doc["timestamp"]), ZoneInfo("Europe/Paris"))
    assert attachment.get_filename() == f"5551234_{when:%Y-%m-%d_%H-%M-%S}.{extension}"
    info = probe(attachment.get_content(), tmp_path, f".{extension}")
    assert info["format"] == format_name and info["channels"] == 1
    assert abs(info["duration"] - 4) <= tolerance, info


async def test_no_attachment_when_the_box_says_so(store, account, mail, clock, changes):
    box = await a_box(store, account, include_message_on_notify=False)
    _, received = await emailed(store, account, box, mail, clock, changes)
    assert list(received.email.iter_attachments()) == []
    assert received.email.get_content_type() == "multipart/alternative"


# --- after the notification ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "save, delete, folder",
    [
        (False, False, "new"),
        (False, True, "deleted"),
        (True, False, "saved"),
        (True, True, "saved"),
    ],
)
async def test_a_delivered_email_files_the_message_as_the_box_says(
    store, account, mail, clock, changes, save, delete, folder
):
    box = await a_box(store, account, save_after_notify=save, delete_after_notify=delete)
    message, _ = await emailed(store, account, box, mail, clock, changes)
    assert (await get_message(store.db, account, box.id, message.id, 0)).folder == folder
    assert len(await jobs(store, "message.after_notify")) == 1


async def test_no_recipient_no_email_and_the_message_stays_new(
    store, account, mail, clock, changes
):
    box = await a_box(store, account, notify_email_addresses=[], delete_after_notify=True)
    message = await deposit(store, account, box)
    async with notifying(store, mail, clock):
        await changes.until(lambda: all_finished(store))
    [job] = await jobs(store, "email.new_message")
    assert job.state == "done" and (await attempts_of(store.db, job.id))[0][3:] == (
        "done",
        "no recipients",
    )
    assert mail.received == [] and mail.handler.commands == []
    assert await jobs(store, "message.after_notify") == []
    assert (await get_message(store.db, account, box.id, message.id, 0)).folder == "new"


# --- SMTP trouble -----------------------------------------------------------------------------------------


async def test_smtp_down_then_up_gives_exactly_one_email(store, account, clock, changes):
    mail = await MailServer(changes).start(
        listening=False
    )  # the port is bound, nothing accepts: refused
    try:
        box = await a_box(store, account, delete_after_notify=True)
        message = await deposit(store, account, box)
        async with notifying(store, mail, clock):
            job = await changes.until(lambda: email_job_waiting(store))
            assert "SMTPConnect" in job.last_error and job.attempts == 1
            assert [row[3] for row in await attempts_of(store.db, job.id)] == ["retry"]
            assert job.run_at - clock.now() > 25  # the backoff: 30 s after the failed attempt
            assert (await get_message(store.db, account, box.id, message.id, 0)).folder == "new"
            await mail.listen()
            clock.advance(31)
            await changes.until(lambda: all_finished(store))
        assert len(mail.received) == 1
        [job] = await jobs(store, "email.new_message")
        assert [row[3] for row in await attempts_of(store.db, job.id)] == ["retry", "done"]
        assert (await get_message(store.db, account, box.id, message.id, 0)).folder == "deleted"
    finally:
        await mail.close()


async def email_job_waiting(store):
    """The email job once it failed and waits for its retry (with the worker idle), else None."""
    return next(
        (
            job
            for job in await jobs(store, "email.new_message")
            if job.state == "pending" and job.attempts
        ),
        None,
    )


@pytest.mark.parametrize("stage", ["MAIL", "RCPT", "DATA"])
async def test_a_temporary_refusal_is_retried_and_gives_one_email(
    store, account, mail, clock, changes, stage
):
    refuse_once = lambda address, offered: "451 4.3.0 try again later" if offered == 1 else None  # noqa: E731
    setattr(mail.handler, f"{stage.lower()}_reply", refuse_once)
    box = await a_box(store, account)
    await deposit(store, account, box)
    async with notifying(store, mail, clock):
        job = await changes.until(lambda: email_job_waiting(store))
        assert "451" in job.last_error and mail.received == []
        clock.advance(31)
        await changes.until(lambda: all_finished(store))
    assert len(mail.received) == 1
    offered = {"MAIL": "vm@example.com", "RCPT": "ann@example.com", "DATA": ""}[stage]
    assert mail.handler.offered[(stage, offered)] == 2  # refused once, accepted once


async def test_every_recipient_refused_for_good_fails_the_job_and_leaves_the_message(
    store, account, mail, clock, changes
):
    mail.handler.rcpt_reply = lambda address, offered: "550 5.1.1 no such user"
    box = await a_box(
        store,
        account,
        notify_email_addresses=["ann@example.com", "bob@example.com"],
        delete_after_notify=True,
    )
    message = await deposit(store, account, box)
    before = await get_message(store.db, account, box.id, message.id, 0)
    async with notifying(store, mail, clock):
        await changes.until(lambda: all_finished(store))
    [job] = await jobs(store, "email.new_message")
    assert job.state == "failed" and job.attempts == 1
    assert "every recipient refused" in job.last_error and "550" in job.last_error
    assert mail.received == [] and await jobs(store, "message.after_notify") == []
    assert await get_message(store.db, account, box.id, message.id, 0) == before


async def test_the_content_refused_for_good_fails_the_job(store, account, mail, clock, changes):
    mail.handler.data_reply = lambda address, offered: "554 5.7.1 message refused"
    box = await a_box(store, account, save_after_notify=True)
    message = await deposit(store, account, box)
    async with notifying(store, mail, clock):
        await changes.until(lambda: all_finished(store))
    [job] = await jobs(store, "email.new_message")
    assert job.state == "failed" and "554" in job.last_error
    assert await jobs(store, "message.after_notify") == []
    assert (await get_message(store.db, account, box.id, message.id, 0)).folder == "new"


async def test_some_recipients_refused_is_still_a_delivery(
    store, account, mail, clock, changes, caplog
):
    mail.handler.rcpt_reply = lambda address, offered: (
        "550 5.1.1 no such user" if address.startswith("bob") else None
    )
    box = await a_box(
        store,
        account,
        notify_email_addresses=["ann@example.com", "bob@example.com"],
        save_after_notify=True,
    )
    message, received = await emailed(store, account, box, mail, clock, changes)
    assert received.rcpt_tos == ["ann@example.com"]
    [job] = await jobs(store, "email.new_message")
    assert "bob@example.com" in (await attempts_of(store.db, job.id))[0][4]
    assert any(
        "bob@example.com refused: 550" in record.getMessage()
        and message.id in record.getMessage()
        and f"email job {job.id} " in record.getMessage()
        for record in caplog.records
    )
    assert (await get_message(store.db, account, box.id, message.id, 0)).folder == "saved"


# --- SMTP security and login ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    assert shutil.which("openssl"), (
        "openssl makes the test certificate: `./vmbox.sh test` installs it"
    )
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_tls_and_login(store, account, clock, changes, certificate, monkeypatch, security):
    monkeypatch.setenv(
        "SSL_CERT_FILE", str(certificate[0])
    )  # OpenSSL's own way to trust our test CA
    context = server_context(*certificate)
    tls = {"tls": context} if security == "tls" else {"starttls": context}
    mail = await MailServer(changes, logins={"vmbox": "s3cret"}, **tls).start()
    try:
        box = await a_box(store, account)
        _, received = await emailed(
            store,
            account,
            box,
            mail,
            clock,
            changes,
            security=security,
            username="vmbox",
            password="s3cret",
        )
        assert received.rcpt_tos == ["ann@example.com"]
    finally:
        await mail.close()


async def test_a_refused_login_is_retried_not_failed(store, account, clock, changes):
    mail = await MailServer(changes, logins={"vmbox": "s3cret"}).start()
    try:
        box = await a_box(store, account)
        await deposit(store, account, box)
        async with notifying(store, mail, clock, username="vmbox", password="wrong"):
            job = await changes.until(lambda: email_job_waiting(store))
        assert "SMTPAuthenticationError" in job.last_error and mail.received == []
    finally:
        await mail.close()


# --- templates ----------------------------------------------------------------------------------------------


async def test_an_admin_template_replaces_the_shipped_one(
    store, account, mail, clock, changes, tmp_path
):
    own = tmp_path / "templates"
    own.mkdir()
    (own / "new_message_subject.txt").write_text("VM for $mailbox: $caller_number, $length\n")
    (own / "new_message.txt").write_text("Ring $caller_name back ($$0.00).\n$transcription")
    box = await a_box(store, account)
    _, received = await emailed(store, account, box, mail, clock, changes, templates_dir=str(own))
    assert received.email["Subject"] == "VM for 3000: 5551234, 0:00:03"
    text, page = bodies(received.email)
    assert text == "Ring Bob Builder back ($0.00).\n"
    assert "You have a new voicemail" in page  # the shipped HTML, not overridden


@pytest.mark.parametrize(
    "template, complaint",
    [
        ("Hello $nobody", "unknown field(s) nobody"),
        ("${caller.__class__.__init__}", "starts no field name"),
        ("Costs $5", "starts no field name"),
    ],
)
async def test_a_template_that_cannot_work_is_refused_at_start(
    store, tmp_path, template, complaint
):
    (tmp_path / "new_message.html").write_text(template)
    with pytest.raises(TemplateError, match=complaint.replace("(", r"\(").replace(")", r"\)")):
        EmailNotifier(
            store, SmtpSettings(host="127.0.0.1", templates_dir=str(tmp_path)), MovableClock()
        )


# --- mailbox full -------------------------------------------------------------------------------------------


async def report_full(store, account, box, caller: str):
    payload = {
        "account_id": account,
        "box_id": box.id,
        "caller_id_number": caller,
        "caller_id_name": "",
        "unix": 1_800_000_000,
    }
    await enqueue_job(store.db, NewJob("email.box_full", payload, key=f"box_full:{box.id}"))


async def test_a_full_box_is_reported_at_most_once_an_hour(store, account, mail, clock, changes):
    box = await a_box(store, account, timezone="Europe/Paris")
    async with notifying(store, mail, clock):
        for caller, later in (("5550001", 0), ("5550002", 600), ("5550003", 3700)):
            clock.advance(later)
            await report_full(store, account, box, caller)
            await changes.until(lambda: all_finished(store))
    assert [r.email.get_body(("plain",)).get_content().split()[0] for r in mail.received] == [
        "5550001",
        "5550003",
    ]
    first = mail.received[0].email
    assert first["Subject"] == "Voicemail box 3000 is full"
    assert (
        "5550001 tried to leave a message in Ann (mailbox 3000)\nat 2027-01-15 09:00:00 CET"
        in bodies(first)[0]
    )
    [told, skipped, told_again] = sorted(
        await jobs(store, "email.box_full"), key=lambda job: job.id
    )
    assert (await attempts_of(store.db, skipped.id))[0][3:] == (
        "done",
        "already told within the hour",
    )
    assert first["Message-ID"].strip() == f"<vmbox.{told.id}.{box.id}@example.com>"
