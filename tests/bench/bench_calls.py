"""FastAGI benchmark (prints figures; not a timed test).

    .venv/bin/python tests/bench/bench_calls.py [--calls 500]

Starts `vmbox serve` on a fresh store and places N concurrent simulated calls at full speed (virtual
time: a 10 s message is recorded instantly): half leave a 10 s message, half log in and listen to one
with fast-forward and rewind, keep it and leave. Prints calls/s, failed calls, the server's CPU per
call and the per-command turnaround (from the simulator's reply to the server's next command), and in
the same run the same figures for a bare asyncio line server (one line in, one line out) loaded with
the same number of connections and round trips: the ceiling.
"""

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import wave
from pathlib import Path

from ivr.simulator.client import run_call
from store.accounts import create_account
from store.core import open_store
from store.messages import create_message
from store.vmboxes import create_vmbox, list_vmboxes

HERE = Path(__file__).resolve().parent
DEPOSIT = "say tone 10s then press #; press 1"
# PIN; hear new; the envelope; 2 s in fast-forward 3 s; 1 s later rewind 3 s; the rest of the message
# and the envelope; keep it; "saved"; leave from the main menu.
CHECK = (
    "press 1234#; press 1; wait; wait; press 8 after 2s; press 5 after 1s; wait; wait; wait; wait; wait;"
    " press 1; wait; press #"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tone(path: Path, seconds: int) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(bytes(16000 * seconds))  # silence is fine: it is played, not listened to


async def prepare(data_dir: Path, boxes: int) -> None:
    store = await open_store(data_dir, retention_days=93)
    account, _ = await create_account(store.db, "bench")
    for n in range(boxes):
        await create_vmbox(
            store.db, account.id, {"name": f"Deposit {n}", "mailbox": str(40000 + n)}
        )
        box = await create_vmbox(
            store.db,
            account.id,
            {
                "name": f"Check {n}",
                "mailbox": str(50000 + n),
                "pin": "1234",
                "is_setup": True,
                "is_voicemail_ff_rw_enabled": True,
                "seek_duration_ms": 3000,
            },
        )
        recording = store.media.temp_path(".wav")
        tone(recording, 10)
        audio = await store.media.adopt(recording, account.id)
        await create_message(store, account.id, box.id, {"caller_id_number": "5551234"}, audio)
    await store.db.close()


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


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def calls(port: int, boxes: int) -> tuple[float, list]:
    started = time.perf_counter()
    transcripts = await asyncio.gather(
        *(
            run_call(
                "127.0.0.1",
                port,
                DEPOSIT,
                script_name="leave",
                arguments=[str(40000 + n)],
                caller_number="5551234",
                timeout=600,
            )
            for n in range(boxes)
        ),
        *(
            run_call(
                "127.0.0.1",
                port,
                CHECK,
                script_name="check",
                arguments=[str(50000 + n)],
                caller_number="2000",
                timeout=600,
            )
            for n in range(boxes)
        ),
    )
    return time.perf_counter() - started, transcripts


async def ceiling_load(port: int, connections: int, round_trips: int) -> tuple[float, list[float]]:
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


async def verify(data_dir: Path, boxes: int) -> int:
    """Calls whose effect is missing from the store (a message not left, or not kept)."""
    store = await open_store(data_dir, retention_days=93)
    account = (await store.db.fetch_one("SELECT id FROM accounts"))[0]
    import json

    entries = [
        json.loads(entry)
        for _, entry in await list_vmboxes(store.db, account, store.cutoff(), None, None)
    ]
    await store.db.close()
    deposited = sum(
        1 for box in entries if box["mailbox"].startswith("4") and box["folders"]["new"] == 1
    )
    kept = sum(
        1 for box in entries if box["mailbox"].startswith("5") and box["folders"]["saved"] == 1
    )
    return 2 * boxes - deposited - kept


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--calls", type=int, default=500, help="concurrent calls (half deposit, half check)"
    )
    args = parser.parse_args()
    boxes = args.calls // 2
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        asyncio.run(prepare(data_dir, boxes))
        api_port, agi_port, ceiling_port = free_port(), free_port(), free_port()
        env = {
            **os.environ,
            "VMBOX_STORE_DATA_DIR": str(data_dir),
            "VMBOX_API_PORT": str(api_port),
            "VMBOX_AGI_PORT": str(agi_port),
        }
        server = start(
            [sys.executable, "-m", "ivr.cli", "--log-level", "WARNING", "serve"],
            env,
            reachable(f"http://127.0.0.1:{api_port}/healthz"),
        )
        try:
            before = cpu_seconds(server.pid)
            wall, transcripts = asyncio.run(calls(agi_port, boxes))
            server_cpu = cpu_seconds(server.pid) - before
        finally:
            server.terminate()
            server.wait(timeout=30)
        failed = sum(1 for t in transcripts if not t.ok) + asyncio.run(verify(data_dir, boxes))
        turnarounds = [value for t in transcripts for value in t.turnarounds]
        per_call = len(turnarounds) / len(transcripts)
        ceiling = start(
            [sys.executable, str(HERE / "line_ceiling.py"), str(ceiling_port)],
            os.environ,
            listening(ceiling_port),
        )
        try:
            before = cpu_seconds(ceiling.pid)
            ceiling_wall, ceiling_turnarounds = asyncio.run(
                ceiling_load(ceiling_port, args.calls, round(per_call))
            )
            ceiling_cpu = cpu_seconds(ceiling.pid) - before
        finally:
            ceiling.terminate()
            ceiling.wait(timeout=30)
    calls_per_s, ceiling_calls_per_s = len(transcripts) / wall, args.calls / ceiling_wall
    rows = [
        ("calls/s", calls_per_s, ceiling_calls_per_s),
        (
            "server CPU ms per call",
            1000 * server_cpu / len(transcripts),
            1000 * ceiling_cpu / args.calls,
        ),
        (
            "turnaround p50 ms",
            1000 * statistics.median(turnarounds),
            1000 * statistics.median(ceiling_turnarounds),
        ),
        (
            "turnaround p99 ms",
            1000 * percentile(turnarounds, 0.99),
            1000 * percentile(ceiling_turnarounds, 0.99),
        ),
    ]
    print(
        f"\n{args.calls} concurrent calls ({boxes} deposits of 10 s, {boxes} checks with ff/rw), "
        f"{per_call:.1f} commands per call; failed calls: {failed}"
    )
    print(f"{'figure':26} {'vmbox':>10} {'ceiling':>10} {'ratio':>7}")
    for name, value, top in rows:
        print(f"{name:26} {value:10.2f} {top:10.2f} {value / top:7.2f}")
    print("\nslowest turnarounds by the step they follow (the server's work between two commands):")
    for (before, after), values in slowest_steps(transcripts):
        print(
            f"  {before:>15} -> {after:15} n={len(values):5}  p50 {statistics.median(values):8.2f} ms"
            f"  p99 {percentile(values, 0.99):8.2f} ms"
        )


def slowest_steps(transcripts, count: int = 4) -> list:
    """Turnarounds grouped by (previous command, next command), slowest p99 first."""
    groups: dict[tuple[str, str], list[float]] = {}
    for transcript in transcripts:
        verbs = [
            "(headers)",
            *(exchange.command.split('"')[0].strip() for exchange in transcript.exchanges),
        ]
        for index, seconds in enumerate(transcript.turnarounds):
            after = verbs[index + 1] if index + 1 < len(verbs) else "(end)"
            groups.setdefault((verbs[index], after), []).append(1000 * seconds)
    return sorted(groups.items(), key=lambda item: -percentile(item[1], 0.99))[:count]


if __name__ == "__main__":
    main()
