"""Email notification benchmark (prints figures; not a test).

    .venv/bin/python -m tests.bench.bench_email [--messages 1000] [--audio-seconds 15]

A burst of messages is deposited through the store (create_message with audio, one after the other as
fast as they go: one `message.new` job each), then the notification worker runs as `vmbox serve` wires
it (ivr.notify.setup.notifications: the real EmailNotifier, ffmpeg encoding each attachment to MP3)
against an aiosmtpd server in a separate process (tests/bench/smtp_sink.py, so its CPU does not mix with
ours; both share this machine's cores all the same). Measured: the time until every email is accepted,
emails/s, and p50/p99 latency from each message's deposit to its acceptance by the SMTP server.

In the same run, the ceiling: the same email (same size, its MP3 attached) sent as many times with bare
aiosmtplib to the same server, at the worker's concurrency and with one connection per email as the
notifier does; and the MP3 encoding rate alone, the per-email work the ceiling does not do.
"""

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiosmtplib  # the bare client: the ceiling (vmbox itself uses it only in ivr/notify/email.py)

from ivr.config import JobSettings, Settings, SmtpSettings
from ivr.notify.email_content import Attachment, Content, Envelope, build_email
from ivr.notify.setup import notifications
from ivr.notify.worker import SystemClock
from store.accounts import create_account
from store.core import open_store
from store.messages import create_message
from store.vmboxes import create_vmbox
from tests.mailkit import write_tone

HERE = Path(__file__).resolve().parent
CONCURRENCY = JobSettings().concurrency


class Sink:
    """The SMTP server process, and the acceptances it reports: (unix time, bytes, Message-ID)."""

    def __init__(self, process: asyncio.subprocess.Process, port: int):
        self.process, self.port = process, port
        self.accepted: list[tuple[float, int, str]] = []
        self.changed = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls) -> "Sink":
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(HERE / "smtp_sink.py"),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        ready = (await process.stdout.readline()).decode().split()
        if ready[:1] != ["ready"]:
            raise RuntimeError(f"the SMTP sink did not start: {ready}")
        return cls(process, int(ready[1]))

    async def _read(self) -> None:
        async for line in self.process.stdout:
            _, when, size, message_id = line.decode().split()
            self.accepted.append((float(when), int(size), message_id))
            self.changed.set()

    async def wait_for(self, count: int) -> None:
        while len(self.accepted) < count:
            self.changed.clear()
            await self.changed.wait()

    async def stop(self) -> None:
        self.process.stdin.close()
        await self.process.wait()
        await self.reader


async def deposit_burst(
    store, account_id: str, box_id: str, tone: Path, count: int
) -> dict[str, float]:
    """`count` messages with audio, as fast as the store takes them; deposit time by message id."""
    deposited = {}
    for n in range(count):
        copy = store.media.temp_path(".wav")
        shutil.copyfile(tone, copy)
        audio = await store.media.adopt(copy, account_id)
        message = await create_message(
            store,
            account_id,
            box_id,
            {"caller_id_number": str(5550000 + n), "caller_id_name": f"Caller {n}"},
            audio,
        )
        deposited[message.id] = time.time()
    return deposited


async def ceiling(sink: Sink, email, count: int) -> float:
    """Seconds to send `email` `count` times with bare aiosmtplib, CONCURRENCY at a time."""
    slots = asyncio.Semaphore(CONCURRENCY)
    before = len(sink.accepted)

    async def send_one() -> None:
        async with slots:
            await aiosmtplib.send(
                email,
                hostname="127.0.0.1",
                port=sink.port,
                start_tls=False,
                local_hostname="bench.test",
                sender="vm@example.com",
                recipients=["owner@example.com"],
            )

    started = time.perf_counter()
    await asyncio.gather(*(send_one() for _ in range(count)))
    await sink.wait_for(before + count)
    return time.perf_counter() - started


async def encode_rate(store, file: str, count: int) -> float:
    """MP3 encodings per second through the store's ffmpeg (CONCURRENCY asked at a time)."""
    slots = asyncio.Semaphore(CONCURRENCY)

    async def one() -> None:
        async with slots:
            await store.media.encoded(file, "mp3")

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    return count / (time.perf_counter() - started)


def percentile(values: list[float], share: float) -> float:
    return (
        statistics.quantiles(values, n=100)[int(share * 100) - 1] if len(values) > 1 else values[0]
    )


async def run(count: int, audio_seconds: float, data_dir: Path) -> None:
    store = await open_store(data_dir, retention_days=93)
    sink = await Sink.start()
    try:
        account_id = (await create_account(store.db, "bench"))[0].id
        box = await create_vmbox(
            store.db,
            account_id,
            {
                "name": "Bench",
                "mailbox": "3000",
                "timezone": "Europe/Paris",
                "notify_email_addresses": ["owner@example.com"],
            },
        )
        tone = write_tone(data_dir / "tone.wav", audio_seconds)

        sample = await store.media.adopt(
            write_tone(store.media.temp_path(".wav"), audio_seconds), account_id
        )
        mp3 = await store.media.encoded(sample.file, "mp3")
        email = build_email(
            Envelope(
                "Voicemail <vm@example.com>",
                ("owner@example.com",),
                "<bench@example.com>",
                time.time(),
            ),
            Content(
                "New voicemail from Caller (5550000) in mailbox 3000", "x" * 300, "<p>x</p>" * 60
            ),
            Attachment(mp3, "audio/mpeg", "5550000_2026-01-01_00-00-00.mp3"),
        )
        bare_s = await ceiling(sink, email, count)
        bare_size = sink.accepted[-1][1]
        encodes = await encode_rate(store, sample.file, min(count, 200))

        burst_started = time.time()
        deposited = await deposit_burst(store, account_id, box.id, tone, count)
        deposit_s = time.time() - burst_started
        first = len(sink.accepted)
        settings = Settings(
            smtp=SmtpSettings(host="127.0.0.1", port=sink.port, sender="Voicemail <vm@example.com>")
        )
        worker_started = time.time()
        async with notifications(store, settings, SystemClock()):
            await sink.wait_for(first + count)
        ours = sink.accepted[first:]
        last = max(when for when, _, _ in ours)
        latencies = [
            when - deposited[message_id.split(".")[2].split("@")[0]] for when, _, message_id in ours
        ]
        size = statistics.mean(size for _, size, _ in ours)
    finally:
        await sink.stop()
        await store.db.close()

    rate, bare_rate = count / (last - worker_started), count / bare_s
    print(
        f"\n{count} messages of {audio_seconds:g} s, one email each with its MP3 (~{size / 1024:.0f} KiB on the wire),"
        f" worker concurrency {CONCURRENCY}, SMTP server in its own process"
    )
    print(
        f"  deposit burst:                   {deposit_s:7.2f} s ({count / deposit_s:.0f} messages/s, before the worker"
        " starts)"
    )
    print(
        f"  every email accepted:            {last - worker_started:7.2f} s after the worker started,"
        f" {last - burst_started:.2f} s after the burst began"
    )
    print(f"  emails/s (vmbox notifier):       {rate:7.1f}")
    print(
        f"  deposit-to-SMTP latency:         p50 {percentile(latencies, 0.5):.2f} s, p99 {percentile(latencies, 0.99):.2f} s"
        " (queued behind the burst)"
    )
    print(
        f"  ceiling, bare aiosmtplib:        {bare_rate:7.1f} emails/s (same server, ~{bare_size / 1024:.0f} KiB each,"
        f" {CONCURRENCY} at a time, a connection each)"
    )
    print(f"  MP3 encoding alone (ffmpeg):     {encodes:7.1f} /s")
    print(f"  ratio notifier / ceiling:        {rate / bare_rate:7.2f}")
    print(f"  ratio notifier / MP3 encoding:   {rate / encodes:7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--audio-seconds", type=float, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args.messages, args.audio_seconds, Path(tmp) / "data"))


if __name__ == "__main__":
    main()
