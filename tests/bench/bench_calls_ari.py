"""ARI benchmark beside FastAGI (prints figures; not a timed test).

    .venv/bin/python -m tests.bench.bench_calls_ari [--calls 500]

The IVR concurrent-call benchmark (bench_calls.py: half the calls leave a 10 s message, half log in
and listen with fast-forward and rewind, keep it and leave), run twice in the same process against a
fresh `vmbox serve` each time: over FastAGI with the simulator, then over ARI with vmbox registered as a
Stasis application on the fake ARI server (ivr/simulator/ari.py: real HTTP and websocket on loopback,
virtual time, every stored recording fetched and deleted, every message fetched over vmbox's media
URLs). Prints calls/s, failed calls and the server's CPU per call for each driver.
"""

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from ivr.simulator.ari import FakeAri
from ivr.simulator.client import DEFAULT_SOUNDS
from tests.bench.bench_calls import CHECK, DEPOSIT, calls, mailboxes, prepare, verify
from tests.bench.bench_calls_servers import cpu_seconds, free_port, reachable, start

PASSWORD = "bench"


async def ari_calls(fake: FakeAri, deposits: list[str], checks: list[str]) -> tuple[float, list]:
    await fake.wait_connected()
    started = time.perf_counter()
    transcripts = await asyncio.gather(
        *(
            fake.call(DEPOSIT, args=["leave", mailbox], caller_number="5551234", timeout=600)
            for mailbox in deposits
        ),
        *(
            fake.call(CHECK, args=["check", mailbox], caller_number="2000", timeout=600)
            for mailbox in checks
        ),
    )
    return time.perf_counter() - started, transcripts


def serve(data_dir: Path, extra: dict) -> tuple:
    api_port = free_port()
    env = {
        **os.environ,
        "VMBOX_STORE_DATA_DIR": str(data_dir),
        "VMBOX_API_PORT": str(api_port),
        "VMBOX_AGI_PORT": str(free_port()),
        **extra,
    }
    process = start(
        [sys.executable, "-m", "ivr.cli", "--log-level", "WARNING", "serve"],
        env,
        reachable(f"http://127.0.0.1:{api_port}/healthz"),
    )
    return process, env


def run_agi(data_dir: Path, deposits: list[str], checks: list[str]) -> tuple[float, list, float]:
    server, env = serve(data_dir, {})
    try:
        before = cpu_seconds(server.pid)
        wall, transcripts = asyncio.run(calls(int(env["VMBOX_AGI_PORT"]), deposits, checks))
        return wall, transcripts, cpu_seconds(server.pid) - before
    finally:
        server.terminate()
        server.wait(timeout=30)


async def run_ari(
    data_dir: Path, deposits: list[str], checks: list[str]
) -> tuple[float, list, float]:
    fake = FakeAri(DEFAULT_SOUNDS, password=PASSWORD)
    url = await fake.start()
    extra = {
        "VMBOX_ARI_URL": url,
        "VMBOX_ARI_PASSWORD": PASSWORD,
        "VMBOX_ARI_MEDIA_PORT": str(free_port()),
    }
    server, _ = await asyncio.to_thread(serve, data_dir, extra)
    try:
        before = cpu_seconds(server.pid)
        wall, transcripts = await ari_calls(fake, deposits, checks)
        used = cpu_seconds(server.pid) - before
        if fake.errors:
            print("fake ARI errors:", *fake.errors[:5], sep="\n  ")
        return wall, transcripts, used
    finally:
        server.terminate()
        await asyncio.to_thread(server.wait, 30)
        await fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--calls", type=int, default=500, help="concurrent calls (half deposit, half check)"
    )
    args = parser.parse_args()
    boxes = args.calls // 2
    deposits, checks = mailboxes(40000, boxes), mailboxes(50000, boxes)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for driver in ("agi", "ari"):
            data_dir = Path(tmp) / driver
            asyncio.run(prepare(data_dir, deposits, checks))
            wall, transcripts, cpu = (
                run_agi(data_dir, deposits, checks)
                if driver == "agi"
                else asyncio.run(run_ari(data_dir, deposits, checks))
            )
            failed = sum(1 for t in transcripts if not t.ok) + asyncio.run(
                verify(data_dir, deposits, checks)
            )
            results[driver] = (len(transcripts) / wall, failed, 1000 * cpu / len(transcripts))
            if driver == "ari":
                for transcript in transcripts:
                    if not transcript.ok:
                        print("first failed ARI call:", *transcript.report()[-6:], sep="\n  ")
                        break
    print(
        f"\n{args.calls} concurrent calls ({boxes} deposits of 10 s, {boxes} checks with ff/rw), same run"
    )
    print(f"{'figure':26} {'FastAGI':>10} {'ARI':>10} {'ARI/AGI':>8}")
    for index, name in enumerate(("calls/s", "failed calls", "server CPU ms per call")):
        agi, ari = results["agi"][index], results["ari"][index]
        print(f"{name:26} {agi:10.2f} {ari:10.2f} {ari / agi if agi else float('nan'):8.2f}")


if __name__ == "__main__":
    main()
