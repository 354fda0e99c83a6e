"""A real PostgreSQL for the tests: Debian's `postgresql` package (./vmbox.sh test installs it), a cluster
created in a temporary directory, listening on 127.0.0.1 at a free port, stopped at the end.

PostgreSQL refuses to run as root; when the tests run as root, the cluster belongs to the `postgres`
user the package creates, and its binaries are run as that user. Each test gets a database of its own,
copied from a template that vmbox's schema is already in (a copy takes milliseconds, a migration more).
"""

import asyncio
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg

PASSWORD = "vmbox-test"


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError(
            "PostgreSQL is missing: run the tests with ./vmbox.sh test, which installs Debian's postgresql"
        )
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster for the whole test session."""

    def __init__(self, durable: bool = False):
        self.durable = durable  # fsync as a production server does (benchmarks), or not (tests)
        self.bin = _binaries()
        # Under /tmp when root: the postgres user must be able to reach it (a TMPDIR may not be).
        where = "/tmp" if os.geteuid() == 0 and os.path.isdir("/tmp") else None
        self.directory = Path(tempfile.mkdtemp(prefix="vmbox-pg-", dir=where))
        self.port = _free_port()
        self._as_user: list[str] = []
        self._databases = 0

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres:{PASSWORD}@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str) -> None:
        done = subprocess.run(
            [*self._as_user, *command], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {done.stderr or done.stdout}")

    def start(self) -> None:
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)
            # util-linux's runuser; by its path too, for a PATH without the sbin directories
            runuser = shutil.which("runuser") or "/usr/sbin/runuser"
            self._as_user = [runuser, "-u", "postgres", "--"]
        data = self.directory / "data"
        password_file = self.directory / "password"
        password_file.write_text(PASSWORD)
        if self._as_user:
            shutil.chown(password_file, "postgres")
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=scram-sha-256",
            f"--pwfile={password_file}",
            "-E",
            "UTF8",
            "--locale=C",
        )
        self.resume()

    def resume(self) -> None:
        """Start the server (again, after `pause`)."""
        # Durability of the test cluster itself is not under test (vmbox's own is, on SQLite and in the
        # commit protocol): fsync off makes each test database's creation cheap.
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.directory / "data"),
            "-l",
            str(self.directory / "log"),
            "-w",
            "-o",
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory}"
            " -c max_connections=300"
            + (
                ""
                if self.durable
                else " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            ),
            "start",
        )

    def pause(self) -> None:
        """Stop the server, keeping its data (a database going away under vmbox)."""
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.directory / "data"), "-m", "fast", "stop"
        )

    def stop(self) -> None:
        try:
            self._run(
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.directory / "data"),
                "-m",
                "immediate",
                "stop",
            )
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def log(self) -> str:
        path = self.directory / "log"
        return path.read_text(errors="replace") if path.exists() else ""

    async def new_database(self, template: str = "template0") -> str:
        """The URL of a new, empty database (or a copy of `template`)."""
        self._databases += 1
        name = f"vmbox_{os.getpid()}_{self._databases}"
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        finally:
            await conn.close()
        return self.url(name)


def run(coroutine):
    """Run `coroutine` to its end on a loop of its own, in a thread (a session fixture may be set up
    from inside a test's running loop)."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()
