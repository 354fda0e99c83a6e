"""Listing messages: what a listing asks for, KAZOO's filters, and the entry each message shows.

An entry is KAZOO's view entry (`mailbox_messages/listing_by_mailbox`), not the whole metadata:
`timestamp, from, to, caller_id_number, caller_id_name, call_id, folder, length, media_id` and
`transcribed` (true when the transcription succeeded, false when it failed, absent without one). A
field the message lacks is left out, as the view leaves out what a document lacks. SQLite builds each
entry from the stored JSON, so a page is one query.

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
from store.messages import VISIBLE

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
    # Only a page of an indexed listing is bounded; no page, or a filter on the JSON, may scan.
    if query.limit is None or query.reads_json:
        return [tuple(row) for row in await db.scan(*_listing_sql(query, cutoff))]

    async def read() -> tuple[list[tuple[str, int, str, str]], float]:
        rows = [tuple(row) for row in await db.fetch_all(*_listing_sql(query, cutoff))]
        # The page holds until the cutoff passes its oldest message (which the cutoff would then hide).
        return rows, min((row[1] for row in rows), default=math.inf)

    return await db.remembered(("messages", query), read, cutoff)


def json_path(path: tuple[str, ...]) -> str | None:
    """SQLite's JSON path for a field's keys, each quoted; None when a key cannot be quoted."""
    if any('"' in key for key in path):
        return None
    return "$" + "".join(f'."{key}"' for key in path)


def _condition(item: FieldFilter) -> tuple[str, list]:
    """The SQL condition of one filter and its parameters."""
    marks = ", ".join("?" * len(item.texts))
    if item.on_folder:
        return f"folder {'NOT IN' if item.kind == 'not_equals' else 'IN'} ({marks})", [*item.texts]
    path = json_path(item.path)
    if item.kind in ("equals", "not_equals"):
        text, params = ("''", []) if path is None else (_TEXT, [path] * 4)
        negation = "NOT " if item.kind == "not_equals" else ""
        return f"({text}) {negation}IN ({marks})", [*params, *item.texts]
    if path is None:  # a field no key can name is missing
        return ("0" if item.kind in ("has_key", "has_value") else "1"), []
    if item.kind in ("has_key", "key_missing"):
        negation = "NOT " if item.kind == "has_key" else ""
        return f"json_type(doc, ?) IS {negation}NULL", [path]
    negation = "" if item.kind == "has_value" else "NOT "
    return f"{negation}{_HAS_VALUE}", [path] * 6


def _listing_sql(query: MessageQuery, cutoff: int) -> tuple[str, list]:
    where = [VISIBLE]
    params: list = [cutoff]
    if query.box_id is not None:
        # The unary + keeps SQLite off the account index: within one box, the box index is the one to walk.
        where += ["box_id = ?", "+account_id = ?"]
        params += [query.box_id, query.account_id]
    else:
        where.append("account_id = ?")
        params.append(query.account_id)
    if not any(item.on_folder for item in query.filters):
        where.append("folder != 'deleted'")
    for item in query.filters:
        condition, condition_params = _condition(item)
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
    params.append(-1 if query.limit is None else query.limit)
    sql = (
        f"SELECT box_id, timestamp, id, {_ENTRY} FROM messages WHERE {' AND '.join(where)}"
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
