"""Notifications end to end: a real `vmbox serve` process, a message left by phone (the simulator on its
FastAGI port, or `vmbox call`), an aiosmtpd server and a fake AMI in the test; and the process killed with
SIGKILL in the middle of a delivery, restarted on the same data directory: exactly one email in the end,
and the callback and the lamp there too."""

import asyncio
import re
import signal
import sys

import aiohttp
import pytest

from ivr.notify.ami import ANSWERED
from ivr.simulator.client import run_call
from tests.amikit import FakeAsterisk, TestClock
from tests.servekit import Serve

EMAIL_DONE = re.compile(r"job \d+ \(email\.new_message\) attempt (\d+): done")


def mailing_settings(smtp_port: int, ami_port: int | None = None) -> dict[str, str]:
    settings = {
        "VMBOX_SMTP_HOST": "127.0.0.1",
        "VMBOX_SMTP_PORT": str(smtp_port),
        "VMBOX_SMTP_SENDER": "vm@example.com",
        "VMBOX_SMTP_TIMEOUT_S": "60",
    }
    if ami_port is not None:
        settings |= {
            "VMBOX_AMI_HOST": "127.0.0.1",
            "VMBOX_AMI_PORT": str(ami_port),
            "VMBOX_AMI_SECRET": "s3cret",
        }
    return settings


@pytest.fixture
async def serve(tmp_path, mail, changes):
    process = Serve(tmp_path / "data", mailing_settings(mail.port), changes)
    yield process
    if process.process is not None and process.process.returncode is None:
        await process.stop(signal.SIGKILL)


async def a_box_with_email(serve: Serve, **fields) -> dict:
    """The mailbox 3000 in the account `vmbox serve` created at its first start, emailing ann@example.com."""
    async with aiohttp.ClientSession() as session:
        client = await serve.api(session)
        return await client.create_box(
            "3000", notify_email_addresses=["ann@example.com"], media_extension="mp3", **fields
        )


async def leave_a_message(serve: Serve) -> None:
    host, port = serve.agi_address
    call = await run_call(
        host,
        port,
        "say tone 3s then press #; press 1",
        script_name="leave",
        arguments=["3000"],
        caller_number="5551234",
        caller_name="Bob Builder",
    )
    assert call.ok, call.errors


async def test_a_message_left_by_phone_is_emailed_with_its_audio(serve, mail, changes):
    await serve.start()
    await a_box_with_email(serve)
    await leave_a_message(serve)
    [received] = await mail.wait_for(1)
    await changes.until(lambda: serve.find(EMAIL_DONE))
    assert received.rcpt_tos == ["ann@example.com"]
    assert received.email["Subject"] == "New voicemail from Bob Builder (5551234) in mailbox 3000"
    [attachment] = received.email.iter_attachments()
    assert attachment.get_content_type() == "audio/mpeg"
    assert re.fullmatch(r"5551234_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d\.mp3", attachment.get_filename())
    assert len(attachment.get_content()) > 5000  # ~3 s of 32 kbit/s MP3
    assert await serve.stop() == 0


async def test_killed_in_the_middle_of_a_delivery_then_restarted_gives_exactly_one_email(
    serve, mail, changes
):
    let_go = asyncio.Event()
    mail.handler.hold_first_rcpt = (
        let_go  # the first delivery stops before its recipient is accepted
    )
    await serve.start()
    await a_box_with_email(serve)
    await leave_a_message(serve)
    await changes.until(lambda: mail.handler.held.is_set())
    [held] = [session for session in mail.sessions if session.transport is not None]

    assert await serve.stop(signal.SIGKILL) == -signal.SIGKILL
    let_go.set()
    await changes.until(lambda: held.transport is None)  # the dead process's session is closed
    assert mail.received == []

    await serve.start()
    [received] = await mail.wait_for(1)
    done = await changes.until(lambda: serve.find(EMAIL_DONE))
    assert done.group(1) == "2"  # the interrupted attempt, then this one
    assert any("interrupted by the last stop" in line for line in serve.lines)
    assert await serve.stop() == 0
    assert len(mail.received) == 1 and received.rcpt_tos == ["ann@example.com"]


async def test_a_message_left_by_vmbox_call_is_emailed_called_back_and_lit_across_a_restart(
    tmp_path, mail, changes
):
    asterisk = FakeAsterisk(TestClock())
    await asterisk.start()
    serve = Serve(tmp_path / "data", mailing_settings(mail.port, asterisk.port), changes)
    try:
        let_go = asyncio.Event()
        mail.handler.hold_first_rcpt = let_go
        asterisk.originate_outcomes = [
            "hold",
            ANSWERED,
        ]  # the first callback rings when the process dies
        await serve.start()
        await a_box_with_email(serve, notify={"callback": {"number": "2001", "schedule": [0]}})
        host, port = serve.agi_address
        call = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ivr.cli",
            "call",
            "--port",
            str(port),
            "--leave",
            "3000",
            "--caller-id",
            '"Bob" <5551234>',
            "--script",
            "say tone 3s then press #; press 1",
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await asyncio.wait_for(call.communicate(), 60)
        assert call.returncode == 0, out.decode()
        await changes.until(lambda: mail.handler.held.is_set())
        await asterisk.wait_for("Originate", 1)

        assert await serve.stop(signal.SIGKILL) == -signal.SIGKILL  # both notifications cut short
        let_go.set()
        await serve.start()
        [received] = await mail.wait_for(1)
        first, second = await asterisk.wait_for("Originate", 2)
        lamps = await asterisk.wait_for("MWIUpdate", 2)  # one at each login
        assert await serve.stop() == 0
    finally:
        if serve.process.returncode is None:
            await serve.stop(signal.SIGKILL)
        await asterisk.stop()
    [attachment] = received.email.iter_attachments()
    assert (attachment.get_content_type(), received.rcpt_tos) == ("audio/mpeg", ["ann@example.com"])
    assert len(mail.received) == 1
    assert (
        (second["Channel"], second["Exten"])
        == (first["Channel"], first["Exten"])
        == ("Local/2001@vmbox-dial", "3000")
    )
    assert [(lamp["Mailbox"], lamp["NewMessages"]) for lamp in lamps[-1:]] == [("3000@vmbox", "1")]
    assert not asterisk.unexpected, asterisk.unexpected


async def test_the_first_start_s_curl_example_names_the_port_really_used(serve, changes):
    await serve.start()  # on VMBOX_API_PORT=0: the system picks the port
    curl = await changes.until(
        lambda: next((line for line in serve.lines if line.lstrip().startswith("curl ")), None)
    )
    assert curl.endswith(f" {serve.api_base}/v2/api_auth")
    assert await serve.stop() == 0
