"""FastAGI benchmark (prints figures; not a timed test).

    .venv/bin/python tests/bench/bench_calls.py [--calls 500] [--profile FILE]

Starts `vmbox serve` on a fresh store and places simulated calls at full speed (virtual time: a 10 s
message is recorded instantly), in four phases against the same server:
- the mix: N calls at once, half leaving a 10 s message, half logging in and listening to one with
  fast-forward and rewind, keeping it and leaving: calls/s, failed calls, the server's CPU per call,
  the per-command turnaround (from the simulator's reply to the server's next command, as the
  simulator sees it: its own CPU per call is printed too, since a busy simulator reads late);
- N/2 deposit calls alone, then N/2 check calls alone: the server's CPU per deposit call and per
  check call. Each phase's CPU is the server's /proc CPU time from before it to after it, both read
  once the server has gone quiet, so the work a phase leaves behind (notification jobs) counts in it;
  the two kinds are apart, and their sum can be set beside the mix's;
- N/2 logins at one instant: check calls held at the `#` that ends their PIN until all are there,
  then all PINs sent in one loop; the time from that instant until each call has the server's answer
  (bench_calls_logins.py): all answered (the maximum), and the p99.
Every figure is printed beside the bare asyncio line server (line_ceiling.py) loaded the same way in
the same run (the same connections and round trips; for the logins, one line per connection, all at
one instant): the ceiling, and the ratio. With --profile the server runs under cProfile timed by its
event loop's CPU time (bench_calls_profiled.py) and writes its statistics to FILE.
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

from ivr.simulator.client import run_call
from store.accounts import create_account
from store.core import open_store
from store.messages import create_message
from store.vmbox_listing import list_vmboxes
from store.vmboxes import create_vmbox

if not __package__:  # run as a script (the README's way): the repository is not on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.bench_calls_logins import logins  # noqa: E402
from tests.bench.bench_calls_servers import (  # noqa: E402
    HERE,
    Ceiling,
    Load,
    free_port,
    percentile,
    reachable,
    run_ceiling,
    settled_cpu,
    start,
)

PIN = "1234"
DEPOSIT = "say tone 10s then press #; press 1"
# PIN; hear new; the envelope; 2 s in fast-forward 3 s; 1 s later rewind 3 s; the rest of the message
# and the envelope; keep it; "saved"; leave from the main menu.
CHECK = (
    f"press {PIN}#; press 1; wait; wait; press 8 after 2s; press 5 after 1s; wait; wait; wait; wait;"
    " wait; press 1; wait; press #"
)


def tone(path: Path, seconds: int) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(bytes(16000 * seconds))  # silence is fine: it is played, not listened to


def mailboxes(first: int, count: int) -> list[str]:
    return [str(first + n) for n in range(count)]


async def prepare(
    data_dir: Path, deposits: list[str], checks: list[str], url: str | None = None
) -> None:
    """A store (in `data_dir`, or the database at `url`) with a box for each mailbox of `deposits`,
    and a box with PIN 1234 holding one 10 s message for each of `checks`."""
    store = await open_store(data_dir, retention_days=93, url=url)
    account, _ = await create_account(store.db, "bench")
    for mailbox in deposits:
        await create_vmbox(store.db, account.id, {"name": f"Deposit {mailbox}", "mailbox": mailbox})
    for mailbox in checks:
        box = await create_vmbox(
            store.db,
            account.id,
            {
                "name": f"Check {mailbox}",
                "mailbox": mailbox,
                "pin": PIN,
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


async def calls(port: int, deposits: list[str], checks: list[str]) -> tuple[float, list]:
    """A deposit call into each box of `deposits` and a check call into each of `checks`, all at once:
    (wall seconds, transcripts, deposits first)."""
    started = time.perf_counter()
    transcripts = await asyncio.gather(
        *(
            run_call(
                "127.0.0.1",
                port,
                DEPOSIT,
                script_name="leave",
                arguments=[mailbox],
                caller_number="5551234",
                timeout=600,
            )
            for mailbox in deposits
        ),
        *(
            run_call(
                "127.0.0.1",
                port,
                CHECK,
                script_name="check",
                arguments=[mailbox],
                caller_number="2000",
                timeout=600,
            )
            for mailbox in checks
        ),
    )
    return time.perf_counter() - started, transcripts


async def verify(
    data_dir: Path, deposits: list[str], checks: list[str], url: str | None = None
) -> int:
    """Calls whose effect is missing from the store: a message not left in a box of `deposits`, or
    not kept in a box of `checks`."""
    store = await open_store(data_dir, retention_days=93, url=url)
    account = (await store.db.fetch_one("SELECT id FROM accounts"))[0]
    entries = {
        # KAZOO's listing leaves `folders` out for a box without messages.
        mailbox: json.loads(entry).get("folders", {"new": 0, "saved": 0})
        for mailbox, entry in await list_vmboxes(store.db, account, store.cutoff(), None, None)
    }
    await store.db.close()
    left = sum(1 for mailbox in deposits if entries[mailbox]["new"] == 1)
    kept = sum(1 for mailbox in checks if entries[mailbox]["saved"] == 1)
    return len(deposits) + len(checks) - left - kept


@dataclass
class Phase:
    """One phase against vmbox: its calls, and what was measured."""

    name: str
    deposits: list[str]
    checks: list[str]
    instant: bool = False  # the check calls' PINs are sent at one instant
    wall: float = 0.0
    cpu: float = 0.0  # the server's
    simulator_cpu: float = 0.0  # this process's: the load generator's
    transcripts: list = field(default_factory=list)
    answers: list[float] = field(default_factory=list)  # instant logins: seconds to each answer

    @property
    def count(self) -> int:
        return len(self.deposits) + len(self.checks)

    @property
    def turnarounds(self) -> list[float]:
        return [value for t in self.transcripts for value in t.turnarounds]

    def load(self) -> Load:
        """The same load for the line server."""
        if self.instant:
            return Load(self.name, self.count, 0)
        return Load(self.name, self.count, round(len(self.turnarounds) / self.count))

    def run(self, port: int, pid: int) -> None:
        before, simulator = settled_cpu(pid), time.process_time()
        started = time.perf_counter()
        if self.instant:
            self.transcripts, self.answers = asyncio.run(
                logins(port, CHECK, self.checks, f"{PIN}#")
            )
        else:
            _, self.transcripts = asyncio.run(calls(port, self.deposits, self.checks))
        self.wall = time.perf_counter() - started
        self.simulator_cpu = time.process_time() - simulator
        self.cpu = settled_cpu(pid) - before


def phases(calls_at_once: int) -> list[Phase]:
    half = calls_at_once // 2
    return [
        Phase("mix", mailboxes(400000, half), mailboxes(500000, half)),
        Phase("deposits", mailboxes(410000, half), []),
        Phase("checks", [], mailboxes(510000, half)),
        Phase("logins", [], mailboxes(520000, half), instant=True),
    ]


def run_vmbox(data_dir: Path, plan: list[Phase], profile: Path | None) -> None:
    """`vmbox serve` on `data_dir`, each phase of `plan` run against it in turn."""
    api_port, agi_port = free_port(), free_port()
    env = {
        **os.environ,
        "VMBOX_STORE_DATA_DIR": str(data_dir),
        "VMBOX_API_PORT": str(api_port),
        "VMBOX_AGI_PORT": str(agi_port),
    }
    runner = [str(HERE / "bench_calls_profiled.py"), str(profile)] if profile else ["-m"]
    server = start(
        [sys.executable, *runner, "ivr.cli", "--log-level", "WARNING", "serve"],
        env,
        reachable(f"http://127.0.0.1:{api_port}/healthz"),
    )
    try:
        for phase in plan:
            phase.run(agi_port, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=60)


def figures(plan: dict[str, Phase], top: dict[str, Ceiling]) -> list[tuple[str, float, float]]:
    """(name, vmbox, ceiling) rows."""

    def per_call_ms(name: str, vmbox_s: float, ceiling_s: float) -> tuple[float, float]:
        return 1000 * vmbox_s / plan[name].count, 1000 * ceiling_s / top[name].connections

    def turnaround_ms(name: str, fraction: float) -> tuple[float, float]:
        return (
            1000 * percentile(plan[name].turnarounds, fraction),
            1000 * percentile(top[name].turnarounds, fraction),
        )

    mix, logins_ = plan["mix"], plan["logins"]
    answers = logins_.answers or [float("nan")]
    return [
        ("mix: calls/s", mix.count / mix.wall, mix.count / top["mix"].wall),
        ("mix: server CPU ms per call", *per_call_ms("mix", mix.cpu, top["mix"].cpu)),
        ("mix: turnaround p50 ms", *turnaround_ms("mix", 0.5)),
        ("mix: turnaround p99 ms", *turnaround_ms("mix", 0.99)),
        (
            "mix: simulator CPU ms per call",
            *per_call_ms("mix", mix.simulator_cpu, top["mix"].simulator_cpu),
        ),
        (
            "deposit call: server CPU ms",
            *per_call_ms("deposits", plan["deposits"].cpu, top["deposits"].cpu),
        ),
        ("deposit calls: turnaround p99 ms", *turnaround_ms("deposits", 0.99)),
        (
            "check call: server CPU ms",
            *per_call_ms("checks", plan["checks"].cpu, top["checks"].cpu),
        ),
        ("check calls: turnaround p99 ms", *turnaround_ms("checks", 0.99)),
        (
            f"{logins_.count} logins at once: all answered ms",
            1000 * max(answers),
            1000 * top["logins"].wall,
        ),
        (
            f"{logins_.count} logins at once: p99 ms",
            1000 * percentile(answers, 0.99),
            1000 * percentile(top["logins"].turnarounds, 0.99),
        ),
    ]


def report(plan: list[Phase], top: dict[str, Ceiling], failed: int, missing: int) -> None:
    by_name = {phase.name: phase for phase in plan}
    mix, half = by_name["mix"], len(by_name["deposits"].deposits)
    print(
        f"\n{mix.count} calls at once ({len(mix.deposits)} deposits of 10 s, {len(mix.checks)} checks"
        f" with ff/rw), {len(mix.turnarounds) / mix.count:.1f} commands per call; then {half}"
        f" deposit calls alone, {half} check calls alone, {half} logins whose PINs arrive at one"
        f" instant.\nfailed calls: {failed}; calls whose effect is missing from the store: {missing}"
    )
    print(f"{'figure':36} {'vmbox':>10} {'ceiling':>10} {'ratio':>7}")
    for name, value, ceiling in figures(by_name, top):
        print(f"{name:36} {value:10.2f} {ceiling:10.2f} {value / ceiling:7.2f}")
    deposits, checks = by_name["deposits"].cpu, by_name["checks"].cpu
    print(
        f"server CPU: the mix {mix.cpu:.2f} s; its deposits and checks alone {deposits + checks:.2f}"
        f" s ({deposits:.2f} + {checks:.2f})"
    )
    print(
        "\nslowest turnarounds in the mix, by the commands around them (the server's work between):"
    )
    for (before, after), values in slowest_steps(mix.transcripts):
        print(
            f"  {before:>22} -> {after:22} n={len(values):4}  p50 {statistics.median(values):7.1f} ms"
            f"  p99 {percentile(values, 0.99):7.1f} ms"
        )


def step(command: str) -> str:
    """A command as a step: its verb, or for STREAM FILE the sound (a message's audio as such)."""
    verb, _, rest = command.partition('"')
    if verb.strip() != "STREAM FILE":
        return verb.strip()
    sound = rest.partition('"')[0].rsplit("/", 1)[-1]
    return "(a message)" if len(sound) == 32 and sound.isalnum() else sound


def slowest_steps(transcripts, count: int = 6) -> list:
    """Turnarounds grouped by (previous command, next command), slowest p99 first."""
    groups: dict[tuple[str, str], list[float]] = {}
    for transcript in transcripts:
        steps = ["(headers)", *(step(exchange.command) for exchange in transcript.exchanges)]
        for index, seconds in enumerate(transcript.turnarounds):
            after = steps[index + 1] if index + 1 < len(steps) else "(end)"
            groups.setdefault((steps[index], after), []).append(1000 * seconds)
    return sorted(groups.items(), key=lambda item: -percentile(item[1], 0.99))[:count]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--calls", type=int, default=500, help="calls at once in the mix (half deposit, half check)"
    )
    parser.add_argument("--profile", type=Path, help="run vmbox under cProfile, statistics to FILE")
    args = parser.parse_args()
    plan = phases(args.calls)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        deposits = [box for phase in plan for box in phase.deposits]
        checks = [box for phase in plan for box in phase.checks]
        asyncio.run(prepare(data_dir, deposits, checks))
        run_vmbox(data_dir, plan, args.profile)
        missing = asyncio.run(verify(data_dir, deposits, checks))
    failed = sum(1 for phase in plan for t in phase.transcripts if not t.ok)
    report(plan, run_ceiling([phase.load() for phase in plan]), failed, missing)


if __name__ == "__main__":
    main()
