"""Real calls through a real Asterisk: vmbox over FastAGI, vmbox over ARI, and Asterisk's own
app_voicemail, in the same run (prints figures; not a timed test).

    VMBOX_TEST_ASTERISK=<asterisk> .venv/bin/python -m tests.bench.bench_real_asterisk [--calls 50]

Each system gets N concurrent calls on Local channels (tests/asterisk: callers placed with AMI, their
keys sent with SendDTMF, what they hear recorded by MixMonitor): half deposits (the caller waits for
the beep, says --message-s of speech from a sound file, presses #, then 1 to save) and half checks of
a box holding one new message of that length (the owner gives the PIN, plays the message, presses
fast-forward 0.2 x its length in and rewind 0.1 x its length later, 3 s each, saves it and leaves).
vmbox runs as `vmbox serve` set up as tests/asterisk/vmbox.py does for each driver, first FastAGI, then
ARI, on one Asterisk (boxes with is_voicemail_ff_rw_enabled; keys 8 and 5 seek, 1 keeps, # leaves).
app_voicemail runs on an Asterisk of its own (it cannot load beside res_mwi_external):
VoiceMail(<box>@default,u) and VoiceMailMain(<box>@default), voicemail.conf with review, saycid,
envelope and skipms 3000; during a message # fast-forwards and * rewinds, then 9 and 1 save the message
to Old, # leaves. Callers press each key as the prompt naming it starts and otherwise wait only for
what they hear, except for how long they listen to the message before each seek.

Figures per system:
- failed calls: the call did not go as scripted (a sound did not start within 60 s, the call was not
  answered) or its effect is missing afterwards (no message of at least --message-s - 1.5 s stored;
  the checked message not filed as saved, or in Old).
- keys not acted on (of keys pressed): each press (one key, or the PIN and # typed in one go) must
  reach the far end's channel (the switchboard's keys_received: Asterisk's DTMF log) and cause its
  reaction: the next sound the far end starts (the switchboard's sounds played; `silence/*` waits do not
  count) must be the one the menu promises for that key (vm-review after the # that ends a recording on
  vmbox, auth-thankyou on app_voicemail; vm-msgsaved after 1; ...), and a fast-forward or rewind must
  make the message, as the caller heard it, jump forward or back by a second or more (app_voicemail seeks
  inside the playing file and starts no new sound). Every key of a press that fails counts.
- CPU ms per call: utime + stime from /proc/<pid>/stat, read just before the first call is placed and
  after the last has ended, divided by the calls: "voicemail" is `vmbox serve` for FastAGI and ARI, and
  Asterisk itself for app_voicemail (the in-process reference); "Asterisk" is the Asterisk process on
  every system; "vmbox + Asterisk" their sum (Asterisk alone for app_voicemail). Asterisk's CPU includes
  the harness's callers (MixMonitor, SendDTMF, the silence they send), which last as long as the calls.
- prompt-to-prompt gap, heard: for every two sounds the far end started one after the other with no key
  received between them (a menu sequence: the switchboard's order of sounds and keys), the silence the
  caller heard between them: where the second starts in the caller's audio minus where the first ended
  (each known sound is found in the audio sample for sample, as tests/asterisk/heard.py does; for the
  message, the end of the last stretch of it heard before the second sound). A start or end is used only
  when that sound's first or last samples are in the recording; other pairs count as not measurable.
  MixMonitor's recording is good to about a frame (20 ms): it holds the far end's audio up to 80 ms while
  waiting for the caller's side, so a shorter silence can shrink or vanish in what is heard.
- prompt-to-prompt gap, log: the same pairs (but those after the message), from Asterisk's log: the time
  between the two sounds' "Playing" lines minus how long Asterisk plays the first (its samples less its
  WAV header's size, as format_wav.c reads). What the far end sent, to the millisecond, free of
  MixMonitor's timing.
  Both gaps: median and 99th percentile over every gap of every call that did not fail.
- call length s: median, from placing a call to its end (the far end hung up, its audio closed).
- wall s: from the first call placed to the last call ended.
Ratios are vmbox / app_voicemail from the same run. Medians and percentiles only; nothing is asserted.
"""

import argparse
import asyncio
import contextlib
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ivr.ami_client import AmiRefused
from tests.asterisk.heard import Heard, pcm
from tests.asterisk.install import find_asterisk, required
from tests.asterisk.phone import CallFailed, Switchboard
from tests.asterisk.server import Asterisk
from tests.asterisk.vmbox import Vmbox
from tests.bench.bench_calls_servers import cpu_seconds, percentile
from tests.bench.real_calls import (
    Caller,
    Timeline,
    check_app_voicemail,
    check_vmbox,
    deposit_app_voicemail,
    deposit_vmbox,
    keys_not_acted_on,
    speech,
)
from tests.bench.real_heard import Gaps, gaps, jumps, segments
from tests.bench.real_systems import (
    AVM_CONTEXTS,
    DEPOSITOR,
    OWNER,
    Call,
    Plan,
    avm_config,
    avm_messages,
    avm_missing,
    vmbox_boxes,
    vmbox_missing,
)

SYSTEMS = ("fastagi", "ari", "app_voicemail")
LABELS = {"fastagi": "FastAGI", "ari": "ARI", "app_voicemail": "app_voicemail"}
CALL_TIMEOUT_S = 300


@dataclass
class Figures:
    calls: int
    wall_s: float
    voicemail_cpu_s: float  # vmbox serve's; Asterisk's own for app_voicemail
    asterisk_cpu_s: float
    vmbox: bool  # False: app_voicemail, in Asterisk
    failures: list[str] = field(default_factory=list)
    keys: int = 0
    keys_missed: int = 0
    call_seconds: list[float] = field(default_factory=list)
    gaps: Gaps = field(default_factory=Gaps)


class Progress:
    """Calls done / total: on one line on a terminal, else a line at each tenth."""

    def __init__(self, label: str, total: int):
        self.label, self.total, self.done = label, total, 0
        self.tty = sys.stdout.isatty()

    def one_done(self) -> None:
        self.done += 1
        line = f"  {self.label}: {self.done}/{self.total} calls done"
        if self.tty:
            print(f"\r{line}", end="\n" if self.done == self.total else "", flush=True)
        elif self.done * 10 // self.total > (self.done - 1) * 10 // self.total:
            print(line, flush=True)


async def run_calls(calls: list[Call], place, script, label: str) -> None:
    """Every call at once: `place(call)` gives its Phone, `script(call)` is what its caller does."""
    progress = Progress(label, len(calls))

    async def one(call: Call) -> None:
        placed = time.perf_counter()
        try:
            call.caller = Caller(await place(call))
            async with asyncio.timeout(CALL_TIMEOUT_S):
                await script(call)
                await call.caller.phone.heard()
        except (CallFailed, AmiRefused, ConnectionError, TimeoutError) as exc:
            call.failure = f"{call.kind} {call.mailbox}: {exc}"
            if call.caller is not None:
                with contextlib.suppress(CallFailed, AmiRefused, ConnectionError, TimeoutError):
                    await call.caller.phone.hang_up()
                    await call.caller.phone.heard(timeout=30)
        call.seconds = time.perf_counter() - placed
        progress.one_done()

    await asyncio.gather(*(one(call) for call in calls))


async def measure(asterisk: Asterisk, vmbox_pid: int | None, place, plan: Plan, label: str):
    """Run the plan's calls on `asterisk`; the calls, their timeline and the figures of the run."""
    calls = plan.calls_to_place()
    deposit, check = (
        (deposit_vmbox, check_vmbox) if vmbox_pid else (deposit_app_voicemail, check_app_voicemail)
    )

    async def script(call: Call) -> None:
        if call.kind == "deposit":
            await deposit(call.caller, plan.said)
        else:
            await check(call.caller, plan.message_s)

    timeline = Timeline(asterisk)
    pids = [asterisk.process.pid, vmbox_pid or asterisk.process.pid]
    try:
        before = [cpu_seconds(pid) for pid in pids]
        started = time.perf_counter()
        await run_calls(calls, place, script, label)
        wall = time.perf_counter() - started
        used = [cpu_seconds(pid) - cpu for pid, cpu in zip(pids, before, strict=True)]
    finally:
        timeline.stop()
    return calls, timeline, Figures(len(calls), wall, used[1], used[0], vmbox_pid is not None)


def analyse(calls: list[Call], timeline: Timeline, figures: Figures, plan: Plan) -> Figures:
    """Failures, keys not acted on and gaps of every call (from its far end's timeline and its audio)."""
    message = pcm(plan.said)
    for call in calls:
        if call.failure:
            figures.failures.append(call.failure)
        else:
            figures.call_seconds.append(call.seconds)
        if call.caller is None:
            continue
        phone = call.caller.phone
        events = timeline.far_end(phone)
        figures.keys += sum(len(press.keys) for press in call.caller.presses)
        heard = None
        if phone.closed.is_set():
            heard = Heard(pcm(heard_file(phone)))
        parts = segments(heard, message) if heard is not None and call.kind == "check" else []
        figures.keys_missed += keys_not_acted_on(events, call.caller.presses, jumps(parts))
        if heard is not None and not call.failure:
            figures.gaps.add(gaps(events, heard, parts))
    return figures


def heard_file(phone) -> Path:
    return phone.switchboard.asterisk.heard_dir / f"{phone.uniqueid}.wav"


async def run_vmbox(driver: str, asterisk: Asterisk, plan: Plan, directory: Path) -> Figures:
    switchboard = Switchboard(asterisk)
    vmbox = await Vmbox(driver, asterisk, switchboard, directory / f"vmbox-{driver}").start()
    try:
        boxes = await vmbox_boxes(vmbox, plan)

        async def place(call: Call):
            entry, caller_id = ("leave", DEPOSITOR) if call.kind == "deposit" else ("check", OWNER)
            return await vmbox.call(entry, call.mailbox, caller_id)

        print(f"  {LABELS[driver]}: vmbox serve up, {2 * plan.boxes} boxes made", flush=True)
        calls, timeline, figures = await measure(
            asterisk, vmbox.serve.process.pid, place, plan, LABELS[driver]
        )
        for call in calls:
            if not call.failure and (missing := await vmbox_missing(vmbox, boxes, call, plan)):
                call.failure = f"{call.kind} {call.mailbox}: {missing}"
    finally:
        await vmbox.stop()
        switchboard.close()
    return analyse(calls, timeline, figures, plan)


async def run_app_voicemail(installation, plan: Plan, directory: Path) -> Figures:
    (directory / "asterisk-app_voicemail").mkdir()
    asterisk = Asterisk(
        installation,
        directory / "asterisk-app_voicemail",
        voicemail=True,
        files={"voicemail.conf": avm_config(plan), "extensions.conf": AVM_CONTEXTS},
    )
    spool = asterisk.directory / "spool" / "voicemail" / "default"
    avm_messages(spool, plan)
    await asterisk.start()
    switchboard = Switchboard(asterisk)
    try:

        async def place(call: Call):
            if call.kind == "deposit":
                return await switchboard.call("bench-avm-leave", call.mailbox, caller_id=DEPOSITOR)
            return await switchboard.call("bench-avm-check", call.mailbox, caller_id=OWNER)

        print("  app_voicemail: its Asterisk up", flush=True)
        calls, timeline, figures = await measure(
            asterisk, None, place, plan, LABELS["app_voicemail"]
        )
        for call in calls:
            if not call.failure and (missing := avm_missing(spool, call, plan)):
                call.failure = f"{call.kind} {call.mailbox}: {missing}"
    finally:
        switchboard.close()
        await asterisk.stop()
    return analyse(calls, timeline, figures, plan)


# --- the run ------------------------------------------------------------------------------------


async def bench(args: argparse.Namespace, directory: Path) -> dict[str, Figures]:
    installation = find_asterisk()
    required(installation)
    plan = Plan(args.calls, args.message_s, speech(directory, args.message_s))
    print(
        f"Asterisk {installation.version}; {plan.calls} concurrent calls per system"
        f" ({plan.boxes} deposits of {plan.message_s:g} s, {plan.boxes} checks with ff/rw);"
        f" working in {directory}",
        flush=True,
    )
    results: dict[str, Figures] = {}
    drivers = [system for system in ("fastagi", "ari") if system in args.systems]
    if drivers:
        (directory / "asterisk").mkdir()
        asterisk = await Asterisk(installation, directory / "asterisk").start()
        try:
            for driver in drivers:
                results[driver] = await run_vmbox(driver, asterisk, plan, directory)
        finally:
            await asterisk.stop()
    if "app_voicemail" in args.systems:
        results["app_voicemail"] = await run_app_voicemail(installation, plan, directory)
    return results


Row = tuple[str, float | None, str, bool]  # figure, value (None: none), format, has a ratio


def rows(figures: Figures) -> list[Row]:
    """The figures of one system, in the order printed."""
    heard = [1000 * gap for gap in figures.gaps.heard]
    logged = [1000 * gap for gap in figures.gaps.logged]
    per_call = 1000 / figures.calls
    lengths = figures.call_seconds
    in_process = figures.voicemail_cpu_s if figures.vmbox else 0.0
    return [
        ("failed calls", len(figures.failures), "d", False),
        ("keys not acted on", figures.keys_missed, "d", False),
        ("keys pressed", figures.keys, "d", False),
        ("voicemail CPU ms per call", figures.voicemail_cpu_s * per_call, ".1f", True),
        ("Asterisk CPU ms per call", figures.asterisk_cpu_s * per_call, ".1f", True),
        (
            "vmbox + Asterisk CPU ms/call",
            (in_process + figures.asterisk_cpu_s) * per_call,
            ".1f",
            True,
        ),
        ("prompt gap p50 ms, heard", statistics.median(heard) if heard else None, ".1f", True),
        ("prompt gap p99 ms, heard", percentile(heard, 0.99) if heard else None, ".1f", True),
        ("gaps measured", len(heard), "d", False),
        ("gaps not measurable", figures.gaps.unmatched, "d", False),
        ("prompt gap p50 ms, log", statistics.median(logged) if logged else None, ".1f", True),
        ("prompt gap p99 ms, log", percentile(logged, 0.99) if logged else None, ".1f", True),
        ("call length s, median", statistics.median(lengths) if lengths else None, ".1f", True),
        ("wall s", figures.wall_s, ".1f", True),
    ]


def table(results: dict[str, Figures]) -> list[str]:
    """The figures of every system run, and vmbox / app_voicemail ratios when both ran."""
    systems = list(results)
    columns = {system: rows(figures) for system, figures in results.items()}
    reference = columns.get("app_voicemail")
    ratios = [system for system in systems if system != "app_voicemail"] if reference else []
    lines = [
        f"{'figure':30}"
        + "".join(f"{LABELS[system]:>15}" for system in systems)
        + "".join(f"{LABELS[system] + '/avm':>13}" for system in ratios)
    ]
    for index, (name, _, fmt, has_ratio) in enumerate(columns[systems[0]]):
        values = [columns[system][index][1] for system in systems]
        line = f"{name:30}" + "".join(f"{_shown(value, fmt):>15}" for value in values)
        base = reference[index][1] if reference else None
        for system in ratios:
            value = columns[system][index][1]
            ratio = value / base if has_ratio and base and value is not None else None
            line += f"{_shown(ratio, '.2f'):>13}"
        lines.append(line)
    return lines


def _shown(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.bench_real_asterisk",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--calls",
        type=int,
        default=50,
        help="concurrent calls per system, half deposits and half checks (even; default 50)",
    )
    parser.add_argument(
        "--message-s",
        type=float,
        default=10,
        help="length of each message left and checked, seconds (default 10; at least 6)",
    )
    parser.add_argument(
        "--system",
        dest="systems",
        action="append",
        choices=SYSTEMS,
        help="run only this system (repeat for several; default: all three, in the order fastagi, ari, app_voicemail)",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="work in this new directory and keep it (Asterisk's logs, what each caller heard)",
    )
    args = parser.parse_args()
    args.systems = args.systems or list(SYSTEMS)
    if args.calls < 2 or args.calls % 2 or args.message_s < 6:
        parser.error("--calls must be even and at least 2, --message-s at least 6")
    directory = args.keep or Path(tempfile.mkdtemp(prefix="bench-real-asterisk-"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        results = asyncio.run(bench(args, directory))
    finally:
        if args.keep is None:
            shutil.rmtree(directory, ignore_errors=True)
    print(f"\n{args.calls} concurrent real calls per system, same run")
    print("\n".join(table(results)))
    for system, figures in results.items():
        for failure in figures.failures[:3]:
            print(f"{LABELS[system]} failed call: {failure}")


if __name__ == "__main__":
    main()
