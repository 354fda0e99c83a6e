"""Accounts, their API keys and the auth tokens exchanged for them.

Each account has a realm, as KAZOO's accounts do: the domain its messages name in `from` and `to`
(`6001@<realm>`). It is given at creation (`vmbox account create --realm`) or made from the account's
name (`Acme Corp` → `acme-corp.vmbox`); accounts older than realms get that made-up one too. Realms need
not be unique: vmbox finds an account by its id, never by its realm.
"""

import re
import time
from dataclasses import dataclass

from store.db import Database
from store.hashing import new_secret, secret_hash
from store.ids import new_id, now_gregorian

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_REALM = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*")
_COLUMNS = "id, name, created, realm"


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    created: int  # Gregorian seconds
    realm: str


def default_realm(name: str) -> str:
    """The realm of an account that was given none: its name as a domain label, then `.vmbox`."""
    label = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63].strip("-")
    return f"{label or 'account'}.vmbox"


def checked_realm(text: str) -> str:
    """`text` as a realm (a domain name, lower-cased); ValueError when it cannot be one."""
    realm = text.strip().lower()
    if not _REALM.fullmatch(realm):
        raise ValueError(f"not a domain name: {text!r} (letters, digits, '-' and '.')")
    return realm


def realm_of(name: str, realm: str | None) -> str:
    """An account's realm from its row's `name` and `realm` (NULL for accounts made before realms)."""
    return realm or default_realm(name)


def _account(row) -> Account:
    return Account(row["id"], row["name"], row["created"], realm_of(row["name"], row["realm"]))


@dataclass(frozen=True)
class Token:
    account_id: str
    expires: int  # Unix seconds
    box_id: str | None = None  # a box login's token reaches this box alone; None: the whole account


async def create_account(db: Database, name: str, realm: str | None = None) -> tuple[Account, str]:
    """Create an account with one API key; return it and the key (the only time the key is seen).
    `realm` defaults to one made from `name`; ValueError when it is not a domain name."""
    created = await _create_account(db, name, realm, only_first=False)
    assert created is not None
    return created


async def create_first_account(db: Database, name: str) -> tuple[Account, str] | None:
    """`create_account`, only when there is no account yet (checked in the same transaction: of
    several nodes starting at once on an empty database, one creates it); None when there was one."""
    return await _create_account(db, name, None, only_first=True)


async def _create_account(
    db: Database, name: str, realm: str | None, only_first: bool
) -> tuple[Account, str] | None:
    realm = default_realm(name) if realm is None else checked_realm(realm)
    account = Account(new_id(), name, now_gregorian(), realm)
    api_key = new_secret()
    async with db.transaction() as tx:
        if only_first and await tx.fetch_one("SELECT 1 FROM accounts LIMIT 1"):
            return None
        await tx.execute(
            "INSERT INTO accounts (id, name, created, realm) VALUES (?, ?, ?, ?)",
            (account.id, account.name, account.created, account.realm),
        )
        await tx.execute(
            "INSERT INTO api_keys (key_hash, account_id, created) VALUES (?, ?, ?)",
            (secret_hash(api_key), account.id, account.created),
        )
    return account, api_key


async def list_accounts(db: Database) -> list[Account]:
    """Every account, oldest first."""
    rows = await db.fetch_all(f"SELECT {_COLUMNS} FROM accounts ORDER BY created, id")
    return [_account(row) for row in rows]


async def get_account(db: Database, account_id: str) -> Account | None:
    """The account `account_id`, or None."""
    row = await db.fetch_one(f"SELECT {_COLUMNS} FROM accounts WHERE id = ?", (account_id,))
    return _account(row) if row else None


async def account_realm(db: Database, account_id: str) -> str | None:
    """The realm of an account, or None when there is no such account."""
    row = await db.fetch_one(f"SELECT {_COLUMNS} FROM accounts WHERE id = ?", (account_id,))
    return _account(row).realm if row else None


async def account_for_api_key(db: Database, api_key: str) -> Account | None:
    """The account an API key belongs to, or None for an unknown key."""
    row = await db.fetch_one(
        "SELECT a.id, a.name, a.created, a.realm FROM api_keys k JOIN accounts a ON a.id = k.account_id"
        " WHERE k.key_hash = ?",
        (secret_hash(api_key),),
    )
    return _account(row) if row else None


async def accounts_named(db: Database, name: str) -> list[Account]:
    """The accounts called `name` (compared without regard to case), oldest first."""
    rows = await db.fetch_all(
        f"SELECT {_COLUMNS} FROM accounts WHERE lower(name) = lower(?) ORDER BY created, id",
        (name,),
    )
    return [_account(row) for row in rows]


async def create_token(
    db: Database, account_id: str, ttl_s: int, box_id: str | None = None
) -> tuple[str, Token]:
    """Issue an auth token for `account_id` (for its box `box_id` alone, when given) valid for `ttl_s`
    seconds; expired tokens are purged."""
    token = new_secret()
    now = int(time.time())
    issued = Token(account_id, now + ttl_s, box_id)
    async with db.transaction() as tx:
        await tx.execute("DELETE FROM auth_tokens WHERE expires <= ?", (now,))
        await tx.execute(
            "INSERT INTO auth_tokens (token_hash, account_id, expires, box_id) VALUES (?, ?, ?, ?)",
            (secret_hash(token), account_id, issued.expires, box_id),
        )
    return token, issued


async def token_info(db: Database, token: str) -> Token | None:
    """The account, expiry and box (None for an account's token) of a token that has not expired, or
    None."""
    row = await db.fetch_one(
        "SELECT account_id, expires, box_id FROM auth_tokens WHERE token_hash = ? AND expires > ?",
        (secret_hash(token), int(time.time())),
    )
    return Token(row["account_id"], row["expires"], row["box_id"]) if row else None


async def revoke_box_tokens(db: Database, box_id: str, keep: str | None = None) -> int:
    """Make the tokens of every login to box `box_id` invalid, but `keep` (the box's PIN changed:
    whoever logged in with the old one is logged out); how many went."""
    async with db.transaction() as tx:
        return await tx.execute(
            "DELETE FROM auth_tokens WHERE box_id = ? AND token_hash != ?",
            (box_id, secret_hash(keep) if keep else ""),
        )


async def revoke_token(db: Database, token: str) -> bool:
    """Make `token` invalid at once (a log-out); False when it was not valid anyway."""
    async with db.transaction() as tx:
        return bool(
            await tx.execute("DELETE FROM auth_tokens WHERE token_hash = ?", (secret_hash(token),))
        )
