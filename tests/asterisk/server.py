"""A real Asterisk as a child process: configured in its own directory (config.py), started in the
foreground, reachable over AMI as soon as it has fully booted, and stopped with everything it started.
Its log (log/full: verbose 3, warnings, errors, DTMF) stays in the directory for failing tests."""

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Callable
from pathlib import Path

from ivr.ami_client import AmiClient, AmiRefused, Message
from tests.asterisk.config import ARI_PASSWORD, write_config
from tests.asterisk.install import Installation, NoAsterisk

logger = logging.getLogger(__name__)

BOOT_TIMEOUT_S = 60


def free_port() -> int:
    """A TCP port nothing listens on now (the system's pick for a socket bound to port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _output(path: Path):
    """A file for the process's output (stdout and stderr)."""
    return open(path, "wb")


def _future_event(ami: AmiClient, kind: str) -> asyncio.Future:
    """The future of the next `kind` event on `ami`."""
    found = asyncio.get_running_loop().create_future()

    def offer(event: Message) -> None:
        if event["Event"] == kind and not found.done():
            found.set_result(event)

    ami.listen(offer)
    return found


class Asterisk:
    """One Asterisk for a test run."""

    def __init__(
        self,
        installation: Installation,
        directory: Path,
        voicemail: bool = False,
        files: dict[str, str] | None = None,
        *,
        cwd: Path | None = None,
    ):
        """`voicemail`, `files`: see config.write_config. `cwd`: Asterisk's working directory (default:
        the test's), which relative paths and /proc/self/cwd/... name on its side."""
        self.installation = installation
        self.directory = directory
        self.cwd = cwd
        self.ami_port, self.http_port = free_port(), free_port()
        self.test_secret = secrets.token_hex(8)
        self.config = write_config(
            directory,
            installation,
            self.ami_port,
            self.http_port,
            self.test_secret,
            voicemail,
            files,
        )
        self.ami = AmiClient("test")
        self.process: asyncio.subprocess.Process | None = None
        self._log_listeners: list[Callable[[str], None]] = []
        self._stream_task: asyncio.Task | None = None
        self._stream_writer: int | None = None

    @property
    def log(self) -> Path:
        return self.directory / "log" / "full"

    @property
    def heard_dir(self) -> Path:
        return self.directory / "heard"

    @property
    def ari_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    ari_password = ARI_PASSWORD

    async def start(self) -> "Asterisk":
        """Start Asterisk and log in to its AMI once it has fully booted. Raises NoAsterisk if it cannot."""
        await self._open_stream()
        output = _output(self.directory / "stdout.txt")
        self.process = await asyncio.create_subprocess_exec(
            str(self.installation.binary),
            "-f",
            "-n",
            "-C",
            str(self.config),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
            env=self.installation.environ(),
            start_new_session=True,
            cwd=self.cwd,
        )
        output.close()
        try:
            async with asyncio.timeout(BOOT_TIMEOUT_S):
                await (await self._login())
        except (TimeoutError, NoAsterisk) as exc:
            await self.stop()
            raise NoAsterisk(
                f"Asterisk did not start: {exc or 'no FullyBooted in time'};"
                f" its log: {self.log}, its output: {self.directory / 'stdout.txt'}"
            ) from None
        return self

    async def _login(self) -> asyncio.Future:
        """Log in once the AMI port answers (Asterisk opens it while it boots); the future of the
        FullyBooted event, which Asterisk sends at login once booted, or later when it gets there."""
        delay = 0.02
        while True:
            if self.process.returncode is not None:
                raise NoAsterisk(f"it exited with {self.process.returncode}")
            self.ami = AmiClient("test")
            booted = _future_event(self.ami, "FullyBooted")
            try:
                await self.ami.connect("127.0.0.1", self.ami_port)
                await self.ami.log_in("vmbox-test", self.test_secret)
                return booted
            except (OSError, TimeoutError, AmiRefused):
                await self.ami.close()
                await asyncio.sleep(
                    delay
                )  # the port is not open yet: a process starting, not a test waiting
                delay = min(delay * 2, 0.5)

    async def _open_stream(self) -> None:
        """Read the log channel `stream` (a FIFO) as Asterisk writes it. The harness holds a writing end
        too, so the pipe never reads as ended while Asterisk reopens its logs."""
        fifo = self.directory / "log" / "stream"
        os.mkfifo(fifo)
        reading = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        self._stream_writer = os.open(fifo, os.O_WRONLY)
        reader = asyncio.StreamReader(limit=1 << 20)
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(reading, "rb")
        )
        self._stream_task = loop.create_task(self._read_stream(reader))

    async def _read_stream(self, reader: asyncio.StreamReader) -> None:
        while line := await reader.readline():
            text = line.decode(errors="replace").rstrip("\n")
            for listener in list(self._log_listeners):
                listener(text)

    def listen_log(self, listener: Callable[[str], None]) -> Callable[[], None]:
        """Call `listener(line)` for every line Asterisk logs from now on (verbose 3 and DTMF)."""
        self._log_listeners.append(listener)
        return lambda: self._log_listeners.remove(listener)

    async def wait_for(self, check, timeout: float = 60) -> Message:
        """The first AMI event from now for which `check(event)` is true."""
        found = asyncio.get_running_loop().create_future()

        def offer(event: Message) -> None:
            if not found.done() and check(event):
                found.set_result(event)

        stop = self.ami.listen(offer)
        try:
            async with asyncio.timeout(timeout):
                return await found
        finally:
            stop()

    async def command(self, line: str) -> str:
        """A CLI command's output (AMI Command)."""
        return (await self.ami.action("Command", Command=line)).get("Output", "")

    async def stop(self) -> None:
        """Stop Asterisk (SIGTERM: it hangs up its channels and ends cleanly; SIGKILL after 20 s)."""
        await self.ami.close()
        if self.process is None or self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            async with asyncio.timeout(20):
                await self.process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()
        if self._stream_task is not None:
            self._stream_task.cancel()
            os.close(self._stream_writer)

    def log_lines(self, *needles: str) -> list[str]:
        """The lines of Asterisk's log that contain any of `needles` (e.g. a test's channel names)."""
        with open(self.log, errors="replace") as log:
            return [line.rstrip("\n") for line in log if any(needle in line for needle in needles)]
