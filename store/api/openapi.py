"""The OpenAPI 3.1 document, generated from the route table and the JSON Schema files."""

import re

from store.validation import schema

_PARAMETER = re.compile(r"{(\w+)}")

_PATH_PARAMETERS = {
    "account_id": "The account (32 hex)",
    "box_id": "The voicemail box (32 hex)",
    "message_id": "The message (YYYYMM-<32 hex>)",
    "user_id": "The user (32 hex)",
    "media_id": "The media object (32 hex)",
    "kind": "The greeting: unavailable, temporary (KAZOO's temporary_unavailable) or name",
}
_PAGE_PARAMETERS = (
    ("page_size", "integer", "Entries per page (default 50)"),
    ("start_key", "string", "The next_start_key of the previous page"),
    ("paginate", "boolean", "false returns every entry at once"),
)
_MESSAGE_PARAMETERS = (
    ("ascending", "boolean", "Oldest first"),
    ("created_from", "integer", "Only messages at or after this time (Gregorian seconds)"),
    (
        "created_to",
        "integer",
        "Only messages at or before this time (at most 31 days + 1 h after created_from)",
    ),
    (
        "filter_folder",
        "string",
        "Only this folder: new, saved or deleted (deleted ones are listed only so)",
    ),
)
_REQUESTS = {
    "vmbox": ("application/json", {"$ref": "#/components/schemas/VMBoxEnvelope"}),
    "user": ("application/json", {"$ref": "#/components/schemas/UserEnvelope"}),
    "media": ("application/json", {"$ref": "#/components/schemas/MediaEnvelope"}),
    "envelope": ("application/json", {"$ref": "#/components/schemas/Envelope"}),
    "api_auth": (
        "application/json",
        {
            "type": "object",
            "properties": {
                "data": {
                    "type": "object",
                    "required": ["api_key"],
                    "properties": {"api_key": {"type": "string"}},
                }
            },
        },
    ),
    "vmbox_auth": (
        "application/json",
        {
            "type": "object",
            "properties": {
                "data": {
                    "type": "object",
                    "required": ["mailbox", "pin"],
                    "properties": {
                        "mailbox": {"type": "string"},
                        "pin": {"type": "string"},
                        "account_name": {
                            "type": "string",
                            "description": "Needed only when vmbox holds several accounts",
                        },
                    },
                }
            },
        },
    ),
    "forward": (
        "application/json",
        {
            "type": "object",
            "properties": {
                "data": {
                    "type": "object",
                    "required": ["mailbox"],
                    "properties": {"mailbox": {"type": "string"}},
                }
            },
        },
    ),
    "change": ("application/json", {"$ref": "#/components/schemas/ChangeEnvelope"}),
    "ids": ("application/json", {"$ref": "#/components/schemas/ChangeEnvelope"}),
}
_AUDIO_TYPES = ("audio/mpeg", "audio/mp4", "audio/x-wav")
# Uploads (JSON metadata, or multipart metadata + audio): the envelope component of their metadata.
_UPLOADS = {"upload": "MessageEnvelope", "media_upload": "MediaEnvelope"}


def _clean(json_schema: dict) -> dict:
    return {key: value for key, value in json_schema.items() if not key.startswith("$")}


def _components() -> dict:
    data_of = {"type": "object", "properties": {"data": {}, "revision": {"type": "string"}}}
    documents = {"VMBox": "vmbox", "Message": "message", "User": "user", "Media": "media"}
    envelopes = {
        f"{name}Envelope": {
            **data_of,
            "properties": {
                **data_of["properties"],
                "data": {"$ref": f"#/components/schemas/{name}"},
            },
        }
        for name in documents
    }
    return {
        "securitySchemes": {
            "AuthToken": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"},
            # A browser's: changes it authenticates need Origin (same site) or X-Requested-With.
            "TokenCookie": {"type": "apiKey", "in": "cookie", "name": "vmbox_token"},
        },
        "schemas": {
            **{name: _clean(schema(file)) for name, file in documents.items()},
            "Envelope": data_of,
            **envelopes,
            "ChangeEnvelope": {
                "type": "object",
                "properties": {
                    "data": {
                        "type": "object",
                        "properties": {
                            "messages": {"type": "array", "items": {"type": "string"}},
                            "folder": {"type": "string", "enum": ["new", "saved", "deleted"]},
                            "source_id": {
                                "oneOf": [
                                    {"type": "string"},
                                    {"type": "array", "items": {"type": "string"}},
                                ]
                            },
                        },
                    }
                },
            },
            "Response": {
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
            },
        },
    }


def _request_body(kind: str) -> dict:
    if kind in _UPLOADS:
        return {
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{_UPLOADS[kind]}"}},
                "multipart/mixed": {"schema": {"type": "object"}},
                "multipart/form-data": {"schema": {"type": "object"}},
            }
        }
    if kind == "audio":
        return {
            "content": {
                "audio/*": {"schema": {"type": "string", "format": "binary"}},
                "multipart/mixed": {"schema": {"type": "object"}},
                "multipart/form-data": {"schema": {"type": "object"}},
            }
        }
    content_type, body_schema = _REQUESTS[kind]
    return {"content": {content_type: {"schema": body_schema}}}


def _responses(kind: str) -> dict:
    envelope = {"application/json": {"schema": {"$ref": "#/components/schemas/Response"}}}
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
    else:
        ok = {"200": {"description": "Success", "content": envelope}}
    return {**ok, "default": {"description": "An error in KAZOO's shape", "content": envelope}}


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
    query = (
        (*_PAGE_PARAMETERS, *(_MESSAGE_PARAMETERS if "messages" in route.path else ()))
        if route.paginated
        else ()
    )
    query = (*query, *route.query)
    parameters += [
        {"name": name, "in": "query", "description": text, "schema": {"type": kind}}
        for name, kind, text in query
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
        "components": _components(),
    }
