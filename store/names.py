"""Names of the files vmbox hands out, and the time zone a box's times are shown in.

A message's audio gets the same name whether it is downloaded through the REST API or attached to a
notification email: `<caller number>_<YYYY-MM-DD_HH-MM-SS in the box's zone>.<ext>`. Names are cut down to
characters that are safe both in a file name and in a header (`Content-Disposition`), never hidden (no
leading dot) and never empty.
"""

import re
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from store.ids import to_unix

_UNSAFE = re.compile(r"[^A-Za-z0-9+._-]")


def zone_of(*names: object) -> tzinfo:
    """The first of `names` that is a known IANA time zone (e.g. the box's, then its owner's); UTC when none is."""
    for name in names:
        if not isinstance(name, str):
            continue
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            continue
    return UTC


def safe_file_name(text: str, fallback: str, limit: int) -> str:
    """`text` cut down to characters safe in a header and a file name, at most `limit` of them;
    `fallback` when nothing of it is left."""
    # Leading dots go too: a name starting with "." is hidden, and ".." reads as a parent directory.
    return _UNSAFE.sub("", text).lstrip(".")[:limit] or fallback


def message_file_name(message_doc: dict, zone: tzinfo, extension: str) -> str:
    """`<caller number or unknown>_<YYYY-MM-DD_HH-MM-SS in zone>.<extension>` for a message's audio."""
    caller = safe_file_name(str(message_doc.get("caller_id_number") or ""), "unknown", 35)
    when = datetime.fromtimestamp(to_unix(message_doc["timestamp"]), zone)
    return f"{caller}_{when:%Y-%m-%d_%H-%M-%S}.{extension}"
