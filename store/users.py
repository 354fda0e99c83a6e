"""Users: the people who own boxes, and the phones they call from (KAZOO documents validated by
`schemas/user.json`; unknown keys are kept).

Invariants: `doc` never holds `id`; `rev` grows by one on every write; `user_phones` holds exactly the
user's `endpoints` and `caller_id_numbers`, rewritten in the same transaction as every user write (and
removed with the user by ON DELETE CASCADE), so the owner lookup never sees a stale phone.

Who is calling (what `check_if_owner` relies on), decided by `owner_ids_for_caller`:
- A user who lists `endpoints` is recognised only by endpoint: the calling channel without its
  `-<sequence>` suffix (`endpoint_of`), compared exactly and case-sensitively. Their caller ID numbers
  are then ignored.
- A user who lists no endpoints is recognised by the caller ID number, compared exactly (no
  normalisation: store the number as the PBX presents it).
Caller ID numbers are whatever the far end sends: any outside caller can present the owner's number and
pass for the owner. An endpoint is the device this Asterisk authenticated, which an outside caller cannot
choose, so endpoints are the trustworthy form: listing one closes the number path for that user. The
lookup uses only the channel and the number of the call, within one account, never an id the call
carries (such as the box a call was forwarded from), so forwarding a call to oneself grants nothing.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from store.db import Database, Transaction
from store.documents import deep_merge, dumps, list_by_id, revision
from store.errors import Invalid, NotFound, RevisionConflict
from store.ids import new_id
from store.validation import validate

# Keys the server owns: a client cannot set them through the document it sends.
_SERVER_KEYS = ("id", "_id")

# An Asterisk channel name: `<tech>/<resource>-<sequence>`, the sequence hex (PJSIP, SIP) or decimal
# (IAX2, DAHDI); Local channels add `;1` or `;2`. Greedy: the suffix is the last `-` segment.
_CHANNEL = re.compile(r"(?P<endpoint>[^/]+/.+)-[0-9A-Fa-f]+(?:;[12])?")


@dataclass(frozen=True)
class User:
    id: str
    account_id: str
    doc: dict
    rev: int

    @property
    def revision(self) -> str:
        return revision(self.id, self.rev)

    def public(self) -> dict:
        """The document as the API returns it: with its id."""
        return {**self.doc, "id": self.id}


def endpoint_of(channel: str) -> str:
    """The endpoint of an Asterisk channel name: `PJSIP/1001-0000002a` -> `PJSIP/1001`.

    The channel's `-<sequence>` suffix (and a Local channel's `;1`/`;2`) is removed; a name without
    one comes back as it is.
    """
    match = _CHANNEL.fullmatch(channel)
    return match["endpoint"] if match else channel


def _validated(document: object) -> dict:
    """A valid document without the server's keys; raises Invalid."""
    errors = validate("user", document)
    if errors:
        raise Invalid(errors)
    return {key: value for key, value in document.items() if key not in _SERVER_KEYS}


async def _write_phones(tx: Transaction, user_id: str, account_id: str, doc: dict) -> None:
    """Make `user_phones` hold exactly the endpoints and numbers of `doc`."""
    phones = {("endpoint", value) for value in doc.get("endpoints", ())}
    phones |= {("number", value) for value in doc.get("caller_id_numbers", ())}
    await tx.execute("DELETE FROM user_phones WHERE user_id = ?", (user_id,))
    await tx.execute_many(
        "INSERT INTO user_phones (user_id, account_id, kind, value) VALUES (?, ?, ?, ?)",
        [(user_id, account_id, kind, value) for kind, value in sorted(phones)],
    )


async def create_user(db: Database, account_id: str, document: object) -> User:
    """Create a user from a KAZOO document. Raises Invalid."""
    doc = _validated(document)
    user_id = new_id()
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO users (id, account_id, doc, rev) VALUES (?, ?, ?, 1)",
            (user_id, account_id, dumps(doc)),
        )
        await _write_phones(tx, user_id, account_id, doc)
    return User(user_id, account_id, doc, 1)


async def get_user(db: Database, account_id: str, user_id: str) -> User | None:
    """The user `user_id` of `account_id`, or None."""
    row = await db.fetch_one(
        "SELECT doc, rev FROM users WHERE id = ? AND account_id = ?", (user_id, account_id)
    )
    return User(user_id, account_id, json.loads(row[0]), row[1]) if row else None


async def list_users(
    db: Database, account_id: str, after: str | None, limit: int | None
) -> list[tuple[str, str]]:
    """Users of `account_id` ordered by id, after id `after`, at most `limit`: (id, JSON text) each."""
    return await list_by_id(db, "users", account_id, after, limit)


async def _locked_user(tx: Transaction, account_id: str, user_id: str) -> User:
    row = await tx.fetch_one(
        "SELECT doc, rev FROM users WHERE id = ? AND account_id = ?", (user_id, account_id)
    )
    if row is None:
        raise NotFound(user_id)
    return User(user_id, account_id, json.loads(row[0]), row[1])


async def _update(
    db: Database,
    account_id: str,
    user_id: str,
    change: Callable[[dict], object],
    expected_rev: int | None,
) -> User:
    """Read, change, validate and write a user in one write transaction."""
    async with db.transaction() as tx:
        user = await _locked_user(tx, account_id, user_id)
        doc = _validated(change(user.doc))
        if expected_rev is not None and expected_rev != user.rev:
            raise RevisionConflict(user_id)
        await tx.execute(
            "UPDATE users SET doc = ?, rev = rev + 1 WHERE id = ?", (dumps(doc), user_id)
        )
        await _write_phones(tx, user_id, account_id, doc)
    return User(user_id, account_id, doc, user.rev + 1)


async def replace_user(
    db: Database, account_id: str, user_id: str, document: object, expected_rev: int | None = None
) -> User:
    """Replace a user's document (POST). Raises NotFound, Invalid, or RevisionConflict when `expected_rev`
    is stale."""
    return await _update(db, account_id, user_id, lambda _: document, expected_rev)


async def patch_user(
    db: Database, account_id: str, user_id: str, patch: dict, expected_rev: int | None = None
) -> User:
    """Deep-merge `patch` into a user (PATCH; a null removes a key), then validate the result as a whole.
    Raises as replace_user does."""
    return await _update(db, account_id, user_id, lambda doc: deep_merge(doc, patch), expected_rev)


async def delete_user(
    db: Database, account_id: str, user_id: str, expected_rev: int | None = None
) -> User:
    """Delete a user (its phones go with it); return it as it was. Raises NotFound or RevisionConflict.

    Boxes whose `owner_id` names the user keep that id; with the user gone, nobody matches it.
    """
    async with db.transaction() as tx:
        user = await _locked_user(tx, account_id, user_id)
        if expected_rev is not None and expected_rev != user.rev:
            raise RevisionConflict(user_id)
        await tx.execute("DELETE FROM users WHERE id = ?", (user_id,))
    return user


_OWNERS_SQL = (
    "SELECT user_id FROM user_phones WHERE account_id = ? AND kind = 'endpoint' AND value = ?"
    " UNION"
    " SELECT p.user_id FROM user_phones p WHERE p.account_id = ? AND p.kind = 'number' AND p.value = ?"
    " AND NOT EXISTS (SELECT 1 FROM user_phones e WHERE e.user_id = p.user_id AND e.kind = 'endpoint')"
)


async def owner_ids_for_caller(
    db: Database, account_id: str, endpoint: str, number: str
) -> set[str]:
    """Ids of the users of `account_id` whose phone this call comes from, by the rule in this module's
    docstring: `endpoint` (already passed through `endpoint_of`) for users who list endpoints, the caller
    ID `number` for users who list none. Empty when either is unknown to every user."""
    if not endpoint and not number:
        return set()
    rows = await db.fetch_all(_OWNERS_SQL, (account_id, endpoint, account_id, number))
    return {row[0] for row in rows}
