"""REST API benchmark (prints figures; not a timed test).

    .venv/bin/python tests/bench/bench_api.py [--seconds 5] [--connections 8] [--rounds 5]

Fills a store with 1,000 boxes and 100,000 messages (one box holds 10,000), starts `vmbox serve` on it
and, beside it, a bare aiohttp server (tests/bench/ceiling.py, the ceiling), then loads each with wrk
(installed with apt when missing). For every scenario it prints requests/s, p50/p99 latency and the
server's CPU time per request (user + system, from /proc), and two ratios to the ceiling measured in
the same run: `ratio` to the ceiling answering its constant ~400-byte envelope, and `same bytes` to the
ceiling answering the very bytes vmbox answered (a page of fifty messages is ~13 KB). Reads load the
ceiling, vmbox and the same-bytes ceiling in turn, `--rounds` times, `--seconds` in all for each: the
load of a shared machine drifts, and so every figure of a line sees the same drift.

PUT creates messages (JSON, no audio) from all connections at once: their commits are shared (group
commit), and req/s is messages/s; the line below it is the disk's own fsync latency, measured in the
same run, under which no durable write can be answered. The last lines read the first page while half
the connections create messages in that box, so every page read after a commit is read afresh.
"""

import argparse
import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from functools import partial
from pathlib import Path

from store.accounts import create_account, create_token
from store.api.pages import encode_key
from store.core import open_store
from store.documents import dumps
from store.ids import new_id, new_message_id, now_gregorian

BOXES, MESSAGES, BIG_BOX = 1_000, 100_000, 10_000
HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def populate(data_dir: Path) -> dict:
    """Fill the store; return the ids and keys the scenarios need."""
    store = await open_store(data_dir, retention_days=93)
    account, _ = await create_account(store.db, "bench")
    token, _ = await create_token(store.db, account.id, 86400)
    box_ids = [new_id() for _ in range(BOXES)]
    now = now_gregorian()
    async with store.db.transaction() as tx:
        await tx.execute_many(
            "INSERT INTO vmboxes (id, account_id, mailbox, name, doc, rev) VALUES (?, ?, ?, ?, ?, 1)",
            [
                (
                    box_id,
                    account.id,
                    str(3000 + n),
                    f"Box {n}",
                    dumps(
                        {
                            "name": f"Box {n}",
                            "mailbox": str(3000 + n),
                            "media_extension": "mp3",
                            "timezone": "UTC",
                        }
                    ),
                )
                for n, box_id in enumerate(box_ids)
            ],
        )
        rows = []
        for n in range(MESSAGES):
            box_id = box_ids[0] if n < BIG_BOX else box_ids[1 + n % (BOXES - 1)]
            timestamp = now - n * 7
            message_id = new_message_id(timestamp)
            doc = {
                "timestamp": timestamp,
                "from": f"{1000 + n % 900}@example.com",
                "to": "3000@example.com",
                "caller_id_number": str(1000 + n % 900),
                "caller_id_name": f"Caller {n % 900}",
                "call_id": f"{n:032x}",
                "folder": ("new", "saved")[n % 2],
                "length": 3140,
                "media_id": message_id,
            }
            rows.append((message_id, account.id, box_id, doc["folder"], timestamp, dumps(doc)))
        await tx.execute_many(
            "INSERT INTO messages (id, account_id, box_id, folder, timestamp, doc, rev) VALUES (?, ?, ?, ?, ?, ?, 1)",
            rows,
        )
    deep = await store.db.fetch_one(
        "SELECT timestamp, id FROM messages WHERE box_id = ? ORDER BY timestamp DESC, id DESC LIMIT 1 OFFSET ?",
        (box_ids[0], BIG_BOX - 100),
    )
    await store.db.close()
    return {
        "account": account.id,
        "token": token,
        "big_box": box_ids[0],
        "small_box": box_ids[1],
        "deep_key": encode_key([deep[0], deep[1]]),
    }


def start(command: list[str], port: int, env: dict | None = None) -> subprocess.Popen:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
            return process
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{command[0]} exited: {process.stderr.read().decode()}"
                ) from None
            time.sleep(0.05)  # polling a server that is starting up, not waiting for a result
    raise RuntimeError(f"{command} did not start")


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise RuntimeError(f"unexpected wrk latency {text!r}")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk_command(
    url: str, token: str, seconds: int, connections: int, script: Path | None = None
) -> list[str]:
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-H",
        f"X-Auth-Token: {token}",
    ]
    if script:
        command += ["-s", str(script)]
    return [*command, url]


def wrk_figures(output: str) -> dict:
    if "Latency Distribution" not in output:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests": int(re.search(r"(\d+) requests in", output)[1]),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]),
        "p50": _ms(re.search(r"^\s*50%\s+(\S+)", output, re.M)[1]),
        "p99": _ms(re.search(r"^\s*99%\s+(\S+)", output, re.M)[1]),
        "errors": int(errors[1]) if errors else 0,
    }


def wrk(url: str, token: str, seconds: int, connections: int, script: Path | None = None) -> dict:
    """wrk's figures for loading `url`."""
    command = wrk_command(url, token, seconds, connections, script)
    return wrk_figures(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(process: subprocess.Popen, load) -> dict:
    """wrk's figures for `load()`, with the server's CPU microseconds per request."""
    before = cpu_seconds(process.pid)
    got = load()
    got["cpu_us"] = (cpu_seconds(process.pid) - before) / max(got["requests"], 1) * 1e6
    return got


def combined(runs: list[dict]) -> dict:
    """Figures of several runs of one load as one: requests/s and CPU over all of them, the median
    run's p50 and p99, every error."""
    requests = sum(run["requests"] for run in runs)
    middle = len(runs) // 2
    return {
        "requests": requests,
        "rps": requests / sum(run["requests"] / run["rps"] for run in runs),
        "p50": sorted(run["p50"] for run in runs)[middle],
        "p99": sorted(run["p99"] for run in runs)[middle],
        "errors": sum(run["errors"] for run in runs),
        "cpu_us": sum(run["cpu_us"] * run["requests"] for run in runs) / max(requests, 1),
    }


def fsync_latency(directory: Path, count: int = 200) -> dict:
    """p50/p99 of fsync after appending 4 KiB to a file in `directory` (the disk's floor for a commit)."""
    path = directory / "fsync-probe"
    times = []
    with open(path, "wb") as out:
        for _ in range(count):
            out.write(b"\0" * 4096)
            out.flush()
            started = time.perf_counter()
            os.fsync(out.fileno())
            times.append((time.perf_counter() - started) * 1000)
    path.unlink()
    times.sort()
    return {"p50": times[count // 2], "p99": times[int(count * 0.99)]}


def ensure_wrk() -> None:
    if shutil.which("wrk") is None:
        print("installing wrk with apt ...", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=5, help="duration of each load run")
    parser.add_argument(
        "--connections", type=int, default=8, help="concurrent keep-alive connections"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="reads: vmbox and the ceilings in turn, this many times",
    )
    args = parser.parse_args()
    ensure_wrk()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        started = time.perf_counter()
        ids = asyncio.run(populate(data_dir))
        print(
            f"store filled: {BOXES} boxes, {MESSAGES} messages in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        api_port = free_port()
        env = {
            **os.environ,
            "VMBOX_STORE_DATA_DIR": str(data_dir),
            "VMBOX_API_PORT": str(api_port),
            "VMBOX_AGI_PORT": "0",
        }
        vmbox = start(
            [sys.executable, "-m", "ivr.cli", "--log-level", "WARNING", "serve"], api_port, env
        )
        try:
            Bench(args, Path(tmp), ids, vmbox, api_port).run()
        finally:
            vmbox.terminate()
            vmbox.wait(timeout=10)


def fetch(url: str, token: str) -> bytes:
    request = urllib.request.Request(url, headers={"X-Auth-Token": token})
    return urllib.request.urlopen(request, timeout=10).read()


HEADER = (
    f"{'scenario':58} {'req/s':>8} {'ratio':>6} {'same bytes':>10} {'p50 ms':>7} {'p99 ms':>7}"
    f" {'cpu us/req':>10} {'errors':>6}"
)
CREATE_LUA = (
    'wrk.method = "PUT"\nwrk.headers["Content-Type"] = "application/json"\n'
    'wrk.body = \'{"data":{"caller_id_number":"6001","caller_id_name":"bench"}}\'\n'
)


def line(name: str, got: dict, top: dict, same: dict | None = None) -> str:
    """One row of the table; `same`: the ceiling answering the same bytes (reads only)."""
    same_ratio = f"{got['rps'] / same['rps']:10.2f}" if same else f"{'':10}"
    cpu = f"{got['cpu_us']:10.0f}" if "cpu_us" in got else f"{'-':>10}"
    return (
        f"{name:58} {got['rps']:8.0f} {got['rps'] / top['rps']:6.2f} {same_ratio} {got['p50']:7.2f}"
        f" {got['p99']:7.2f} {cpu} {got['errors']:6}"
    )


class Bench:
    """vmbox and the ceiling, each loaded with wrk in turn with the same settings."""

    def __init__(self, args, tmp: Path, ids: dict, vmbox: subprocess.Popen, api_port: int):
        self.seconds, self.connections, self.token = args.seconds, args.connections, ids["token"]
        self.rounds = args.rounds
        self.tmp, self.vmbox = tmp, vmbox
        base = f"http://127.0.0.1:{api_port}/v2/accounts/{ids['account']}"
        self.big = f"{base}/vmboxes/{ids['big_box']}/messages"
        self.reads = [
            ("GET /vmboxes/{id}", f"{base}/vmboxes/{ids['small_box']}"),
            ("GET /vmboxes/{id}/messages (10k box, first page)", self.big),
            (
                "GET /vmboxes/{id}/messages (10k box, deep page)",
                f"{self.big}?start_key={ids['deep_key']}",
            ),
            ("GET /vmboxes (1,000 boxes, first page with counts)", f"{base}/vmboxes"),
        ]
        self.create = tmp / "create.lua"
        self.create.write_text(CREATE_LUA)

    def load(self, process, url: str, script: Path | None = None, connections: int = 0) -> dict:
        """wrk's figures for `url`, with `process`'s CPU per request."""
        conns = connections or self.connections
        return measured(process, partial(wrk, url, self.token, self.seconds, conns, script))

    def run(self) -> None:
        """Print one line per scenario."""
        bodies = self.tmp / "bodies"
        bodies.mkdir()
        for number, (_, url) in enumerate(self.reads):
            (bodies / f"body{number}").write_bytes(fetch(url, self.token))
        port = free_port()
        ceiling = start([sys.executable, str(HERE / "ceiling.py"), str(port), str(bodies)], port)
        try:
            print(f"\n{HEADER}")
            tops = []
            for number, (name, url) in enumerate(self.reads):
                top, got, same = self.interleaved(
                    (ceiling, f"http://127.0.0.1:{port}/"),
                    (self.vmbox, url),
                    (ceiling, f"http://127.0.0.1:{port}/body{number}"),
                )
                tops.append(top)
                print(line(name, got, top, same))
            top = combined(tops)
            print(line("ceiling: bare aiohttp, constant envelope (all rounds)", top, top))
            self.writes(top)
        finally:
            ceiling.terminate()
            ceiling.wait(timeout=10)

    def interleaved(self, *targets: tuple) -> list[dict]:
        """Each (process, url) loaded in turn, round after round (`--rounds`), each round a slice of
        `--seconds`: the machine's load drifts, and every figure of a line then sees the same drift."""
        slice_s = max(1, round(self.seconds / self.rounds))
        runs: list[list[dict]] = [[] for _ in targets]
        for _ in range(self.rounds):
            for runs_of, (process, url) in zip(runs, targets, strict=True):
                load = partial(wrk, url, self.token, slice_s, self.connections)
                runs_of.append(measured(process, load))
        return [combined(runs_of) for runs_of in runs]

    def writes(self, top: dict) -> None:
        """Messages created from every connection (req/s = messages/s); then reads beside creations."""
        created = self.load(self.vmbox, self.big, self.create)
        print(line("PUT /vmboxes/{id}/messages (create, JSON): messages/s", created, top))
        disk = fsync_latency(self.tmp)
        print(
            f"{'  disk: fsync of a 4 KiB append, same filesystem':58} {'':8} {'':6} {'':10} "
            f"{disk['p50']:7.2f} {disk['p99']:7.2f}"
        )
        half = max(self.connections // 2, 1)
        command = wrk_command(self.big, self.token, self.seconds, half, self.create)
        writer = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        read = self.load(self.vmbox, self.big, connections=half)
        written = wrk_figures(writer.communicate()[0])
        del read["cpu_us"]  # the server's CPU went to both loads
        print(line(f"GET first page ({half} conns) while creating in that box", read, top))
        print(line(f"  PUT create ({half} conns) at the same time", written, top))


if __name__ == "__main__":
    main()
