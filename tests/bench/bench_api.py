"""REST API benchmark (prints figures; not a timed test).

    .venv/bin/python tests/bench/bench_api.py [--seconds 5] [--connections 8]

Fills a store with 1,000 boxes and 100,000 messages (one box holds 10,000), starts `vmbox serve` on it
and, beside it, a bare aiohttp server answering a constant envelope (the ceiling), then loads each with
wrk (installed with apt when missing) and prints requests/s and p50/p99 latency, each as a ratio of the
ceiling measured in the same run.
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


def wrk(url: str, token: str, seconds: int, connections: int, script: Path | None = None) -> dict:
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
    output = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout
    if "Latency Distribution" not in output:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]),
        "p50": _ms(re.search(r"^\s*50%\s+(\S+)", output, re.M)[1]),
        "p99": _ms(re.search(r"^\s*99%\s+(\S+)", output, re.M)[1]),
        "errors": int(errors[1]) if errors else 0,
    }


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
        api_port, ceiling_port = free_port(), free_port()
        env = {
            **os.environ,
            "VMBOX_STORE_DATA_DIR": str(data_dir),
            "VMBOX_API_PORT": str(api_port),
            "VMBOX_AGI_PORT": "0",
        }
        vmbox = start(
            [sys.executable, "-m", "ivr.cli", "--log-level", "WARNING", "serve"], api_port, env
        )
        ceiling = start([sys.executable, str(HERE / "ceiling.py"), str(ceiling_port)], ceiling_port)
        create_script = Path(tmp) / "create.lua"
        create_script.write_text(
            'wrk.method = "PUT"\nwrk.headers["Content-Type"] = "application/json"\n'
            'wrk.body = \'{"data":{"caller_id_number":"6001","caller_id_name":"bench"}}\'\n'
        )
        base = f"http://127.0.0.1:{api_port}/v2/accounts/{ids['account']}"
        scenarios = [
            ("GET /vmboxes/{id}", f"{base}/vmboxes/{ids['small_box']}", None),
            (
                "GET /vmboxes/{id}/messages (10k box, first page)",
                f"{base}/vmboxes/{ids['big_box']}/messages",
                None,
            ),
            (
                "GET /vmboxes/{id}/messages (10k box, deep page)",
                f"{base}/vmboxes/{ids['big_box']}/messages?start_key={ids['deep_key']}",
                None,
            ),
            ("GET /vmboxes (1,000 boxes, first page with counts)", f"{base}/vmboxes", None),
            (
                "PUT /vmboxes/{id}/messages (create)",
                f"{base}/vmboxes/{ids['small_box']}/messages",
                create_script,
            ),
        ]
        try:
            top = wrk(
                f"http://127.0.0.1:{ceiling_port}/", ids["token"], args.seconds, args.connections
            )
            print(
                f"\n{'scenario':52} {'req/s':>8} {'ratio':>6} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}"
            )
            print(
                f"{'ceiling: bare aiohttp, constant envelope':52} {top['rps']:8.0f} {1:6.2f} "
                f"{top['p50']:7.2f} {top['p99']:7.2f} {top['errors']:6}"
            )
            for name, url, script in scenarios:
                got = wrk(url, ids["token"], args.seconds, args.connections, script)
                print(
                    f"{name:52} {got['rps']:8.0f} {got['rps'] / top['rps']:6.2f} "
                    f"{got['p50']:7.2f} {got['p99']:7.2f} {got['errors']:6}"
                )
        finally:
            for process in (vmbox, ceiling):
                process.terminate()
                process.wait(timeout=10)


if __name__ == "__main__":
    main()
