"""Audio downloads that answer HTTP range requests (RFC 9110 §14), so a browser's <audio> seeks
without fetching the whole file, and a download can resume.

The audio is in memory by then (the stored WAV, or an encoding from store/encodings.py), so a range
is a slice of it. Rules:
- `Accept-Ranges: bytes` and an ETag (a digest of the audio) on every answer.
- One range `bytes=first-last`, `first-` or `-suffix` gets 206 with Content-Range; a range past the
  end is cut at the end. Several ranges, another unit, or a malformed header get the whole audio
  (200): a server may ignore Range. A range that starts past the end, a last before the first, or
  an empty suffix gets 416 with `Content-Range: bytes */<size>`.
- If-Range with another ETag (the audio changed since the client's first part) gets the whole audio.
"""

import re
import zlib

from aiohttp import web

from store.api.envelope import ApiError

_ONE_RANGE = re.compile(r"bytes=(\d*)-(\d*)", re.ASCII | re.IGNORECASE)


class Unsatisfiable(ValueError):
    """A range none of whose bytes the audio has."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) bytes a Range header asks of `size` bytes, or None for all of
    them (no header, or one to ignore). Raises Unsatisfiable."""
    if header is None:
        return None
    match = _ONE_RANGE.fullmatch(header.strip())
    if match is None or match[1] == match[2] == "":
        return None
    first, last = match[1], match[2]
    if first == "":  # the last `last` bytes
        if int(last) == 0 or size == 0:
            raise Unsatisfiable(header)
        return max(0, size - int(last)), size - 1
    if int(first) >= size or (last != "" and int(last) < int(first)):
        raise Unsatisfiable(header)
    return int(first), size - 1 if last == "" else min(int(last), size - 1)


def audio_reply(
    request: web.Request, audio: bytes, content_type: str, disposition: str
) -> web.Response:
    """The audio, or the part of it the request's Range asks for."""
    etag = f'"{zlib.crc32(audio):08x}-{len(audio):x}"'
    headers = {"Content-Disposition": disposition, "Accept-Ranges": "bytes", "ETag": etag}
    if_range = request.headers.get("If-Range")
    wanted = request.headers.get("Range") if if_range in (None, etag) else None
    try:
        span = byte_range(wanted, len(audio))
    except Unsatisfiable:
        raise ApiError(
            416,
            "range_not_satisfiable",
            {"message": f"the range {wanted} is outside the {len(audio)} bytes of the audio"},
            headers={"Content-Range": f"bytes */{len(audio)}", "Accept-Ranges": "bytes"},
        ) from None
    if span is None:
        return web.Response(body=audio, content_type=content_type, headers=headers)
    first, last = span
    headers["Content-Range"] = f"bytes {first}-{last}/{len(audio)}"
    return web.Response(
        body=audio[first : last + 1], status=206, content_type=content_type, headers=headers
    )
