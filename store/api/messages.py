"""Handlers for messages: /vmboxes/messages, /vmboxes/{box_id}/messages and /messages/{message_id}."""

from aiohttp import web

from store import messages
from store.api.envelope import ApiError, bad_identifier, reply, validation_error
from store.api.keys import ACCOUNT_ID, STORE, TOKEN_BOX
from store.api.message_queries import message_query
from store.api.pages import Page, page_reply, requested_page
from store.api.requests import (
    box_id,
    listed_message_ids,
    message_id,
    read_envelope,
    read_metadata_and_upload,
)
from store.errors import NotFound
from store.ids import is_hex_id
from store.message_changes import (
    Outcome,
    change_folder,
    copy_messages,
    move_messages,
    remove_message,
    remove_messages,
)
from store.message_listing import list_messages
from store.messages import FOLDERS
from store.validation import error
from store.vmboxes import get_vmbox

# KAZOO reads these with get_ne_binary_value when it creates a message: an empty string is as good as
# none, and gets the default.
_DEFAULTED = ("caller_id_number", "caller_id_name", "from", "to", "call_id")


def _folder(value: object, field: str = "folder") -> str:
    if value not in FOLDERS:
        raise validation_error(
            error(
                field,
                "enum",
                "Value not found in enumerated list of values",
                target=list(FOLDERS),
                value=value,
            )
        )
    return value


async def _listing(request: web.Request, box: str | None) -> tuple[list, Page, bool]:
    """(rows, the page asked for, whether the store keeps these rows: a page without JSON filters)."""
    store = request.app[STORE]
    page = requested_page(request)
    query = message_query(request, page, box)
    rows = await list_messages(store.db, query, store.cutoff())
    return rows, page, not query.reads_json


def _message_key(row: tuple) -> list:
    return [row[1], row[2]]


def _box_entry(row: tuple) -> str:
    return row[3]


def _account_entry(row: tuple) -> str:
    return f'{{"{row[0]}":{row[3]}}}'


async def list_box_messages(request: web.Request) -> web.Response:
    """Messages of one box, newest first."""
    ident = box_id(request)
    rows, page, kept = await _listing(request, ident)
    if not rows:
        await _require_box(request, ident)
    return page_reply(request, page, rows, _box_entry, _message_key, kept)


async def list_account_messages(request: web.Request) -> web.Response:
    """Messages of every box of the account, newest first, each as {"<box_id>": metadata}."""
    rows, page, kept = await _listing(request, None)
    return page_reply(request, page, rows, _account_entry, _message_key, kept)


async def _require_box(request: web.Request, ident: str) -> None:
    if await get_vmbox(request.app[STORE].db, request[ACCOUNT_ID], ident) is None:
        raise bad_identifier(ident)


def _sent(metadata: object) -> object:
    """The metadata of a create request as KAZOO reads it: empty strings of defaulted fields dropped."""
    if not isinstance(metadata, dict):
        return metadata
    return {
        key: value for key, value in metadata.items() if not (key in _DEFAULTED and value == "")
    }


async def create_message(request: web.Request) -> web.Response:
    """Create a message from JSON metadata, or from one multipart body with the metadata and the audio."""
    ident = box_id(request)
    store = request.app[STORE]
    metadata, upload = await read_metadata_and_upload(request)
    audio = await store.media.store(upload, request[ACCOUNT_ID]) if upload else None
    message = await messages.create_message(
        store, request[ACCOUNT_ID], ident, _sent(metadata), audio, announce=False
    )
    return reply(request, message.doc, status=201, revision=message.revision)


async def get_message(request: web.Request) -> web.Response:
    """One message's metadata (with its transcription, if any)."""
    store = request.app[STORE]
    ident = message_id(request)
    message = await messages.get_message(
        store.db, request[ACCOUNT_ID], box_id(request), ident, store.cutoff()
    )
    if message is None:
        raise bad_identifier(ident)
    return reply(request, message.doc, revision=message.revision)


async def _apply_change(
    request: web.Request, box: str, ids: list[str], data: dict
) -> tuple[str, Outcome]:
    """Move (`source_id` a box id), copy (`source_id` a list of box ids) or change folder (default saved)."""
    store, account = request.app[STORE], request[ACCOUNT_ID]
    target = data.get("source_id")
    if target is not None and request[TOKEN_BOX] is not None:
        raise ApiError(
            403,
            "forbidden",
            {"message": "a box login may not move or copy messages; forward them by mailbox"},
        )
    if isinstance(target, str):
        if not is_hex_id(target):
            raise bad_identifier(target)
        return "move", await move_messages(store, account, box, ids, target)
    if target is not None:
        if not (isinstance(target, list) and target and all(is_hex_id(item) for item in target)):
            raise validation_error(
                error(
                    "source_id",
                    "type",
                    "Value did not match type(s): string, array of box ids",
                    value=target,
                )
            )
        return "copy", await copy_messages(store, account, box, ids, target, announce=False)
    folder = _folder(data.get("folder", request.query.get("folder", "saved")))
    return "folder", await change_folder(store, account, box, ids, folder)


async def change_message(request: web.Request) -> web.Response:
    """Change one message's folder, or move or copy it to other boxes."""
    store = request.app[STORE]
    box, ident = box_id(request), message_id(request)
    data, _ = await read_envelope(request)
    kind, outcome = await _apply_change(request, box, [ident], data)
    if outcome.failed.get(ident) == "prior_to_retention_duration":
        # KAZOO's answer for a message it still holds but may no longer change.
        message = "cannot make changes to messages prior to retention duration"
        raise validation_error(error(ident, "date_range", message, cause=store.cutoff()))
    if outcome.failed:
        raise bad_identifier(ident)
    if kind == "copy":
        return reply(request, outcome.public())
    shown_box = data["source_id"] if kind == "move" else box
    message = await messages.get_message(
        store.db, request[ACCOUNT_ID], shown_box, outcome.succeeded[0], 0
    )
    if message is None:
        raise NotFound(outcome.succeeded[0])
    return reply(request, message.doc, revision=message.revision)


async def change_messages(request: web.Request) -> web.Response:
    """Change the folder of, move or copy a list of messages."""
    box = box_id(request)
    data, _ = await read_envelope(request)
    _, outcome = await _apply_change(request, box, listed_message_ids(data), data)
    return reply(request, outcome.public())


async def delete_message(request: web.Request) -> web.Response:
    """Delete one message; answer with it as deleted (folder `deleted`, as KAZOO's)."""
    store = request.app[STORE]
    message = await remove_message(store, request[ACCOUNT_ID], box_id(request), message_id(request))
    return reply(request, message.doc, revision=message.revision)


async def delete_messages(request: web.Request) -> web.Response:
    """Delete a box's messages: all, those of `folder`, or those listed in `messages`."""
    box = box_id(request)
    data, _ = await read_envelope(request)
    ids, folder = None, None
    if "messages" in data:
        ids = listed_message_ids(data)
    elif "folder" in data or "folder" in request.query:
        folder = _folder(data.get("folder", request.query.get("folder")))
    outcome = await remove_messages(request.app[STORE], request[ACCOUNT_ID], box, ids, folder)
    return reply(request, outcome.public())
