"""The web page (store/web/): `/` is its HTML, `/web/<file>` its style sheets and script modules.

The files are read once when the app is built (a few tens of kilobytes) and served from memory with
an ETag, so a reload costs a 304. Only files found in store/web/ with a known type are served: a path
is looked up in that table, never joined onto the file system.

Every answer carries a Content-Security-Policy that allows only the page's own origin (no inline
script or style, nothing from another host, no framing), so an injected tag can neither run nor
send a token elsewhere.
"""

import hashlib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from aiohttp import web

from store.api.envelope import ApiError

PAGE_PREFIX = "/web/"

_TYPES = {
    ".html": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
}

# media-src allows blob: for playing a greeting just recorded in the browser before it is uploaded.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Revalidate every time (a 304 costs nothing): an upgraded vmbox must not run yesterday's script.
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True)
class PageFile:
    body: bytes
    content_type: str
    etag: str


def is_page(path: str) -> bool:
    """True for the paths of the page itself, which anyone may fetch (it holds no data)."""
    return path == "/" or path.startswith(PAGE_PREFIX)


def _walk(folder: Traversable, prefix: str = ""):
    for entry in folder.iterdir():
        if entry.is_dir():
            yield from _walk(entry, f"{prefix}{entry.name}/")
        else:
            yield f"{prefix}{entry.name}", entry


def page_files() -> dict[str, PageFile]:
    """Every servable file of store/web/ by its path below it (`index.html`, `js/main.js`)."""
    files = {}
    for name, entry in _walk(resources.files("store").joinpath("web")):
        suffix = name[name.rfind(".") :]
        if suffix in _TYPES:
            body = entry.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
            files[name] = PageFile(body, _TYPES[suffix], etag)
    return files


def _answer(request: web.Request, file: PageFile) -> web.Response:
    headers = {**SECURITY_HEADERS, "ETag": file.etag}
    if request.headers.get("If-None-Match") == file.etag:
        return web.Response(status=304, headers=headers)
    return web.Response(body=file.body, content_type=file.content_type, headers=headers)


def add_page_routes(app: web.Application) -> None:
    """Serve the page at `/` and its files under /web/ on `app`."""
    files = page_files()

    async def index(request: web.Request) -> web.Response:
        return _answer(request, files["index.html"])

    async def asset(request: web.Request) -> web.Response:
        file = files.get(request.match_info["name"])
        if file is None:
            raise ApiError(404, "not_found", {"message": "no such file of the page"})
        return _answer(request, file)

    app.router.add_get("/", index)
    app.router.add_get(PAGE_PREFIX + "{name:.+}", asset)
