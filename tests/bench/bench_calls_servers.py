"""The servers of bench_calls.py: starting them, reading their CPU time, and loading the ceiling (a
bare asyncio server answering every line with one line, line_ceiling.py) as vmbox was loaded.
"""

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settled_cpu(pid: int, quiet_s: float = 0.2, limit_s: float = 10.0) -> float:
    """The CPU seconds of `pid` once it has gone `quiet_s` without using any (at most `limit_s`), so
    that the work a phase leaves behind (notification jobs for its messages) is counted in it."""
    deadline = time.monotonic() + limit_s
    used = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(quiet_s)  # sampling the server's CPU clock, not waiting for a result
        now = cpu_seconds(pid)
        if now == used:
            break
        used = now
    return used


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def start(command: list[str], env: dict, ready) -> subprocess.Popen:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if ready():
            return process
        if process.poll() is not None:
            raise RuntimeError(f"{command} exited: {process.stderr.read().decode()}")
        time.sleep(0.05)  # polling a server that is starting up, not waiting for a result
    raise RuntimeError(f"{command} did not start")


def reachable(url: str):
    def check() -> bool:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return True
        except OSError:
            return False

    return check


def listening(port: int):
    def check() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    return check


async def ceiling_load(port: int, connections: int, round_trips: int) -> tuple[float, list[float]]:
    """`connections` at once, each sending `round_trips` lines one after the other: (wall seconds,
    every line's turnaround)."""
    turnarounds: list[float] = []

    async def one() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(round_trips):
            sent = time.perf_counter()
            writer.write(b"ANSWER\n")
            await reader.readline()
            turnarounds.append(time.perf_counter() - sent)
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(connections)))
    return time.perf_counter() - started, turnarounds


async def ceiling_instant(port: int, connections: int) -> tuple[float, list[float]]:
    """`connections` lines sent at one instant, one per connection: (the time until all are answered,
    each one's time to its reply)."""
    pairs = [await asyncio.open_connection("127.0.0.1", port) for _ in range(connections)]
    instant = time.perf_counter()
    for _, writer in pairs:
        writer.write(b"ANSWER\n")

    async def reply(reader: asyncio.StreamReader) -> float:
        await reader.readline()
        return time.perf_counter() - instant

    waits = list(await asyncio.gather(*(reply(reader) for reader, _ in pairs)))
    for _, writer in pairs:
        writer.close()
    return max(waits), waits


@dataclass(frozen=True)
class Load:
    """How one phase loaded vmbox: connections, and lines per connection (0: one line, all at once)."""

    name: str
    connections: int
    round_trips: int


@dataclass(frozen=True)
class Ceiling:
    """The line server under one Load: wall seconds, its CPU, the load generator's, turnarounds."""

    wall: float
    cpu: float
    simulator_cpu: float
    connections: int
    turnarounds: list[float]


def run_ceiling(loads: list[Load]) -> dict[str, Ceiling]:
    """The line server started afresh and put under each load in turn, by name."""
    port = free_port()
    ceiling = start(
        [sys.executable, str(HERE / "line_ceiling.py"), str(port)], os.environ, listening(port)
    )
    results = {}
    try:
        for load in loads:
            before, simulator = settled_cpu(ceiling.pid), time.process_time()
            wall, turnarounds = asyncio.run(
                ceiling_load(port, load.connections, load.round_trips)
                if load.round_trips
                else ceiling_instant(port, load.connections)
            )
            simulator = time.process_time() - simulator
            used = settled_cpu(ceiling.pid) - before
            results[load.name] = Ceiling(wall, used, simulator, load.connections, turnarounds)
    finally:
        ceiling.terminate()
        ceiling.wait(timeout=30)
    return results
