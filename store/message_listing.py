"""Listing messages: what a listing asks for, KAZOO's filters, and the entry each message shows.

An entry is KAZOO's view entry (`mailbox_messages/listing_by_mailbox`), not the whole metadata:
`timestamp, from, to, caller_id_number, caller_id_name, call_id, folder, length, media_id` and
`transcribed` (true when the transcription succeeded, false when it failed, absent without one). A
field the message lacks is left out, as the view leaves out what a document lacks. SQLite builds each
entry from the stored JSON, so a page is one query; on PostgreSQL `listing_entry` builds the same text
from the row's document (PostgreSQL's JSON functions would space it differently or reorder its keys).

Filters are KAZOO's (crossbar_filter), applied to the metadata as GET …/messages/{id} shows it:
- `equals` / `not_equals` (`filter_<field>`, `filter_not_<field>`): the field's value as text is (is
  not) one of `texts`. As text: a string as it is, a number in decimal, `true`, `false`, `null`; a
  missing field, an object or an array is "" (KAZOO: "", or an array's strings run together).
- `has_key` / `key_missing`: the field is there (even as null), or not.
- `has_value` / `value_missing`: the field holds something other than KAZOO's empty values (null, 0,
  "", "0", "NULL", "undefined", [] and {}), or it does not.
Fields are paths of keys (`transcription.result`); a key holding `"` cannot be named, so is missing.
Messages in folder `deleted` are listed only when a filter on `folder` (equals or not) asks for them.
"""

import json
import math
from dataclasses import dataclass

from store.db import Database
from store.documents import dumps
from store.messages import NOT_INDEXED_ACCOUNT, VISIBLE
from store.sql import row_limit

KINDS = ("equals", "not_equals", "has_key", "key_missing", "has_value", "value_missing")

# The entry of a message, KAZOO's view fields in its order; json_patch drops the fields that are null.
_FIELDS = ("timestamp", "from", "to", "caller_id_number", "caller_id_name", "call_id", "folder")
_ENTRY = (
    "json_patch('{}', json_object("
    + ", ".join(f"'{field}', json_extract(doc, '$.{field}')" for field in _FIELDS)
    + ", 'length', json_extract(doc, '$.length'), 'media_id', json_extract(doc, '$.media_id'),"
    " 'transcribed', CASE WHEN ifnull(json_extract(doc, '$.transcription.result'), '') = '' THEN NULL"
    " WHEN json_extract(doc, '$.transcription.result') = 'success' THEN json('true')"
    " ELSE json('false') END))"
)

# A field's value as KAZOO compares it (kz_json:get_binary_value), from its JSON type; ? is its path.
_TEXT = (
    "CASE json_type(doc, ?) WHEN 'text' THEN json_extract(doc, ?)"
    " WHEN 'integer' THEN CAST(json_extract(doc, ?) AS TEXT)"
    " WHEN 'real' THEN CAST(json_extract(doc, ?) AS TEXT)"
    " WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' THEN 'null' ELSE '' END"
)
# Whether a field holds a value KAZOO counts as not empty (kz_term:is_empty); ? is its path.
_HAS_VALUE = (
    "(CASE json_type(doc, ?) WHEN 'text' THEN json_extract(doc, ?) NOT IN ('', '0', 'NULL', 'undefined')"
    " WHEN 'integer' THEN json_extract(doc, ?) != 0 WHEN 'real' THEN json_extract(doc, ?) != 0"
    " WHEN 'array' THEN json_array_length(doc, ?) > 0 WHEN 'object' THEN json_extract(doc, ?) != '{}'"
    " WHEN 'true' THEN 1 WHEN 'false' THEN 1 ELSE 0 END)"
)


# The same on PostgreSQL, on the document parsed once per row (`j`) and a path given as text[] (?).
_PG_TEXT = (
    "CASE json_typeof(j #> ?::text[]) WHEN 'string' THEN j #>> ?::text[]"
    " WHEN 'number' THEN j #>> ?::text[] WHEN 'boolean' THEN j #>> ?::text[]"
    " WHEN 'null' THEN 'null' ELSE '' END"
)
_PG_HAS_VALUE = (
    "(CASE json_typeof(j #> ?::text[])"
    " WHEN 'string' THEN j #>> ?::text[] NOT IN ('', '0', 'NULL', 'undefined')"
    " WHEN 'number' THEN (j #>> ?::text[])::numeric != 0"
    " WHEN 'array' THEN json_array_length(j #> ?::text[]) > 0"
    " WHEN 'object' THEN (j #> ?::text[])::jsonb != '{}'::jsonb"
    " WHEN 'boolean' THEN TRUE ELSE FALSE END)"
)


def listing_entry(doc: str) -> str:
    """The listing entry of a message's stored metadata, as SQLite's `_ENTRY` makes it."""
    metadata = json.loads(doc)
    entry = {
        field: metadata[field]
        for field in (*_FIELDS, "length", "media_id")
        if metadata.get(field) is not None
    }
    transcription = metadata.get("transcription")
    result = transcription.get("result") if isinstance(transcription, dict) else None
    if result not in (None, ""):
        entry["transcribed"] = result == "success"
    return dumps(entry)


@dataclass(frozen=True)
class FieldFilter:
    """One of KAZOO's listing filters on a metadata field; `path` is its keys (`("transcription",
    "result")`), `texts` what an `equals` or `not_equals` filter compares the field with."""

    kind: str
    path: tuple[str, ...]
    texts: tuple[str, ...] = ()

    @property
    def on_folder(self) -> bool:
        """True for `filter_folder` and `filter_not_folder`, which the folder column answers."""
        return self.path == ("folder",) and self.kind in ("equals", "not_equals")


@dataclass(frozen=True)
class MessageQuery:
    """What a listing asks for; `after` is the (timestamp, id) of the last entry of the previous page."""

    account_id: str
    box_id: str | None = None
    filters: tuple[FieldFilter, ...] = ()
    created_from: int | None = None
    created_to: int | None = None
    ascending: bool = False
    after: tuple[int, str] | None = None
    limit: int | None = None

    @property
    def reads_json(self) -> bool:
        """True when a filter looks into the stored JSON (so the listing may scan every message)."""
        return any(not item.on_folder for item in self.filters)


async def list_messages(
    db: Database, query: MessageQuery, cutoff: int
) -> list[tuple[str, int, str, str]]:
    """Visible messages matching `query`, newest first unless `ascending`.

    Returns (box_id, timestamp, id, listing entry as JSON text) per message. A page without filters
    into the JSON is kept until the next commit (or until `cutoff` passes its oldest message), and a
    kept page comes back as the same list.
    """
    sql, params = _listing_sql(query, cutoff, db.dialect)
    entries = _entries if db.dialect == "postgresql" else _as_they_are
    # Only a page of an indexed listing is bounded; no page, or a filter on the JSON, may scan.
    if query.limit is None or query.reads_json:
        return entries(await db.scan(sql, params))

    async def read() -> tuple[list[tuple[str, int, str, str]], float]:
        rows = entries(await db.fetch_all(sql, params))
        # The page holds until the cutoff passes its oldest message (which the cutoff would then hide).
        return rows, min((row[1] for row in rows), default=math.inf)

    return await db.remembered(("messages", query), read, cutoff)


def _as_they_are(rows) -> list[tuple[str, int, str, str]]:
    return [tuple(row) for row in rows]


def _entries(rows) -> list[tuple[str, int, str, str]]:
    return [(box_id, timestamp, id_, listing_entry(doc)) for box_id, timestamp, id_, doc in rows]


def json_path(path: tuple[str, ...]) -> str | None:
    """SQLite's JSON path for a field's keys, each quoted; None when a key cannot be quoted."""
    if any('"' in key for key in path):
        return None
    return "$" + "".join(f'."{key}"' for key in path)


def _condition(item: FieldFilter, dialect: str) -> tuple[str, list]:
    """The SQL condition of one filter and its parameters."""
    marks = ", ".join("?" * len(item.texts))
    if item.on_folder:
        return f"folder {'NOT IN' if item.kind == 'not_equals' else 'IN'} ({marks})", [*item.texts]
    path = json_path(item.path)
    if dialect == "postgresql" and path is not None:
        text, has_value, value_of, path = _PG_TEXT, _PG_HAS_VALUE, "j #> ?::text[]", list(item.path)
    else:
        text, has_value, value_of = _TEXT, _HAS_VALUE, "json_type(doc, ?)"
    if item.kind in ("equals", "not_equals"):
        text, params = ("''", []) if path is None else (text, [path] * text.count("?"))
        negation = "NOT " if item.kind == "not_equals" else ""
        return f"({text}) {negation}IN ({marks})", [*params, *item.texts]
    if path is None:  # a field no key can name is missing
        return ("FALSE" if item.kind in ("has_key", "has_value") else "TRUE"), []
    if item.kind in ("has_key", "key_missing"):
        negation = "NOT " if item.kind == "has_key" else ""
        return f"{value_of} IS {negation}NULL", [path]
    negation = "" if item.kind == "has_value" else "NOT "
    return f"{negation}{has_value}", [path] * has_value.count("?")


def _listing_sql(query: MessageQuery, cutoff: int, dialect: str) -> tuple[str, list]:
    where = [VISIBLE]
    params: list = [cutoff]
    if query.box_id is not None:
        where += ["box_id = ?", f"{NOT_INDEXED_ACCOUNT} = ?"]
        params += [query.box_id, query.account_id]
    else:
        where.append("account_id = ?")
        params.append(query.account_id)
    if not any(item.on_folder for item in query.filters):
        where.append("folder != 'deleted'")
    for item in query.filters:
        condition, condition_params = _condition(item, dialect)
        where.append(condition)
        params += condition_params
    if query.created_from is not None:
        where.append("timestamp >= ?")
        params.append(query.created_from)
    if query.created_to is not None:
        where.append("timestamp <= ?")
        params.append(query.created_to)
    order = "ASC" if query.ascending else "DESC"
    if query.after is not None:
        where.append(f"(timestamp, id) {'>' if query.ascending else '<'} (?, ?)")
        params += list(query.after)
    params.append(row_limit(query.limit, dialect))
    if dialect == "postgresql":  # the document parsed once a row, for the filters
        source, entry = "messages CROSS JOIN LATERAL (SELECT doc::json AS j) parsed", "doc"
    else:
        source, entry = "messages", _ENTRY
    sql = (
        f"SELECT box_id, timestamp, id, {entry} FROM {source} WHERE {' AND '.join(where)}"
        f" ORDER BY timestamp {order}, id {order} LIMIT ?"
    )
    return sql, params


def accepted_texts(value: str) -> tuple[str, ...]:
    """What `filter_<field>=value` accepts, as KAZOO reads it: the text itself, and when it is JSON,
    the string it encodes or the strings of the array it encodes (`["new","saved"]`: either)."""
    texts = [value]
    try:
        decoded = json.loads(value)
    except ValueError:
        decoded = None
    if isinstance(decoded, list):
        texts += [item for item in decoded if isinstance(item, str)]
    elif isinstance(decoded, str):
        texts.append(decoded)
    return tuple(dict.fromkeys(texts))
