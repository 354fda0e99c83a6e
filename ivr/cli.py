"""The `vmbox` command."""
import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path

from ivr.config import ConfigError, Settings, load_settings, to_toml
from ivr.serve import serve
from store.accounts import create_account, list_accounts
from store.core import open_store
from store.ids import to_unix

_DESCRIPTION = """\
vmbox: voicemail for Asterisk with a KAZOO-compatible REST API.

Settings come from vmbox.toml (or --config FILE, or $VMBOX_CONFIG) and VMBOX_<SECTION>_<KEY>
environment variables; `vmbox config` shows the result."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vmbox", description=_DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, metavar="FILE", help="TOML settings file (default: ./vmbox.toml)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="log verbosity (default INFO)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("serve", help="run the REST API (creates a default account on first start)")
    commands.add_parser("config", help="print the effective settings as TOML")
    account = commands.add_parser("account", help="manage accounts").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    create = account.add_parser("create", help="create an account and print its id and API key")
    create.add_argument("--name", required=True, help="a name for the account")
    account.add_parser("list", help="list accounts")
    return parser


async def _account(settings: Settings, args: argparse.Namespace) -> None:
    store = await open_store(settings.data_dir, settings.store.retention_days)
    try:
        if args.action == "create":
            account, api_key = await create_account(store.db, args.name)
            print(f"account id: {account.id}\nAPI key:    {api_key}\n(the key is shown only this once; keep it)")
        else:
            accounts = await list_accounts(store.db)
            for account in accounts:
                print(f"{account.id}  {_date(account.created)}  {account.name}")
            if not accounts:
                print("no accounts yet: `vmbox account create --name NAME` or start `vmbox serve`", file=sys.stderr)
    finally:
        await store.db.close()


def _date(gregorian: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(to_unix(gregorian)))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `vmbox` command; returns the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"vmbox: {exc}", file=sys.stderr)
        return 2
    if args.command == "config":
        print(to_toml(settings), end="")
        return 0
    try:
        if args.command == "serve":
            asyncio.run(serve(settings))
        else:
            asyncio.run(_account(settings, args))
    except OSError as exc:
        print(f"vmbox: {exc}. Check [api] host/port (VMBOX_API_HOST, VMBOX_API_PORT) and [store] data_dir.",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
