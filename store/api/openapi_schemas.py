"""The schemas of the OpenAPI document (`#/components/schemas`): the documents of store/schemas/, the
request envelopes and the answers, each saying exactly what the server accepts and returns."""

from store.ids import GREGORIAN_OFFSET
from store.validation import schema

HEX_ID = "^[0-9a-f]{32}$"
GREGORIAN = {"type": "integer", "minimum": GREGORIAN_OFFSET, "maximum": 2**63 - 1}
_DOCUMENTS = {"VMBox": "vmbox", "Message": "message", "User": "user", "Media": "media"}
# What the server checks beyond its stored schema: a mailbox is digits (any other is KAZOO's
# 400 mailbox.unique, store/vmboxes.py).
_OVERLAYS = {"VMBox": {"mailbox": {"pattern": "^[0-9]+$"}}}


def _clean(json_schema: dict) -> dict:
    return {key: value for key, value in json_schema.items() if not key.startswith("$")}


def _document(name: str) -> dict:
    document = _clean(schema(_DOCUMENTS[name]))
    properties = dict(document["properties"])  # a copy: the store validates with the original
    for field, extra in _OVERLAYS.get(name, {}).items():
        properties[field] = {**properties[field], **extra}
    return {**document, "properties": properties}


def _nullable(json_schema: dict) -> dict:
    """`json_schema` as a JSON merge patch may send it: each field may be null (removing it), inside
    nested objects too; `required` fields may be left out but not removed."""
    properties = json_schema.get("properties")
    if properties is None:
        return json_schema
    required = set(json_schema.get("required", ()))
    patched = {}
    for field, value in properties.items():
        value = _nullable(value)
        patched[field] = value if field in required else {"anyOf": [value, {"type": "null"}]}
    rest = {key: value for key, value in json_schema.items() if key != "required"}
    return {**rest, "properties": patched}


def _envelope(data: dict, required: bool = True) -> dict:
    """A KAZOO request envelope: `data` (an empty body is an empty `data`, so `required` says whether
    that is refused), and the `revision` being changed (null or "" for none)."""
    envelope = {
        "type": "object",
        "properties": {"data": data, "revision": {"type": ["string", "null"]}},
    }
    return {**envelope, "required": ["data"]} if required else envelope


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _account_message() -> dict:
    """A message's metadata naming its box: `vmbox_id`, or the mailbox number as `to`'s user part."""
    message = _document("Message")
    properties = {
        **message["properties"],
        "vmbox_id": {"description": "The box the message goes to", "type": "string"},
        "to": {
            **message["properties"]["to"],
            "description": "The mailbox number (`3000` or `3000@realm`): names the box without"
            " vmbox_id",
            "pattern": "^[^@]",
        },
    }
    return {
        **message,
        "properties": properties,
        "anyOf": [{"required": ["vmbox_id"]}, {"required": ["to"]}],
    }


def _change() -> dict:
    box_ids = {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": HEX_ID}}
    return {
        "type": "object",
        "properties": {
            "messages": {"type": "array", "minItems": 1, "items": {"type": "string"}},
            "folder": {"type": "string", "enum": ["new", "saved", "deleted"]},
            "source_id": {
                "description": "A box id: move there; a list of box ids: copy to each; null: neither",
                "oneOf": [{"type": "string"}, box_ids, {"type": "null"}],
            },
        },
    }


def _response() -> dict:
    return {
        "type": "object",
        "required": ["data", "request_id", "status"],
        "properties": {
            "auth_token": {"type": "string"},
            "data": {},
            "revision": {"type": "string"},
            "request_id": {"type": "string"},
            "status": {"type": "string", "enum": ["success", "error"]},
            "timestamp": {"type": "string"},
            "page_size": {"type": "integer"},
            "start_key": {"type": "string"},
            "next_start_key": {"type": "string"},
            "error": {"type": "string"},
            "message": {"type": "string"},
        },
    }


def _only(json_schema: dict, *fields: str, required: tuple[str, ...] = ()) -> dict:
    """`json_schema` with only `fields` (the others the operation ignores), `required` required."""
    properties = {field: json_schema["properties"][field] for field in fields}
    return {
        "type": "object",
        "properties": properties,
        **({"required": list(required)} if required else {}),
    }


def components() -> dict:
    documents = {name: _document(name) for name in _DOCUMENTS}
    change = _change()
    documents["AccountMessage"] = _account_message()
    return {
        "securitySchemes": {
            "AuthToken": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"},
            "TokenCookie": {"type": "apiKey", "in": "cookie", "name": "vmbox_token"},
        },
        "schemas": {
            **documents,
            # A message's metadata may be empty (every field has a default); the others may not.
            **{
                f"{name}Envelope": _envelope(_ref(name), required=name != "Message")
                for name in _DOCUMENTS
            },
            **{
                f"{name}Patch": _envelope(_nullable(documents[name]), required=False)
                for name in _DOCUMENTS
            },
            "AccountMessageEnvelope": _envelope(_ref("AccountMessage")),
            "ApiAuthEnvelope": _envelope(
                {
                    "type": "object",
                    "required": ["api_key"],
                    "properties": {"api_key": {"type": "string", "minLength": 1}},
                }
            ),
            "VmboxAuthEnvelope": _envelope(
                {
                    "type": "object",
                    "required": ["mailbox", "pin"],
                    "properties": {
                        "mailbox": {"type": "string", "minLength": 1},
                        "pin": {"type": "string", "minLength": 1},
                        "account_name": {
                            "type": "string",
                            "description": "Needed only when vmbox holds several accounts",
                        },
                    },
                }
            ),
            "ForwardEnvelope": _envelope(
                {
                    "type": "object",
                    "required": ["mailbox"],
                    "properties": {"mailbox": {"type": "string", "minLength": 1}},
                }
            ),
            # A message's change: its folder, or a move or copy (`source_id`).
            "ChangeEnvelope": {
                "type": "object",
                "properties": {"data": _only(change, "folder", "source_id")},
            },
            # The same for listed messages.
            "BulkChangeEnvelope": _envelope(
                _only(change, "messages", "folder", "source_id", required=("messages",))
            ),
            # A bulk delete: the listed messages, else those of a folder, else all.
            "DeleteEnvelope": {
                "type": "object",
                "properties": {"data": _only(change, "messages", "folder")},
            },
            "IdsEnvelope": _envelope(_only(change, "messages", required=("messages",))),
            "Response": _response(),
            "Health": {
                "type": "object",
                "required": ["status"],
                "properties": {"status": {"const": "ok"}},
            },
        },
    }
