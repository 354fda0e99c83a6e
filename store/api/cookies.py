"""The `vmbox_token` cookie: how a browser holds its auth token, so the page's <audio> elements and
EventSource (which cannot send an X-Auth-Token header) are authenticated without the token in a URL.

Rules:
- HttpOnly (scripts cannot read it), SameSite=Strict (other sites' pages do not send it), Path=/,
  Secure when the client reached vmbox over HTTPS (directly or through a trusted proxy), and
  Max-Age the token's lifetime.
- CSRF defence: a request authenticated by the cookie alone that changes something (any method but
  GET and HEAD) must show it comes from a page of vmbox's own origin: an `Origin` header naming this
  host, or an `X-Requested-With` header (which no other site's form can send, and which a script of
  another origin cannot add without a CORS preflight vmbox never grants). SameSite=Strict already keeps
  the cookie off cross-site requests in current browsers; this is the second lock, for older ones.
"""

from urllib.parse import urlsplit

from aiohttp import web

from store.api.keys import PROXIES

COOKIE = "vmbox_token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def set_token_cookie(request: web.Request, response: web.StreamResponse, token: str, ttl_s: int):
    """Give the browser `token` in the cookie, for `ttl_s` seconds."""
    response.set_cookie(
        COOKIE,
        token,
        max_age=max(0, ttl_s),
        path="/",
        secure=request.app[PROXIES].is_https(request),
        httponly=True,
        samesite="Strict",
    )


def clear_token_cookie(request: web.Request, response: web.StreamResponse) -> None:
    """Make the browser forget the cookie."""
    response.del_cookie(
        COOKIE,
        path="/",
        secure=request.app[PROXIES].is_https(request),
        httponly=True,
        samesite="Strict",
    )


def cookie_token(request: web.Request) -> str:
    """The token in the request's cookie, or ""."""
    return request.cookies.get(COOKIE, "")


def needs_origin_check(request: web.Request) -> bool:
    """True when a cookie-authenticated request changes state (see the module's CSRF rule)."""
    return request.method not in _SAFE_METHODS


def is_same_origin(request: web.Request) -> bool:
    """True when the request shows it comes from vmbox's own page: an `Origin` of this scheme, host
    and port, or an `X-Requested-With` header."""
    if request.headers.get("X-Requested-With"):
        return True
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return False
    parts = urlsplit(origin)
    scheme = "https" if request.app[PROXIES].is_https(request) else "http"
    return parts.scheme == scheme and _with_port(parts.netloc, scheme) == _with_port(
        request.host, scheme
    )


def _with_port(host: str, scheme: str) -> str:
    """`host[:port]` with the scheme's default port made explicit, lower-cased."""
    host = host.lower()
    if host.rsplit(":", 1)[-1].isdigit() and not host.endswith("]"):
        return host
    return f"{host}:{443 if scheme == 'https' else 80}"
