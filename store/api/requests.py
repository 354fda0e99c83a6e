"""Reading requests: the JSON envelope, ids in the path, revisions, query parameters and uploads."""

import json
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import BadHttpMessage

from store.api.envelope import ApiError, bad_identifier, validation_error
from store.api.keys import OPTIONS, STORE
from store.documents import revision_number
from store.errors import TooLarge
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
_CHUNK = 64 * 1024


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "request_entity_too_large",
        {"message": f"the request body is over the limit of {limit} bytes"},
    )


def _malformed_multipart(exc: Exception) -> ApiError:
    return ApiError(
        400, "invalid_multipart", {"message": f"the multipart body is malformed: {exc}"}
    )


def unsupported(content_type: str, wanted: str) -> ApiError:
    return ApiError(
        415,
        "unsupported_media_type",
        {"message": f"Content-Type {content_type or '(none)'} is not accepted here; send {wanted}"},
    )


def _is_json_type(content_type: str) -> bool:
    return not content_type or content_type in _JSON_TYPES or content_type.endswith("+json")


async def _read_limited(read, limit: int) -> bytes:
    """The whole body `read` gives, or a little over `limit` bytes of it when it is longer.

    A single read returns only what has arrived so far, so a body sent in pieces needs a loop.
    """
    raw = bytearray()
    while len(raw) <= limit and (chunk := await read(_CHUNK)):
        raw += chunk
    return bytes(raw)


async def _json_body(request: web.Request, raw: bytes) -> object:
    try:
        return json.loads(raw) if raw.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(
            400, "invalid_json", {"message": f"the request body is not valid JSON: {exc}"}
        ) from None


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
        raise _too_large(limit)
    raw = await _read_limited(request.content.read, limit)
    if len(raw) > limit:
        raise _too_large(limit)
    return split_envelope(await _json_body(request, raw))


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


def check_upload_size(request: web.Request) -> int:
    """The upload limit; 413 at once when the declared length is over it."""
    limit = request.app[OPTIONS].max_upload_bytes
    if (request.content_length or 0) > limit:
        raise _too_large(limit)
    return limit


async def _chunks(source) -> AsyncIterator[bytes]:
    read = source.read_chunk if isinstance(source, BodyPartReader) else source.read
    while chunk := await read(_CHUNK):
        yield chunk


async def receive_upload(request: web.Request, source) -> object:
    """Stream an audio upload (a request body or a multipart part) to a tmp file; 413 past the limit."""
    limit = check_upload_size(request)
    try:
        return await request.app[STORE].media.receive(_chunks(source), limit)
    except TooLarge:
        raise _too_large(limit) from None


def _is_json_part(part: BodyPartReader) -> bool:
    content_type = part.headers.get("Content-Type", "").split(";")[0].strip().lower()
    # A plain form field (no filename) is the metadata too: curl -F sends it untyped, aiohttp as text/plain.
    return (
        content_type == "application/json"
        or content_type.endswith("+json")
        or (content_type in ("", "text/plain") and part.filename is None)
    )


async def read_multipart(request: web.Request):
    """(metadata, upload path or None, whether a metadata part came) from a multipart/mixed or
    multipart/form-data body.

    The JSON part may be a KAZOO envelope or the bare metadata; exactly one audio part is allowed. A
    part named `file` is the audio whatever its headers, as the OpenAPI document names it.
    """
    metadata, upload, seen = None, None, False
    try:
        reader: MultipartReader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise validation_error(
                    error("file", "type", "nested multipart bodies are not supported")
                )
            if part.name != "file" and _is_json_part(part) and not seen:
                seen = True
                raw = await _read_limited(part.read_chunk, request.app[OPTIONS].max_json_bytes)
                if len(raw) > request.app[OPTIONS].max_json_bytes:
                    raise _too_large(request.app[OPTIONS].max_json_bytes)
                body = await _json_body(request, raw)
                metadata = (
                    split_envelope(body)[0] if isinstance(body, dict) and "data" in body else body
                )
            elif upload is None:
                upload = await receive_upload(request, part)
            else:
                raise validation_error(
                    error("file", "maxItems", "Only one file may be uploaded at a time", target=1)
                )
    except BaseException as exc:
        if upload is not None:
            upload.unlink(missing_ok=True)
        if isinstance(
            exc, (ValueError, BadHttpMessage)
        ):  # no boundary, a truncated body, a broken part header
            raise _malformed_multipart(exc) from None
        raise
    return metadata, upload, seen


def is_multipart(request: web.Request) -> bool:
    return request.content_type.startswith("multipart/")


async def read_metadata_and_upload(request: web.Request) -> tuple[object, Path | None]:
    """(metadata, upload path or None) of a create request: a JSON envelope, or one multipart body with
    the metadata (empty when absent) and at most one audio part."""
    if is_multipart(request):
        metadata, upload, seen = await read_multipart(request)
        return (metadata if seen else {}), upload
    return (await read_envelope(request))[0], None


async def read_audio_upload(request: web.Request) -> Path:
    """The one audio file of a `PUT …/raw`: multipart, or the raw audio as the body (audio/*, video/*,
    application/octet-stream). 415 for other bodies; 400 `file.required` when there is no audio."""
    if is_multipart(request):
        _, upload, _ = await read_multipart(request)
    elif (
        request.content_type.startswith(("audio/", "video/"))
        or request.content_type == "application/octet-stream"
    ):
        check_upload_size(request)
        upload = await receive_upload(request, request.content)
    else:
        raise unsupported(
            request.content_type, "the audio as the body (Content-Type: audio/...) or multipart"
        )
    if upload is None or upload.stat().st_size == 0:
        if upload is not None:
            upload.unlink(missing_ok=True)
        raise validation_error(
            error("file", "required", "Field is required but missing: upload one audio file")
        )
    return upload
