"""Accounts, their API keys and the auth tokens exchanged for them."""

import time
from dataclasses import dataclass

from store.db import Database
from store.hashing import new_secret, secret_hash
from store.ids import new_id, now_gregorian


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    created: int  # Gregorian seconds


@dataclass(frozen=True)
class Token:
    account_id: str
    expires: int  # Unix seconds


async def create_account(db: Database, name: str) -> tuple[Account, str]:
    """Create an account with one API key; return it and the key (the only time the key is seen)."""
    account = Account(new_id(), name, now_gregorian())
    api_key = new_secret()
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO accounts (id, name, created) VALUES (?, ?, ?)",
            (account.id, account.name, account.created),
        )
        await tx.execute(
            "INSERT INTO api_keys (key_hash, account_id, created) VALUES (?, ?, ?)",
            (secret_hash(api_key), account.id, account.created),
        )
    return account, api_key


async def list_accounts(db: Database) -> list[Account]:
    """Every account, oldest first."""
    rows = await db.fetch_all("SELECT id, name, created FROM accounts ORDER BY created, id")
    return [Account(*row) for row in rows]


async def account_for_api_key(db: Database, api_key: str) -> Account | None:
    """The account an API key belongs to, or None for an unknown key."""
    row = await db.fetch_one(
        "SELECT a.id, a.name, a.created FROM api_keys k JOIN accounts a ON a.id = k.account_id"
        " WHERE k.key_hash = ?",
        (secret_hash(api_key),),
    )
    return Account(*row) if row else None


async def create_token(db: Database, account_id: str, ttl_s: int) -> tuple[str, Token]:
    """Issue an auth token for `account_id` valid for `ttl_s` seconds; expired tokens are purged."""
    token = new_secret()
    now = int(time.time())
    issued = Token(account_id, now + ttl_s)
    async with db.transaction() as tx:
        await tx.execute("DELETE FROM auth_tokens WHERE expires <= ?", (now,))
        await tx.execute(
            "INSERT INTO auth_tokens (token_hash, account_id, expires) VALUES (?, ?, ?)",
            (secret_hash(token), account_id, issued.expires),
        )
    return token, issued


async def token_info(db: Database, token: str) -> Token | None:
    """The account and expiry of a token that has not expired, or None."""
    row = await db.fetch_one(
        "SELECT account_id, expires FROM auth_tokens WHERE token_hash = ? AND expires > ?",
        (secret_hash(token), int(time.time())),
    )
    return Token(*row) if row else None
