"""`vmbox serve` as a child process, for tests that need the real process (signals, restarts, a real
Asterisk talking to it): every line it prints is kept and wakes `changes`; the API client of the
account it created at its first start."""

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp

from tests.conftest import ApiClient
from tests.mailkit import Changes

ACCOUNT_ID = re.compile(r"account id: (\w+)")
API_KEY = re.compile(r"API key: +(\S+)")
READY = re.compile(r"REST API on http://([\d.]+):(\d+), FastAGI on agi://([\d.]+):(\d+)")


class Serve:
    """`vmbox serve` on `data_dir` with the settings `settings` (VMBOX_* environment variables; API and
    FastAGI on ports the system picks unless set)."""

    def __init__(self, data_dir: Path, settings: dict[str, str], changes: Changes | None = None):
        self.env = {key: value for key, value in os.environ.items() if not key.startswith("VMBOX_")}
        self.env |= {
            "VMBOX_STORE_DATA_DIR": str(data_dir),
            "VMBOX_API_PORT": "0",
            "VMBOX_AGI_PORT": "0",
            **settings,
        }
        self.cwd = data_dir.parent
        self.changes = changes or Changes()
        self.lines: list[str] = []
        self.credentials: tuple[str, str] | None = (
            None  # account id and API key, from the first start
        )
        self.process: asyncio.subprocess.Process | None = None
        self._readers: list[asyncio.Task] = []

    async def start(self) -> "Serve":
        self.lines = []
        self.cwd.mkdir(parents=True, exist_ok=True)
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ivr.cli",
            "serve",
            env=self.env,
            cwd=self.cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        self._readers = [
            asyncio.create_task(self._read(stream))
            for stream in (self.process.stdout, self.process.stderr)
        ]
        await self.changes.until(lambda: self.find(READY) or self.process.returncode is not None)
        assert self.process.returncode is None, "\n".join(self.lines)
        return self

    async def _read(self, stream: asyncio.StreamReader) -> None:
        async for line in stream:
            self.lines.append(line.decode(errors="replace").rstrip())
            self.changes.happened()
        self.changes.happened()

    def find(self, pattern: re.Pattern) -> re.Match | None:
        return next((match for line in self.lines if (match := pattern.search(line))), None)

    async def until_printed(self, pattern: re.Pattern, timeout: float = 60) -> re.Match:
        """The first line matching `pattern`, once printed."""
        return await self.changes.until(lambda: self.find(pattern), timeout)

    @property
    def api_base(self) -> str:
        host, port = self.find(READY).group(1, 2)
        return f"http://{host}:{port}"

    @property
    def agi_address(self) -> tuple[str, int]:
        host, port = self.find(READY).group(3, 4)
        return host, int(port)

    async def api(self, session: aiohttp.ClientSession) -> ApiClient:
        """A client of the account the first start created, with a fresh auth token."""
        if self.credentials is None:
            # Printed on stdout, while the ready line is on stderr: either may be read first.
            self.credentials = (
                (await self.until_printed(ACCOUNT_ID))[1],
                (await self.until_printed(API_KEY))[1],
            )
        account_id, api_key = self.credentials
        client = ApiClient(session, self.api_base, account_id, "")
        auth = await client.put("/v2/api_auth", {"data": {"api_key": api_key}}, token="")
        assert auth.status == 201, auth.body
        client.token = auth.body["auth_token"]
        return client

    async def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signum)
        code = await self.process.wait()
        await asyncio.gather(*self._readers)
        return code
