"""Helpers for the email tests: a real SMTP server (aiosmtpd) on a loopback port in the test's own event
loop, a clock the tests move forward, and a wait that wakes on every change (a commit, an SMTP command)
instead of sleeping.

The SMTP server answers as a test scripts it: each RCPT, MAIL or DATA can be refused (a reply function
of the address and of how many times that address was offered), and the first RCPT can be held until
the test lets it go (to kill a sender mid-delivery).
"""

import asyncio
import inspect
import math
import ssl
import subprocess
import time
import warnings
import wave
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

GUARD_S = 30  # real seconds a wait may take before the test fails (a guard, never a pause)


class Changes:
    """Set by anything a test may wait for; `until` re-checks after each."""

    def __init__(self):
        self._event = asyncio.Event()

    def happened(self) -> None:
        self._event.set()

    async def until(self, check: Callable, guard_s: float = GUARD_S):
        """Wait until `check()` (sync or async) is truthy; its value."""
        async with asyncio.timeout(guard_s):
            while True:
                self._event.clear()
                result = check()
                if inspect.isawaitable(result):
                    result = await result
                if result:
                    return result
                await self._event.wait()


class MovableClock:
    """Real time plus an offset that only the test moves. A sleep ends when the worker is woken or the
    test moves the clock past its end, never because real time passed: no test waits for a backoff."""

    def __init__(self, changes: Changes | None = None):
        self.offset = 0.0
        self.changes = changes
        self._moved = asyncio.Event()
        self.sleeping = 0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds
        self._moved.set()
        self._moved = asyncio.Event()

    async def sleep(self, seconds: float, wake: asyncio.Event) -> None:
        end = self.now() + seconds
        self.sleeping += 1
        if self.changes:
            self.changes.happened()
        try:
            while not wake.is_set() and self.now() < end:
                waits = [
                    asyncio.ensure_future(wake.wait()),
                    asyncio.ensure_future(self._moved.wait()),
                ]
                try:
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiting in waits:
                        waiting.cancel()
        finally:
            self.sleeping -= 1


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    email: EmailMessage
    raw: bytes


Reply = Callable[
    [str, int], str | None
]  # (address, how many times it was offered) -> refusal or None


class MailHandler:
    """aiosmtpd hooks: refusals as scripted, accepted emails parsed into `received`."""

    def __init__(self, changes: Changes):
        self.changes = changes
        self.received: list[Received] = []
        self.rcpt_reply: Reply = lambda address, attempt: None
        self.mail_reply: Reply = lambda address, attempt: None
        self.data_reply: Reply = lambda address, attempt: None
        self.offered: Counter = Counter()
        self.hold_first_rcpt: asyncio.Event | None = None  # set by the test to let the held RCPT go
        self.held = asyncio.Event()  # the first RCPT is being held
        self.commands: list[str] = []

    async def handle_MAIL(self, server, session, envelope, address, options):
        self._seen(f"MAIL {address}")
        self.offered[("MAIL", address)] += 1
        refusal = self.mail_reply(address, self.offered[("MAIL", address)])
        if refusal:
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        self._seen(f"RCPT {address}")
        if self.hold_first_rcpt is not None and not self.held.is_set():
            self.held.set()
            self.changes.happened()
            try:
                await self.hold_first_rcpt.wait()
            finally:  # let go, or cancelled because the client's connection is gone
                self.changes.happened()
        self.offered[("RCPT", address)] += 1
        refusal = self.rcpt_reply(address, self.offered[("RCPT", address)])
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self._seen("DATA")
        self.offered[("DATA", "")] += 1
        refusal = self.data_reply("", self.offered[("DATA", "")])
        if refusal:
            return refusal
        raw = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        email = message_from_bytes(raw, policy=policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), email, raw))
        self.changes.happened()
        return "250 OK queued"

    def _seen(self, command: str) -> None:
        self.commands.append(command)
        self.changes.happened()


class MailServer:
    """aiosmtpd on 127.0.0.1:<ephemeral> in the running loop. `start(listening=False)` binds the port
    without accepting connections (a server that is down: connections are refused) until `listen()`."""

    def __init__(
        self,
        changes: Changes,
        *,
        tls: ssl.SSLContext | None = None,
        starttls: ssl.SSLContext | None = None,
        logins: dict[str, str] | None = None,
    ):
        self.changes = changes
        self.handler = MailHandler(changes)
        self.tls, self.starttls, self.logins = tls, starttls, logins
        self.sessions: list[SMTP] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def _session(self) -> SMTP:
        options = {"hostname": "mail.test", "loop": asyncio.get_running_loop()}
        if self.starttls is not None:
            options |= {"tls_context": self.starttls, "require_starttls": True}
        if self.logins is not None:
            # aiosmtpd counts only STARTTLS as TLS; on a plain or an implicit-TLS port it must be told to
            # take a login anyway (and then warns about it: expected here).
            options |= {
                "authenticator": self._authenticate,
                "auth_required": True,
                "auth_require_tls": self.starttls is not None,
            }
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            session = SMTP(self.handler, **options)
        self.sessions.append(session)
        return session

    def _authenticate(self, server, session, envelope, mechanism, data) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and self.logins.get(data.login.decode()) == data.password.decode()
        )
        return AuthResult(success=ok, handled=False)  # aiosmtpd answers 535 itself

    async def start(self, listening: bool = True, port: int = 0) -> "MailServer":
        self.server = await asyncio.get_running_loop().create_server(
            self._session, "127.0.0.1", port, ssl=self.tls, start_serving=listening
        )
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def listen(self) -> None:
        await self.server.start_serving()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        for session in self.sessions:
            if session.transport is not None:
                session.transport.close()

    async def wait_for(self, count: int) -> list[Received]:
        """The accepted emails, once there are at least `count`."""
        await self.changes.until(lambda: len(self.received) >= count)
        return self.received


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost (cert, key), made by openssl."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def write_tone(path: Path, seconds: float) -> Path:
    """`seconds` of a 400 Hz tone as 8 kHz 16-bit mono WAV (the format a call's recording has)."""
    period = b"".join(
        int(8000 * math.sin(2 * math.pi * n / 20)).to_bytes(2, "little", signed=True)
        for n in range(20)
    )
    samples = int(seconds * 8000)
    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes((period * (samples // 20 + 1))[: samples * 2])
    return path
