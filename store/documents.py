"""Helpers shared by the stored KAZOO documents: revisions and JSON (de)serialisation."""

import hashlib
import json

from store.sql import row_limit


def revision(ident: str, rev: int) -> str:
    """The CouchDB-style revision string (`<n>-<32 hex>`) of version `rev` of object `ident`."""
    return f"{rev}-{hashlib.md5(f'{ident}:{rev}'.encode()).hexdigest()}"


def revision_number(text: str | None) -> int | None:
    """The version number in a revision string a client sent back, or None when it sent none."""
    if not text:
        return None
    head, _, _ = str(text).partition("-")
    return int(head) if head.isascii() and head.isdigit() else -1  # "²".isdigit() is True


def dumps(document: object) -> str:
    """Compact JSON, as stored and as sent."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def deep_merge(base: dict, patch: dict) -> dict:
    """`patch` merged into a copy of `base`: objects merge key by key, a null removes the key (RFC 7396)."""
    merged = dict(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict):
            # A new object is merged into nothing, so its nulls go too (RFC 7396's MergePatch).
            base_value = merged.get(key)
            merged[key] = deep_merge(base_value if isinstance(base_value, dict) else {}, value)
        else:
            merged[key] = value
    return merged


async def list_by_id(
    db, table: str, account_id: str, after: str | None, limit: int | None
) -> list[tuple[str, str]]:
    """Rows of `table` (users, media: a constant, never client text) of `account_id` ordered by id,
    starting after id `after`, at most `limit` (None: all): (id, document with its id as JSON text)
    each, built by SQLite."""
    read = db.fetch_all if limit is not None else db.scan
    params = (account_id, after or "", row_limit(limit, db.dialect))
    where = f"FROM {table} WHERE account_id = ? AND id > ? ORDER BY id LIMIT ?"
    if db.dialect == "postgresql":  # json_set's text made here (documents are objects)
        rows = await read(f"SELECT id, doc {where}", params)
        return [(row[0], with_id(row[1], row[0])) for row in rows]
    rows = await read(f"SELECT id, json_set(doc, '$.id', id) {where}", params)
    return [(row[0], row[1]) for row in rows]


def with_id(doc: str, id_: str) -> str:
    """The stored document `doc` (JSON text) with its `"id"`, as SQLite's json_set puts it: in place, or
    last when it has none (documents are stored without)."""
    document = json.loads(doc)
    document["id"] = id_
    return dumps(document)
