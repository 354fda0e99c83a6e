"""Email notification benchmark (prints figures; not a test).

    .venv/bin/python -m tests.bench.bench_email [--messages 1000] [--audio-seconds 15]

A burst of messages is deposited through the store (create_message with audio, one after the other as
fast as they go: one `message.new` job each), then the notification worker runs as `vmbox serve` wires
it (ivr.notify.setup.notifications: the real EmailNotifier, each attachment encoded to MP3 in process
by LAME on the encoder's threads, once per message, into the media cache) against an aiosmtpd server
in a separate process (tests/bench/smtp_sink.py, so its CPU does not mix with ours; both share this
machine's cores all the same). Measured: the time until every email is accepted, emails/s, p50/p99
latency from each message's deposit to its acceptance by the SMTP server, and CPU per email (ours and
the SMTP server's). Then every message's MP3 is asked for again, as `GET …/raw` asks for it: served
from the cache, encoded again never.

In the same run, the ceiling: the same email (same size, its MP3 attached) sent as many times with bare
aiosmtplib to the same server, at the worker's concurrency and with one connection per email as the
notifier does, measured before and after the notifier (the machine may be shared: the ratio is taken
against their mean); and the MP3 encoding rate alone, the per-email work the ceiling does not do, in
process (the cache bypassed) and, for comparison, by an ffmpeg process per encoding as before. The
last ratio sets the notifier against both: bare aiosmtplib's time per email plus the encoding's.
"""

import argparse
import asyncio
import os
import resource
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
TARGET = 0.5  # emails/s of the notifier against bare aiosmtplib's, at least


def own_cpu_s() -> float:
    """CPU seconds this process has used (every thread: the event loop, the encoders, SQLite's)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


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

    def cpu_s(self) -> float:
        """CPU seconds the SMTP server process has used."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def stop(self) -> None:
        self.process.stdin.close()
        await self.process.wait()
        await self.reader


class CpuPerEmail:
    """CPU milliseconds per email of this process and of the SMTP server, over a block."""

    def __init__(self, sink: Sink, count: int):
        self.sink, self.count = sink, count
        self.ours = self.server = 0.0

    def __enter__(self) -> "CpuPerEmail":
        self._ours, self._server = own_cpu_s(), self.sink.cpu_s()
        return self

    def __exit__(self, *exc) -> None:
        self.ours = (own_cpu_s() - self._ours) * 1000 / self.count
        self.server = (self.sink.cpu_s() - self._server) * 1000 / self.count


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


async def ceiling(sink: Sink, email, count: int) -> tuple[float, CpuPerEmail]:
    """(seconds, CPU) to send `email` `count` times with bare aiosmtplib, CONCURRENCY at a time."""
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

    with CpuPerEmail(sink, count) as cpu:
        started = time.perf_counter()
        await asyncio.gather(*(send_one() for _ in range(count)))
        await sink.wait_for(before + count)
        elapsed = time.perf_counter() - started
    return elapsed, cpu


async def encode_rate(store, file: str, count: int) -> tuple[float, float]:
    """(MP3 encodings per second, CPU ms per encoding) in process by the store's encoder, the cache
    bypassed (CONCURRENCY asked at a time; the encoder runs as many as it has threads)."""
    slots = asyncio.Semaphore(CONCURRENCY)
    source = store.media.path(file)

    async def one() -> None:
        async with slots:
            target = store.media.temp_path(".mp3")
            await store.media.encoder.encode(source, "mp3", target)
            target.unlink()

    cpu = own_cpu_s()
    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    return count / (time.perf_counter() - started), (own_cpu_s() - cpu) * 1000 / count


async def ffmpeg_rate(store, file: str, count: int) -> float:
    """MP3 encodings per second by an ffmpeg process each (vmbox before the in-process encoder), as
    many processes at a time as the store's ffmpeg allowed (4)."""
    slots = asyncio.Semaphore(4)
    source = store.media.path(file)

    async def one() -> None:
        async with slots:
            process = await asyncio.create_subprocess_exec(
                *("ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(source)),
                *("-c:a", "libmp3lame", "-b:a", "32k", "-f", "mp3", "-"),
                stdout=asyncio.subprocess.DEVNULL,
            )
            if await process.wait() != 0:
                raise RuntimeError("ffmpeg failed")

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    return count / (time.perf_counter() - started)


async def asked_again(store, files: list[str]) -> tuple[float, int]:
    """(MP3s per second, encodings made) asking for every file's MP3 again, as `GET …/raw` does."""
    encoded = store.media.encoder.encoded["mp3"]
    started = time.perf_counter()
    for file in files:
        await store.media.encoded(file, "mp3")
    rate = len(files) / (time.perf_counter() - started)
    return rate, store.media.encoder.encoded["mp3"] - encoded


def percentile(values: list[float], share: float) -> float:
    return (
        statistics.quantiles(values, n=100)[int(share * 100) - 1] if len(values) > 1 else values[0]
    )


async def sample_email(store, account_id: str, audio_seconds: float):
    """(stored file, the email the ceiling sends: as the notifier's, its MP3 attached)."""
    sample = await store.media.adopt(
        write_tone(store.media.temp_path(".wav"), audio_seconds), account_id
    )
    mp3 = await store.media.encoded(sample.file, "mp3")
    email = build_email(
        Envelope(
            "Voicemail <vm@example.com>", ("owner@example.com",), "<bench@example.com>", time.time()
        ),
        Content("New voicemail from Caller (5550000) in mailbox 3000", "x" * 300, "<p>x</p>" * 60),
        Attachment(mp3, "audio/mpeg", "5550000_2026-01-01_00-00-00.mp3"),
    )
    return sample.file, email


async def notify_burst(store, sink: Sink, deposited: dict[str, float]) -> dict:
    """Run the notification worker until every deposited message's email is accepted."""
    count, first = len(deposited), len(sink.accepted)
    settings = Settings(
        smtp=SmtpSettings(host="127.0.0.1", port=sink.port, sender="Voicemail <vm@example.com>")
    )
    with CpuPerEmail(sink, count) as cpu:
        worker_started = time.time()
        async with notifications(store, settings, SystemClock()):
            await sink.wait_for(first + count)
    ours = sink.accepted[first:]
    last = max(when for when, _, _ in ours)
    latencies = [
        when - deposited[message_id.split(".")[2].split("@")[0]] for when, _, message_id in ours
    ]
    return {
        "worker_started": worker_started,
        "last": last,
        "latencies": latencies,
        "size": statistics.mean(size for _, size, _ in ours),
        "cpu": cpu,
    }


async def run(count: int, audio_seconds: float, data_dir: Path) -> dict:
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
        sample, email = await sample_email(store, account_id, audio_seconds)
        figures = {"count": count, "audio_seconds": audio_seconds}
        figures["bare_before"] = await ceiling(sink, email, count)
        figures["bare_size"] = sink.accepted[-1][1]
        figures["encodes"] = await encode_rate(store, sample, min(count, 200))
        figures["ffmpeg"] = await ffmpeg_rate(store, sample, min(count, 50))

        burst_started = time.time()
        deposited = await deposit_burst(store, account_id, box.id, tone, count)
        figures["deposit_s"] = time.time() - burst_started
        figures["burst_started"] = burst_started
        figures |= await notify_burst(store, sink, deposited)
        figures["bare_after"] = await ceiling(sink, email, count)
        files = [
            row[0]
            for row in await store.db.fetch_all("SELECT media_file FROM messages ORDER BY id")
        ]
        figures["again"] = await asked_again(store, files)
    finally:
        await sink.stop()
        await store.db.close()
    return figures


def report(figures: dict) -> None:
    count, cpu = figures["count"], figures["cpu"]
    rate = count / (figures["last"] - figures["worker_started"])
    (before_s, before_cpu), (after_s, after_cpu) = figures["bare_before"], figures["bare_after"]
    bare_rate = (count / before_s + count / after_s) / 2
    encodes, encode_ms = figures["encodes"]
    again, encoded_again = figures["again"]
    latencies = figures["latencies"]
    print(
        f"\n{count} messages of {figures['audio_seconds']:g} s, one email each with its MP3"
        f" (~{figures['size'] / 1024:.0f} KiB on the wire), worker concurrency {CONCURRENCY},"
        f" MP3 encoder threads {os.cpu_count()}, SMTP server in its own process"
    )
    print(
        f"  deposit burst:                   {figures['deposit_s']:7.2f} s"
        f" ({count / figures['deposit_s']:.0f} messages/s, before the worker starts)"
    )
    print(
        f"  every email accepted:            {figures['last'] - figures['worker_started']:7.2f} s"
        f" after the worker started, {figures['last'] - figures['burst_started']:.2f} s after the"
        " burst began"
    )
    print(f"  emails/s (vmbox notifier):       {rate:7.1f}")
    print(
        f"  deposit-to-SMTP latency:         p50 {percentile(latencies, 0.5):.2f} s,"
        f" p99 {percentile(latencies, 0.99):.2f} s (queued behind the burst)"
    )
    print(
        f"  ceiling, bare aiosmtplib:        {bare_rate:7.1f} emails/s ({count / before_s:.1f} before"
        f" the notifier, {count / after_s:.1f} after; same server, ~{figures['bare_size'] / 1024:.0f}"
        f" KiB each, {CONCURRENCY} at a time, a connection each)"
    )
    print(
        f"  MP3 encoding alone, in process:  {encodes:7.1f} /s ({encode_ms:.1f} ms CPU each;"
        f" an ffmpeg process each, as before: {figures['ffmpeg']:.1f} /s)"
    )
    print(
        f"  CPU per email:                   notifier {cpu.ours:.1f} ms + SMTP server"
        f" {cpu.server:.1f} ms; bare aiosmtplib {(before_cpu.ours + after_cpu.ours) / 2:.1f} ms"
        f" + SMTP server {(before_cpu.server + after_cpu.server) / 2:.1f} ms"
    )
    print(
        f"  every MP3 again (as GET …/raw):  {again:7.1f} /s from the cache, {encoded_again}"
        " encoded again"
    )
    verdict = "met" if rate / bare_rate >= TARGET else "NOT met"
    print(
        f"  ratio notifier / ceiling:        {rate / bare_rate:7.2f}"
        f" (target >= {TARGET}: {verdict})"
    )
    print(f"  ratio notifier / MP3 encoding:   {rate / encodes:7.2f}")
    both = 1 / (1 / bare_rate + 1 / encodes)  # each email costs the sending and the encoding
    print(
        f"  ratio notifier / (ceiling plus encoding): {rate / both:.2f} (bare aiosmtplib's time per"
        f" email plus the encoding's: {both:.1f} emails/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--audio-seconds", type=float, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report(asyncio.run(run(args.messages, args.audio_seconds, Path(tmp) / "data")))


if __name__ == "__main__":
    main()
