"""Reading uploads: audio as the body, or multipart bodies with the metadata and the audio."""

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import BadHttpMessage

from store.api.envelope import ApiError, validation_error
from store.api.keys import OPTIONS, STORE
from store.api.requests import (
    CHUNK,
    json_body,
    read_envelope,
    read_limited,
    split_envelope,
    too_large,
    unsupported,
)
from store.errors import TooLarge
from store.validation import error


def _malformed_multipart(exc: Exception) -> ApiError:
    return ApiError(
        400, "invalid_multipart", {"message": f"the multipart body is malformed: {exc}"}
    )


def check_upload_size(request: web.Request) -> int:
    """The upload limit; 413 at once when the declared length is over it."""
    limit = request.app[OPTIONS].max_upload_bytes
    if (request.content_length or 0) > limit:
        raise too_large(limit)
    return limit


async def _chunks(source) -> AsyncIterator[bytes]:
    read = source.read_chunk if isinstance(source, BodyPartReader) else source.read
    while chunk := await read(CHUNK):
        yield chunk


async def receive_upload(request: web.Request, source) -> object:
    """Stream an audio upload (a request body or a multipart part) to a tmp file; 413 past the limit."""
    limit = check_upload_size(request)
    try:
        return await request.app[STORE].media.receive(_chunks(source), limit)
    except TooLarge:
        raise too_large(limit) from None


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
                raw = await read_limited(part.read_chunk, request.app[OPTIONS].max_json_bytes)
                if len(raw) > request.app[OPTIONS].max_json_bytes:
                    raise too_large(request.app[OPTIONS].max_json_bytes)
                body = await json_body(request, raw)
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
