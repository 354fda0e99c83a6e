"""`vmbox jobs`: what the notification queue holds, and retrying failed jobs."""

import argparse
import time

from store.core import Store
from store.jobs import attempts_of, list_jobs, retry_failed


def add_parser(commands) -> None:
    jobs = commands.add_parser(
        "jobs",
        help="list notification jobs; retry failed ones",
        description="Pending, running and failed notification jobs (emails, callback calls,"
        " transcriptions), most recent first.",
    )
    jobs.add_argument("--all", action="store_true", help="done jobs too")
    jobs.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    actions = jobs.add_subparsers(dest="action", metavar="ACTION")
    show = actions.add_parser("show", help="every attempt of one job, with its outcome")
    show.add_argument("id", type=int)
    retry = actions.add_parser("retry", help="run a failed job again (or every failed job)")
    target = retry.add_mutually_exclusive_group(required=True)
    target.add_argument("id", type=int, nargs="?")
    target.add_argument("--all-failed", action="store_true")


def _when(unix: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(unix))


async def run(store: Store, args: argparse.Namespace) -> int:
    """Carry out `vmbox jobs ...`; the exit status."""
    if args.action == "retry":
        count = await retry_failed(store.db, None if args.all_failed else args.id, time.time())
        print(f"{count} failed job(s) queued again; `vmbox serve` runs them now")
        return 0 if count else 1
    if args.action == "show":
        rows = await attempts_of(store.db, args.id)
        if not rows:
            print(f"job {args.id} has no attempts (or does not exist)")
            return 1
        for attempt, started, _finished, outcome, detail in rows:
            print(f"attempt {attempt}  {_when(started)}  {outcome or 'running'}  {detail or ''}")
        return 0
    states = (
        ("pending", "running", "failed", "done") if args.all else ("pending", "running", "failed")
    )
    jobs = await list_jobs(store.db, states, args.limit)
    for job in jobs:
        error = f"  last error: {job.last_error}" if job.last_error and job.state != "done" else ""
        print(
            f"{job.id:6}  {job.kind:20} {job.state:8} attempts {job.attempts:2}  due {_when(job.run_at)}{error}"
        )
    if not jobs:
        print("no jobs" + ("" if args.all else " pending or failed"))
    return 0
