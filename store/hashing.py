"""Secrets at rest: PINs as keyed hashes (HMAC-SHA-256 under a key kept outside the database); API
keys and tokens as SHA-256 hashes.

Why keyed and not slow: a PIN has at most 10^6 values, so a slow hash (scrypt, as vmbox used first)
holds off someone with the database for minutes at most, while it costs every login tens of ms of CPU
and hands a burst of callers seconds of dead air. A key the database does not hold makes its hashes
useless on their own; guessing by phone is stopped by the lockout (store/lockout.py).

Rules:
- The keys live in the file `pin.key` beside the database. Each line is `<key id> <key in hex>`
  (32 bytes when vmbox makes one); the first line is the current key, which hashes every new PIN;
  later lines are older keys, still accepted for checks (key rotation). Blank lines and lines starting
  with `#` are ignored.
- The file must be readable by its owner alone (no group or other bits): anything else is refused
  (PinKeyError), as is a file that cannot be read or holds no usable key.
- A stored PIN hash describes itself: `hmac-sha256$<key id>$<salt hex>$<digest hex>`, the digest
  being HMAC-SHA-256(key, salt || PIN). The 16-byte salt is per hash, so two boxes with the same PIN
  do not show it in the database (an owner who knows their own PIN would otherwise learn every box
  sharing it).
- The first scheme, `scrypt$N$r$p$salt$hash`, still verifies (slowly: callers run `scrypt_matches` off
  the event loop); such a hash, like one under an older key, is `outdated` and is replaced by the
  store at the next successful check.
"""

import hashlib
import hmac
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

PIN_KEY_FILE = "pin.key"
KEYED = "hmac-sha256"
LEGACY = "scrypt"
_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,32}")
_MIN_KEY_BYTES = 16


class PinKeyError(OSError):
    """The PIN key file cannot be used (permissions, unreadable, malformed), or a PIN hash names a key
    the file does not hold; the message says which file and what to do."""


@dataclass(frozen=True)
class PinKeys:
    """The PIN keys of one store: `current` hashes new PINs; every key in `keys` verifies."""

    current: str
    keys: dict[str, bytes]
    source: Path

    def hash(self, pin: str) -> str:
        """A fresh keyed hash of `pin` under the current key, with a new random salt."""
        salt = secrets.token_bytes(16)
        return f"{KEYED}${self.current}${salt.hex()}${self._digest(self.current, salt, pin)}"

    def matches(self, pin: str, stored: str) -> bool:
        """True when `pin` is the PIN of the keyed hash `stored` (constant-time comparison). Raises
        PinKeyError when `stored` names a key this file does not hold."""
        _, key_id, salt, digest = stored.split("$")
        return hmac.compare_digest(self._digest(key_id, bytes.fromhex(salt), pin), digest)

    def outdated(self, stored: str) -> bool:
        """True when `stored` is not a keyed hash under the current key (it should be replaced)."""
        return not stored.startswith(f"{KEYED}${self.current}$")

    def _digest(self, key_id: str, salt: bytes, pin: str) -> str:
        key = self.keys.get(key_id)
        if key is None:
            raise PinKeyError(
                f"a PIN was hashed with key {key_id!r}, which {self.source} no longer holds: put that"
                " key back (as a later line), or give the box a new PIN through the API"
            )
        return hmac.digest(key, salt + pin.encode(), "sha256").hex()


def scheme(stored: str) -> str:
    """The scheme of a stored PIN hash: KEYED or LEGACY. Raises ValueError for anything else."""
    name = stored.partition("$")[0]
    if name not in (KEYED, LEGACY):
        raise ValueError(f"unknown PIN hash scheme {name!r}")
    return name


def scrypt_matches(pin: str, stored: str) -> bool:
    """True when `pin` hashes to the legacy `scrypt$N$r$p$salt$hash` `stored` (tens of ms of CPU and
    16 MiB: run it off the event loop)."""
    _, n, r, p, salt, digest = stored.split("$")
    candidate = hashlib.scrypt(pin.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(candidate.hex(), digest)


def read_pin_keys(path: Path) -> PinKeys:
    """The keys in the key file `path`. Raises FileNotFoundError when there is none, PinKeyError when it
    is readable by others or cannot be read or used."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise
    except OSError as exc:  # permission denied, a loop of links...
        raise PinKeyError(f"cannot read the PIN key file {path}: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise PinKeyError(f"the PIN key file {path} is not a regular file")
        if mode & 0o077:
            raise PinKeyError(
                f"the PIN key file {path} may be read by others (mode {stat.S_IMODE(mode):04o}):"
                f" `chmod 600 {path}`; PIN hashes are only as safe as this key"
            )
        text = os.read(fd, 65536).decode("ascii", errors="replace")
    finally:
        os.close(fd)
    return _parse(text, path)


def _parse(text: str, path: Path) -> PinKeys:
    keys: dict[str, bytes] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key_id, _, key_hex = line.strip().partition(" ")
        try:
            key = bytes.fromhex(key_hex.strip())
        except ValueError:
            key = b""
        if not _KEY_ID.fullmatch(key_id) or len(key) < _MIN_KEY_BYTES or key_id in keys:
            raise PinKeyError(
                f"{path} line {number}: expected `<key id> <key in hex>` (id: letters, digits, . _ -;"
                f" key: at least {_MIN_KEY_BYTES} bytes; each id once)"
            )
        keys[key_id] = key
    if not keys:
        raise PinKeyError(f"the PIN key file {path} holds no key")
    return PinKeys(next(iter(keys)), keys, path)


def new_key_line() -> str:
    """A line for a key file: a fresh random key id and a fresh 32-byte key."""
    return f"{secrets.token_hex(4)} {secrets.token_hex(32)}\n"


def create_pin_key_file(path: Path) -> None:
    """Create `path` (mode 0600) holding one fresh key, unless a key file is already there: it is
    written in full beside it and linked into place, so nobody reads it half-written and two processes
    starting together end up sharing one key."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as file:
            file.write(
                "# vmbox PIN keys: `<id> <hex key>`; the first line hashes new PINs. Keep it secret.\n"
            )
            file.write(new_key_line())
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return
    finally:
        temporary.unlink(missing_ok=True)
    _sync_directory(path.parent)  # the key must outlive a power cut as the hashes made with it do


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def new_secret() -> str:
    """A fresh API key or auth token (256 random bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """The SHA-256 hex digest under which a key or token is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()
