"""Identifiers and times as KAZOO writes them.

Box, account and media ids are 32 lowercase hex digits; message ids are `YYYYMM-<32 hex>`,
the month taken from the message's own timestamp. Times are Gregorian seconds (seconds since
0000-01-01 UTC), which is what KAZOO stores and returns.
"""

import re
import secrets
import time
from datetime import UTC, datetime

GREGORIAN_OFFSET = 62167219200  # seconds from 0000-01-01 to 1970-01-01

_HEX_ID = re.compile(r"[0-9a-f]{32}")
_MESSAGE_ID = re.compile(r"[0-9]{6}-[0-9a-f]{32}")


def new_id() -> str:
    """A fresh 32-hex id for an account, box, user or media object."""
    return secrets.token_hex(16)


def new_message_id(gregorian: int) -> str:
    """A fresh message id whose month prefix is that of `gregorian`."""
    month = datetime.fromtimestamp(to_unix(gregorian), UTC).strftime("%Y%m")
    return f"{month}-{secrets.token_hex(16)}"


def is_hex_id(value: object) -> bool:
    """True when `value` is a 32-hex id; anything else (paths, NULs, other types) is False."""
    return isinstance(value, str) and _HEX_ID.fullmatch(value) is not None


def is_message_id(value: object) -> bool:
    """True when `value` is a `YYYYMM-<32 hex>` message id."""
    return isinstance(value, str) and _MESSAGE_ID.fullmatch(value) is not None


def now_gregorian() -> int:
    """The current time in Gregorian seconds."""
    return int(time.time()) + GREGORIAN_OFFSET


def to_unix(gregorian: int) -> int:
    """Gregorian seconds to Unix seconds."""
    return gregorian - GREGORIAN_OFFSET
