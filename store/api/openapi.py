"""The OpenAPI 3.1 document, generated from the route table and the JSON Schema files
(store/api/openapi_schemas.py). It says exactly what the server accepts and answers: the test suite
holds the two together by running schemathesis against a real server (tests/test_api_schemathesis.py)."""

import re

from store.api.openapi_schemas import GREGORIAN, components

_PARAMETER = re.compile(r"{(\w+)}")

_PATH_PARAMETERS = {
    "account_id": "The account (32 hex)",
    "box_id": "The voicemail box (32 hex)",
    "message_id": "The message (YYYYMM-<32 hex>)",
    "user_id": "The user (32 hex)",
    "media_id": "The media object (32 hex)",
    "kind": "The greeting: unavailable, temporary (KAZOO's temporary_unavailable) or name",
}
# Query parameters: (name, schema, description). page_size and start_key take anything, as KAZOO's:
# a page_size that is not a whole number above 0 is the default, and a start key the server did not
# give starts after every entry (an empty page).
_PAGE_PARAMETERS = (
    ("page_size", {}, "Entries per page: a whole number above 0, at most 1000; else 50"),
    ("start_key", {"type": "string"}, "The next_start_key of the previous page"),
    ("paginate", {"type": "boolean"}, "false returns every entry at once"),
)
_MESSAGE_PARAMETERS = (
    ("ascending", {"type": "boolean"}, "Oldest first"),
    (
        "created_from",
        GREGORIAN,
        "Only messages at or after this time (Gregorian seconds); at most 31 days and an hour"
        " before created_to (or now), else 400 created_from.date_range",
    ),
    ("created_to", GREGORIAN, "Only messages at or before this time (Gregorian seconds)"),
    (
        "filter_folder",
        {"type": "string"},
        "Only this folder: new, saved or deleted (deleted ones are listed only so)",
    ),
)
# JSON bodies: the component each kind of request sends.
_REQUESTS = {
    "vmbox": "VMBoxEnvelope",
    "user": "UserEnvelope",
    "media": "MediaEnvelope",
    "vmbox_patch": "VMBoxPatch",
    "user_patch": "UserPatch",
    "media_patch": "MediaPatch",
    "api_auth": "ApiAuthEnvelope",
    "vmbox_auth": "VmboxAuthEnvelope",
    "forward": "ForwardEnvelope",
    "change": "ChangeEnvelope",
    "bulk_change": "BulkChangeEnvelope",
    "delete": "DeleteEnvelope",
    "ids": "IdsEnvelope",
}
_AUDIO_TYPES = ("audio/mpeg", "audio/mp4", "audio/x-wav")
# Uploads (JSON metadata, or multipart metadata + audio): (envelope, bare metadata, metadata required).
_UPLOADS = {
    "upload": ("MessageEnvelope", "Message", False),
    "account_upload": ("AccountMessageEnvelope", "AccountMessage", True),
    "media_upload": ("MediaEnvelope", "Media", True),
}
_FILE = {
    "type": "string",
    "format": "binary",
    "minLength": 1,
    "description": "The audio, any format ffmpeg reads",
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


_SCHEMAS = components()["schemas"]


def _schema_of(name: str) -> dict:
    return _SCHEMAS[name]


def _multipart(properties: dict, required: list[str]) -> dict:
    """The same body as multipart/form-data and multipart/mixed: the server reads parts by their
    type (a JSON part, or an untyped one without a file name, is the metadata; any other is the
    audio), not by their names."""
    # No other parts: a second audio part is refused (400 file.maxItems).
    body = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        body["required"] = required
    encoding = {"metadata": {"contentType": "application/json"}} if "metadata" in properties else {}
    media = {"schema": body, **({"encoding": encoding} if encoding else {})}
    return {"multipart/form-data": media, "multipart/mixed": media}


def _request_body(kind: str) -> dict:
    if kind in _UPLOADS:
        envelope, bare, required = _UPLOADS[kind]
        # The metadata part is an envelope ({"data": …}) or the bare metadata.
        metadata = {"anyOf": [_ref(envelope), _ref(bare)]}
        parts = _multipart({"metadata": metadata, "file": _FILE}, ["metadata"] if required else [])
        # Without a body, a message gets every default; a media object has no name.
        return {
            "required": required,
            "content": {"application/json": {"schema": _ref(envelope)}, **parts},
        }
    if kind == "audio":
        audio = {"schema": _FILE}
        return {
            "required": True,
            "content": {
                "audio/*": audio,
                "video/*": audio,
                "application/octet-stream": audio,
                **_multipart({"file": _FILE}, ["file"]),
            },
        }
    name = _REQUESTS[kind]
    return {
        # An empty body is an empty `data`: refused where `data` is required.
        "required": "required" in _schema_of(name),
        "content": {"application/json": {"schema": _ref(name)}},
    }


def _responses(kind: str) -> dict:
    envelope = {"application/json": {"schema": _ref("Response")}}
    if kind == "audio":
        ok = {"200": {"description": "The audio", "content": {t: {} for t in _AUDIO_TYPES}}}
    elif kind == "events":
        ok = {"200": {"description": "An event stream", "content": {"text/event-stream": {}}}}
    elif kind == "zip":
        ok = {
            "200": {"description": "A ZIP of the audio files", "content": {"application/zip": {}}}
        }
    elif kind == "created":
        ok = {"201": {"description": "Created", "content": envelope}}
    elif kind == "health":
        health = {"application/json": {"schema": _ref("Health")}}
        ok = {"200": {"description": "The database answers", "content": health}}
    elif kind == "openapi":
        document = {"type": "object", "required": ["openapi", "info", "paths"]}
        ok = {
            "200": {
                "description": "This document",
                "content": {"application/json": {"schema": document}},
            }
        }
    else:
        ok = {"200": {"description": "Success", "content": envelope}}
    return {**ok, "default": {"description": "An error in KAZOO's shape", "content": envelope}}


def _query(route) -> tuple:
    paginated = ()
    if route.paginated:
        paginated = (*_PAGE_PARAMETERS, *(_MESSAGE_PARAMETERS if "messages" in route.path else ()))
    return (*paginated, *route.query)


# The token in X-Auth-Token, or a browser's cookie (changes it authenticates need Origin of vmbox's
# own site, or X-Requested-With).
_SECURITY = [{"AuthToken": []}, {"TokenCookie": []}]


def _operation(route) -> dict:
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": _PATH_PARAMETERS[name],
            "schema": {"type": "string"},
        }
        for name in _PARAMETER.findall(route.path)
    ]
    parameters += [
        {"name": name, "in": "query", "description": text, "schema": schema}
        for name, schema, text in _query(route)
    ]
    operation = {
        "operationId": route.handler.__name__,
        "summary": route.summary,
        "x-box-login": route.box,  # whether a box login's token may call it (for its own box)
        "parameters": parameters,
        "responses": _responses(route.response),
    }
    if route.request:
        operation["requestBody"] = _request_body(route.request)
    operation["security"] = [] if route.public else _SECURITY
    return operation


def build_openapi(routes) -> dict:
    """The OpenAPI document describing `routes`."""
    paths: dict = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "vmbox voicemail API",
            "version": "2",
            "description": "KAZOO-compatible voicemail boxes, messages, users and media.",
        },
        "paths": paths,
        "components": components(),
    }
