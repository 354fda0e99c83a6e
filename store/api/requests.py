"""Reading requests: the JSON envelope, ids in the path, revisions and query parameters (uploads:
store/api/uploads.py)."""

import json

from aiohttp import web

from store.api.envelope import ApiError, bad_identifier, validation_error
from store.api.keys import OPTIONS
from store.documents import revision_number
from store.ids import is_hex_id, is_message_id
from store.validation import error

# Bodies we read as JSON. curl's -d sends form-urlencoded unless told otherwise, and KAZOO's own
# examples rely on that, so it is accepted and read as JSON too.
_JSON_TYPES = (
    "application/json",
    "application/x-www-form-urlencoded",
    "text/plain",
    "application/octet-stream",
)
CHUNK = 64 * 1024


def too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "request_entitytoo_large",
        {"message": f"the request body is over the limit of {limit} bytes"},
    )


def unsupported(content_type: str, wanted: str) -> ApiError:
    return ApiError(
        415,
        "unsupported_media_type",
        {"message": f"Content-Type {content_type or '(none)'} is not accepted here; send {wanted}"},
    )


def _is_json_type(content_type: str) -> bool:
    return not content_type or content_type in _JSON_TYPES or content_type.endswith("+json")


async def read_limited(read, limit: int) -> bytes:
    """The whole body `read` gives, or a little over `limit` bytes of it when it is longer.

    A single read returns only what has arrived so far, so a body sent in pieces needs a loop.
    """
    raw = bytearray()
    while len(raw) <= limit and (chunk := await read(CHUNK)):
        raw += chunk
    return bytes(raw)


async def json_body(request: web.Request, raw: bytes) -> object:
    try:
        # Only a body with nothing in it is an empty envelope; whitespace alone is no JSON text.
        body = json.loads(raw) if raw else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(
            400, "invalid_json", {"message": f"the request body is not valid JSON: {exc}"}
        ) from None
    if b"\\u0000" in raw and _holds_nul(body):
        raise ApiError(
            400,
            "invalid_json",
            {"message": "the request body holds a NUL character (\\u0000), which no text may hold"},
        )
    return body


def _holds_nul(value: object) -> bool:
    """True when a string of the decoded JSON `value` (a key or a value) holds the NUL character: no
    name, number or address has one, and PostgreSQL cannot store it."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def split_envelope(body: object) -> tuple[dict, str | None]:
    """`data` and `revision` of a KAZOO request envelope; 400 when it is not shaped as one."""
    if not isinstance(body, dict):
        raise validation_error(
            error("envelope", "type", "The request body must be a JSON object", value=body)
        )
    data = body.get("data", {})
    if not isinstance(data, dict):
        raise validation_error(
            error(
                "data", "type", "Value did not match type(s): object", target="object", value=data
            )
        )
    revision = body.get("revision")
    if revision is not None and not isinstance(revision, str):
        # Read as no revision, it would skip the check the client asked for.
        raise validation_error(
            error(
                "revision",
                "type",
                "Value did not match type(s): string",
                target="string",
                value=revision,
            )
        )
    return data, revision


async def read_envelope(request: web.Request) -> tuple[dict, str | None]:
    """Read a JSON request body as a KAZOO envelope; an empty body is an empty `data`."""
    if not _is_json_type(request.content_type):
        raise unsupported(
            request.content_type,
            'a JSON body ({"data": {...}}) with Content-Type: application/json',
        )
    limit = request.app[OPTIONS].max_json_bytes
    if (request.content_length or 0) > limit:
        raise too_large(limit)
    raw = await read_limited(request.content.read, limit)
    if len(raw) > limit:
        raise too_large(limit)
    return split_envelope(await json_body(request, raw))


def expected_revision(request: web.Request, envelope_revision: str | None) -> int | None:
    """The revision number the client says it is changing (envelope `revision` or If-Match), if any."""
    return revision_number(envelope_revision or request.headers.get("If-Match", "").strip('"'))


def hex_id(request: web.Request, name: str) -> str:
    """The 32-hex id `name` in the path; 404 when it cannot be one (paths, NULs, wrong length)."""
    ident = request.match_info[name]
    if not is_hex_id(ident):
        raise bad_identifier(ident)
    return ident


def box_id(request: web.Request) -> str:
    """The box id in the path; 404 when it cannot be one."""
    return hex_id(request, "box_id")


def message_id(request: web.Request) -> str:
    """The message id in the path; 404 when it cannot be one."""
    ident = request.match_info["message_id"]
    if not is_message_id(ident):
        raise bad_identifier(ident)
    return ident


def listed_message_ids(data: dict) -> list[str]:
    """The non-empty `messages` list of ids in a request's data; 400 otherwise."""
    ids = data.get("messages")
    if not ids:
        raise validation_error(error("messages", "required", "Field is required but missing"))
    if not isinstance(ids, list) or not all(isinstance(item, str) for item in ids):
        raise validation_error(
            error(
                "messages",
                "type",
                "Value did not match type(s): array of strings",
                target="array",
                value=ids,
            )
        )
    return ids


def flag(request: web.Request, name: str, default: bool) -> bool:
    """A boolean query parameter (`true`/`false`); 400 for anything else."""
    value = request.query.get(name)
    if value is None:
        return default
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise validation_error(
        error(name, "type", "Value did not match type(s): boolean", target="boolean", value=value)
    )


def integer(
    request: web.Request, name: str, minimum: int | None = None, maximum: int | None = None
) -> int | None:
    """An integer query parameter within bounds, or None when absent; 400 otherwise."""
    value = request.query.get(name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise validation_error(
            error(
                name, "type", "Value did not match type(s): integer", target="integer", value=value
            )
        ) from None
    if minimum is not None and number < minimum:
        raise validation_error(
            error(
                name, "minimum", f"Value must be at least {minimum}", target=minimum, value=number
            )
        )
    if maximum is not None and number > maximum:
        raise validation_error(
            error(name, "maximum", f"Value must be at most {maximum}", target=maximum, value=number)
        )
    return number
