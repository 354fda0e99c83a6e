"""Several-nodes benchmark (prints figures; not a timed test).

    .venv/bin/python -m tests.bench.bench_nodes [--calls 200] [--seconds 5] [--connections 8]

Three set-ups, each on a fresh store, measured in one run:
- one `vmbox serve` on SQLite (the embedded default);
- one `vmbox serve` on PostgreSQL;
- two `vmbox serve` nodes on the same PostgreSQL database (each its own data directory and ports).
For each: the call mix (N simulated FastAGI calls at once, in virtual time, half leaving a 10 s message
and half logging in and listening to one; split evenly between the nodes): calls/s and failed or
missing calls; then API reads (wrk, GET /vmboxes/{id} with `--connections` connections on every node
at once): reads/s. Figures are printed with their ratio to the SQLite node, and the growth from one
PostgreSQL node to two. PostgreSQL is a cluster of its own (tests/pgkit.py) with fsync on, as SQLite's
synchronous=FULL; it runs on this machine too, so on a small machine the nodes and the database share
its cores.
"""

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from store.accounts import create_token
from store.core import open_store
from tests.bench.bench_api import ensure_wrk, wrk
from tests.bench.bench_calls import calls, mailboxes, prepare, verify
from tests.bench.bench_calls_servers import free_port, reachable, start
from tests.pgkit import PostgresServer


@dataclass
class Node:
    process: object
    api_port: int
    agi_port: int


@dataclass
class Figures:
    calls_per_s: float
    failed: int
    reads_per_s: float


def serve(data_dir: Path, url: str | None) -> Node:
    api_port, agi_port = free_port(), free_port()
    env = {
        **os.environ,
        "VMBOX_STORE_DATA_DIR": str(data_dir),
        "VMBOX_API_PORT": str(api_port),
        "VMBOX_AGI_PORT": str(agi_port),
    }
    if url:
        env["VMBOX_STORE_URL"] = url
    process = start(
        [sys.executable, "-m", "ivr.cli", "--log-level", "WARNING", "serve"],
        env,
        reachable(f"http://127.0.0.1:{api_port}/healthz"),
    )
    return Node(process, api_port, agi_port)


async def token_and_box(data_dir: Path, url: str | None) -> tuple[str, str, str]:
    store = await open_store(data_dir, retention_days=93, url=url)
    (account,) = await store.db.fetch_one("SELECT id FROM accounts")
    (box,) = await store.db.fetch_one("SELECT id FROM vmboxes ORDER BY mailbox LIMIT 1")
    token, _ = await create_token(store.db, account, 86400)
    await store.db.close()
    return account, box, token


async def place_calls(nodes: list[Node], deposits: list[str], checks: list[str]) -> list:
    shares = [
        calls(node.agi_port, deposits[n :: len(nodes)], checks[n :: len(nodes)])
        for n, node in enumerate(nodes)
    ]
    return [t for _, transcripts in await asyncio.gather(*shares) for t in transcripts]


def reads(nodes: list[Node], account: str, box: str, token: str, seconds: int, connections: int):
    """wrk against every node at once; the sum of their requests/s (a non-2xx answer fails the run)."""
    from concurrent.futures import ThreadPoolExecutor

    urls = [f"http://127.0.0.1:{n.api_port}/v2/accounts/{account}/vmboxes/{box}" for n in nodes]
    with ThreadPoolExecutor(len(urls)) as pool:
        results = list(pool.map(lambda url: wrk(url, token, seconds, connections), urls))
    if any(result["errors"] for result in results):
        raise RuntimeError(f"reads answered with errors: {results}")
    return sum(result["rps"] for result in results)


def measure(name: str, count: int, nodes_wanted: int, url: str | None, args, tmp: Path) -> Figures:
    half = count // 2
    deposits, checks = mailboxes(400000, half), mailboxes(500000, half)
    dirs = [tmp / f"{name}-{n}" for n in range(nodes_wanted)]
    started = time.perf_counter()
    asyncio.run(prepare(dirs[0], deposits, checks, url))
    for other in dirs[1:]:  # every node the same PIN key (README "Several nodes")
        other.mkdir(parents=True)
        shutil.copy2(dirs[0] / "pin.key", other / "pin.key")
    print(f"{name}: store prepared in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    nodes = [serve(directory, url) for directory in dirs]
    try:
        started = time.perf_counter()
        transcripts = asyncio.run(place_calls(nodes, deposits, checks))
        wall = time.perf_counter() - started
        failed = sum(1 for t in transcripts if not t.ok)
        account, box, token = asyncio.run(token_and_box(dirs[0], url))
        rps = reads(nodes, account, box, token, args.seconds, args.connections)
    finally:
        for node in nodes:
            node.process.terminate()
            node.process.wait(timeout=60)
    missing = asyncio.run(verify(dirs[0], deposits, checks, url))
    return Figures(count / wall, failed + missing, rps)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=200, help="calls at once in the mix")
    parser.add_argument("--seconds", type=int, default=5, help="duration of each read load")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections per node")
    args = parser.parse_args()
    ensure_wrk()
    server = PostgresServer(durable=True)
    server.start()
    try:
        with tempfile.TemporaryDirectory() as scratch:
            tmp = Path(scratch)
            setups = [
                ("sqlite, 1 node", 1, None),
                ("postgresql, 1 node", 1, asyncio.run(server.new_database())),
                ("postgresql, 2 nodes", 2, asyncio.run(server.new_database())),
            ]
            results = {
                name: measure(name.split(",")[0] + str(n), args.calls, n, url, args, tmp)
                for name, n, url in setups
            }
    finally:
        server.stop()
    base = results["sqlite, 1 node"]
    print(f"{'set-up':<22}{'calls/s':>10}{'ratio':>8}{'failed':>8}{'reads/s':>10}{'ratio':>8}")
    for name, got in results.items():
        print(
            f"{name:<22}{got.calls_per_s:>10.1f}{got.calls_per_s / base.calls_per_s:>8.2f}"
            f"{got.failed:>8}{got.reads_per_s:>10.0f}{got.reads_per_s / base.reads_per_s:>8.2f}"
        )
    one, two = results["postgresql, 1 node"], results["postgresql, 2 nodes"]
    print(
        f"from one PostgreSQL node to two: calls/s x{two.calls_per_s / one.calls_per_s:.2f},"
        f" reads/s x{two.reads_per_s / one.reads_per_s:.2f} ({os.cpu_count()} cores for everything)"
    )


if __name__ == "__main__":
    main()
