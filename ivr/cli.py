"""The `vmbox` command."""

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path

from ivr import doctor, jobs_cli, migrate_cli
from ivr.config import ConfigError, Settings, load_settings, to_toml
from ivr.deploy import service_unit
from ivr.serve import open_settings_store, serve
from ivr.simulator import (
    DEFAULT_PORT,
    DEFAULT_SOUNDS,
    ScriptError,
    parse_caller_id,
    parse_script,
    run_call,
)
from store.accounts import checked_realm, create_account, list_accounts
from store.errors import SchemaTooNew, StoreUnreachable
from store.hashing import PinKeyError
from store.ids import to_unix

_DESCRIPTION = """\
vmbox: voicemail for Asterisk with a KAZOO-compatible REST API.

Settings come from vmbox.toml (or --config FILE, or $VMBOX_CONFIG) and VMBOX_<SECTION>_<KEY>
environment variables; `vmbox config` shows the result."""

_CALL_DESCRIPTION = """\
Play Asterisk's side of a FastAGI call against a running vmbox: the real agi_ header block, then
Asterisk's replies to every command (prompt lengths from the real sound files, recordings written as
8 kHz WAV files). Prints what the caller hears, one line per prompt, then the variables set.
Exit status: 0 when the call went as a real Asterisk would want, 1 when anything unexpected happened
(an unknown command, a missing sound file, script steps left unused...) or the server could not be
reached, 2 for a bad script or option.

The caller's script (--script or --script-file: one step per line or separated by ';'):
  press KEYS [after 3s]      keys 0-9 * # A-D, each pressed at the first prompt/wait/recording that
                             accepts it (a key nothing accepts waits for a command that does)
  wait | silence             do nothing during the next prompt/wait/recording that listens
  say tone 10s | say FILE    what the caller says at the next RECORD FILE (then silence), optionally
    [then press # | then hangup]
  hangup [after 2s]          hang up now (before the next command) or 2 s into the next command
Time is virtual: a 10 s message records instantly.

examples:
  vmbox call --leave 1001 --caller-id '"Alice" <1002>' --script 'say tone 10s then hangup'
  vmbox call --leave 1001 --script 'press 1; say recording.mp3; press 1'
  vmbox call --check 1001 --caller-id 1001 --script 'press 1234#; press 1; press 8 after 3s; hangup'
  vmbox call --check --script-file listen.txt --verbose"""


_DOCTOR_DESCRIPTION = """\
Check a live set-up: vmbox's settings against the Asterisk they name, from vmbox's side and from
Asterisk's. Prints one line per check: OK; FAIL, what is wrong and the line of asterisk_conf/README.md
that fixes it; or SKIP, a check that does not apply or cannot be made after an earlier failure.
Exit status: 0 when no check failed, 1 otherwise, 2 for settings vmbox cannot use.

Run it with vmbox's own settings (the vmbox.toml and VMBOX_* variables of `vmbox serve`), beside a
running `vmbox serve` or before starting one (it then listens and registers in vmbox's place while it
runs). It uses no Asterisk rights beyond vmbox's own:
  FastAGI ([ari] url empty): the AMI user of manager_vmbox.conf. The doctor reads which actions the
    user may send, whether vmbox's contexts are in the dialplan, and places one probe call into
    [vmbox-doctor] (extensions_vmbox.conf): Asterisk connects to vmbox's FastAGI address, then to the
    doctor, which asks Asterisk about its sounds, vmbox's prompts and a recording into vmbox's
    recordings directory. Beside vmbox serve, vmbox logs "vmbox doctor's probe call reached vmbox".
  ARI ([ari] url set): the ARI user of ari_vmbox.conf (and the AMI user when [ami] host is set).

checks: AMI login, AMI rights, AMI events (OriginateResponse), ARI login, ARI application, lamps,
dialplan, FastAGI, recordings, core sounds, vmbox prompts: asterisk_conf/README.md section 8."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vmbox", description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="TOML settings file (default: ./vmbox.toml)"
    )
    parser.add_argument(
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log verbosity (default INFO; WARNING for doctor, whose report is its output)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("serve", help="run the REST API (creates a default account on first start)")
    commands.add_parser("config", help="print the effective settings as TOML")
    account = commands.add_parser("account", help="manage accounts").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    create = account.add_parser("create", help="create an account and print its id and API key")
    create.add_argument("--name", required=True, help="a name for the account")
    create.add_argument(
        "--realm",
        type=_realm,
        help="the account's SIP domain, named in its messages' from and to (6001@REALM);"
        " default: made from the name (Acme Corp: acme-corp.vmbox)",
    )
    account.add_parser("list", help="list accounts")
    jobs_cli.add_parser(commands)
    migrate_cli.add_parser(commands)
    _call_parser(commands)
    commands.add_parser(
        "service",
        help="print a systemd unit running this vmbox (vmbox service > /etc/systemd/system/vmbox.service)",
    )
    commands.add_parser(
        "doctor",
        help="check the set-up: vmbox's settings against Asterisk, from both sides",
        description=_DOCTOR_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def _call_parser(commands) -> None:
    call = commands.add_parser(
        "call",
        help="simulate a phone call to vmbox (Asterisk's side of FastAGI)",
        description=_CALL_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    call.add_argument(
        "--host", default="127.0.0.1", help="FastAGI server address (default 127.0.0.1)"
    )
    call.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"FastAGI port (default {DEFAULT_PORT})"
    )
    purpose = call.add_mutually_exclusive_group(required=True)
    purpose.add_argument(
        "--leave", metavar="MAILBOX", help="leave a message in MAILBOX (AGI script 'leave')"
    )
    purpose.add_argument(
        "--check",
        metavar="MAILBOX",
        nargs="?",
        const="",
        help="check messages, of MAILBOX or asked by vmbox (AGI script 'check')",
    )
    purpose.add_argument(
        "--login",
        action="store_const",
        const="",
        help="log in to any box: vmbox asks for the mailbox number (AGI script 'login')",
    )
    purpose.add_argument(
        "--callback",
        metavar="MAILBOX",
        help="the call-back leg for MAILBOX (AGI script 'callback')",
    )
    call.add_argument(
        "--account", metavar="ID", help="the account, passed as the AGI argument account=ID"
    )
    call.add_argument(
        "--caller-id", default="", metavar="CALLERID", help="e.g. '\"Alice\" <1002>' or 1002"
    )
    call.add_argument(
        "--channel", help="the channel name (default PJSIP/<caller number>-<sequence>)"
    )
    steps = call.add_mutually_exclusive_group()
    steps.add_argument(
        "--script", "--keys", default="", metavar="STEPS", help="the caller's script (see above)"
    )
    steps.add_argument(
        "--script-file", type=Path, metavar="FILE", help="the caller's script from a file"
    )
    call.add_argument(
        "--sounds-dir",
        type=Path,
        default=DEFAULT_SOUNDS,
        help=f"Asterisk's sounds for the call's language (default {DEFAULT_SOUNDS})",
    )
    call.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="fail if the server has not ended the call after this much real time (default 30)",
    )
    call.add_argument("--verbose", action="store_true", help="also print every command and reply")


def _realm(text: str) -> str:
    try:
        return checked_realm(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


async def _account(store, args: argparse.Namespace) -> int:
    if args.action == "create":
        account, api_key = await create_account(store.db, args.name, args.realm)
        print(
            f"account id: {account.id}\nrealm:      {account.realm}\n"
            f"API key:    {api_key}\n(the key is shown only this once; keep it)"
        )
        return 0
    accounts = await list_accounts(store.db)
    for account in accounts:
        print(f"{account.id}  {_date(account.created)}  {account.realm}  {account.name}")
    if not accounts:
        print(
            "no accounts yet: `vmbox account create --name NAME` or start `vmbox serve`",
            file=sys.stderr,
        )
    return 0


async def _with_store(settings: Settings, use) -> int:
    store = await open_settings_store(settings)
    try:
        return await use(store)
    finally:
        await store.db.close()


def _call(args: argparse.Namespace) -> int:
    """`vmbox call`: run one simulated call and print it; the exit status."""
    try:
        if args.script_file is not None:
            steps = parse_script(args.script_file.read_text(), base_dir=args.script_file.parent)
        else:
            steps = parse_script(args.script)
    except (ScriptError, OSError) as exc:
        print(f"vmbox call: {exc}", file=sys.stderr)
        return 2
    script, mailbox = next(
        (name, getattr(args, name))
        for name in ("leave", "check", "login", "callback")
        if getattr(args, name) is not None
    )
    arguments = [mailbox] * bool(mailbox) + [f"account={args.account}"] * bool(args.account)
    name, number = parse_caller_id(args.caller_id)
    try:
        transcript = asyncio.run(
            run_call(
                args.host,
                args.port,
                steps,
                script_name=script,
                arguments=arguments,
                caller_number=number,
                caller_name=name,
                channel=args.channel,
                sounds_dir=args.sounds_dir,
                timeout=args.timeout,
            )
        )
    except ScriptError as exc:
        print(f"vmbox call: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"vmbox call: cannot reach a FastAGI server at {args.host}:{args.port}: {exc}",
            file=sys.stderr,
        )
        return 1
    print("\n".join(transcript.report(args.verbose)))
    return 0 if transcript.ok else 1


def _date(gregorian: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(to_unix(gregorian)))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `vmbox` command; returns the exit status."""
    args = _parser().parse_args(argv)
    default_level = "WARNING" if args.command == "doctor" else "INFO"
    logging.basicConfig(
        level=args.log_level or default_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "call":  # a client of a running vmbox: needs no settings of its own
        return _call(args)
    if args.command == "service":
        print(service_unit(), end="")
        return 0
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"vmbox: {exc}", file=sys.stderr)
        return 2
    if args.command == "config":
        print(to_toml(settings), end="")
        return 0
    if args.command == "doctor":
        return doctor.run(settings)
    try:
        if args.command == "serve":
            asyncio.run(serve(settings))
        elif args.command == "migrate":
            return asyncio.run(migrate_cli.run(settings, args))
        else:
            command = jobs_cli.run if args.command == "jobs" else _account
            return asyncio.run(_with_store(settings, lambda store: command(store, args)))
    except (PinKeyError, StoreUnreachable, SchemaTooNew) as exc:  # its message says what to do
        print(f"vmbox: {exc}", file=sys.stderr)
        return 1
    except ConfigError as exc:  # a setting only `serve` uses (TLS files) that cannot be used
        print(f"vmbox: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"vmbox: {exc}. Check [api] host/port (VMBOX_API_HOST, VMBOX_API_PORT) and [store] data_dir.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
