"""Secrets at rest: PINs as salted scrypt hashes; API keys and tokens as SHA-256 hashes.

PINs are short (4-6 digits), so they need a slow salted hash; keys and tokens are 256 random bits, for
which a plain SHA-256 is already unguessable and keeps the per-request token check cheap.
"""

import hashlib
import hmac
import secrets

# scrypt cost: 16 MiB and some tens of ms per hash (15-50 ms measured on small servers); callers run it
# off the event loop.
_N, _R, _P = 2**14, 8, 1


def hash_pin(pin: str) -> str:
    """A self-describing salted hash of `pin`: `scrypt$N$r$p$salt$hash`."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=_N, r=_R, p=_P)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def pin_matches(pin: str, stored: str) -> bool:
    """True when `pin` hashes to `stored` (constant-time comparison)."""
    scheme, n, r, p, salt, digest = stored.split("$")
    if scheme != "scrypt":
        raise ValueError(f"unknown PIN hash scheme {scheme!r}")
    candidate = hashlib.scrypt(pin.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(candidate.hex(), digest)


def new_secret() -> str:
    """A fresh API key or auth token (256 random bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """The SHA-256 hex digest under which a key or token is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()
