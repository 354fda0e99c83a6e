"""The aiohttp application: routes, request ids, errors in KAZOO's shape, token checks."""

import logging

from aiohttp import web

from store.api.auth import TokenCache, authorize
from store.api.envelope import ApiError, RequestIds, bad_identifier, error_reply, validation_error
from store.api.keys import (
    BOX_ROUTES,
    LOGIN_LIMITS,
    OPENAPI,
    OPTIONS,
    PROXIES,
    PUBLIC_ROUTES,
    RENDERINGS,
    REQUEST_ID,
    REQUEST_IDS,
    STORE,
    TOKENS,
    WATCH,
)
from store.api.login_limits import FailedLogins
from store.api.openapi import build_openapi
from store.api.options import ApiOptions
from store.api.page import add_page_routes
from store.api.pages import Renderings
from store.api.proxies import TrustedProxies
from store.api.routes import ROUTES, add_routes, box_routes, public_routes
from store.box_watch import BoxWatch
from store.core import Store
from store.errors import (
    Invalid,
    NoAudio,
    NotAudio,
    NotFound,
    RevisionConflict,
    StoreUnreachable,
    TooLarge,
    TooLong,
)

logger = logging.getLogger(__name__)


def _api_error(exc: Exception) -> ApiError | None:
    """The KAZOO-shaped answer to an exception a handler let through, or None if it is a bug."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, NotFound):
        return bad_identifier(exc.ident)
    if isinstance(exc, Invalid):
        return validation_error(exc.errors)
    if isinstance(exc, RevisionConflict):
        return ApiError(
            409,
            "datastore_conflict",
            {
                "message": "the object changed since the revision you sent; fetch it again and retry",
                "cause": exc.ident,
            },
        )
    if isinstance(exc, NotAudio):
        return validation_error(
            {"file": {"format": {"message": f"{exc}; upload audio such as mp3 or wav"}}}
        )
    if isinstance(exc, NoAudio):
        return ApiError(
            404,
            "bad_identifier",
            {
                "message": "no audio has been uploaded yet; upload it with PUT …/raw",
                "cause": exc.ident,
            },
        )
    if isinstance(exc, (TooLarge, TooLong)):
        return ApiError(413, "request_entity_too_large", {"message": str(exc)})
    if isinstance(exc, StoreUnreachable):  # KAZOO answers 503 datastore_fault when CouchDB is down
        return ApiError(
            503, "datastore_fault", {"message": "the database cannot be reached; try again shortly"}
        )
    if isinstance(exc, web.HTTPException):
        return _http_error(exc)
    return None


def _http_error(exc: web.HTTPException) -> ApiError:
    if exc.status == 404:
        return ApiError(404, "not_found", {"message": "no such endpoint; see /v2/openapi.json"})
    if exc.status == 405:
        allowed = sorted(getattr(exc, "allowed_methods", ()))
        return ApiError(
            405,
            "method_not_allowed",
            {"message": f"allowed methods: {', '.join(allowed)}"},
            headers={"Allow": ",".join(allowed)},
        )
    return ApiError(
        exc.status, exc.reason.lower().replace(" ", "_"), {"message": exc.text or exc.reason}
    )


@web.middleware
async def kazoo_middleware(request: web.Request, handler):
    """Give each request an id, check its token, and turn every failure into KAZOO's error envelope.

    One middleware rather than one per concern: each layer costs every request a few microseconds.
    """
    request[REQUEST_ID] = request.app[REQUEST_IDS].new(request.headers.get("X-Request-ID"))
    try:
        await authorize(request)
        response = await handler(request)
    except Exception as exc:  # every failure must leave as a KAZOO error, bugs included
        error = _api_error(exc)
        if isinstance(exc, StoreUnreachable):
            logger.warning("request %s %s: %s", request[REQUEST_ID], request.path, exc)
        if error is None:
            logger.exception(
                "request %s %s %s failed", request[REQUEST_ID], request.method, request.path
            )
            error = ApiError(
                500,
                "unspecified_fault",
                {"message": "internal error; quote the request_id when reporting it"},
            )
        response = error_reply(request, error)
    response.headers["X-Request-ID"] = request[REQUEST_ID]
    return response


def make_app(store: Store, options: ApiOptions | None = None) -> web.Application:
    """The REST API application over `store`; the caller owns the store's lifetime."""
    options = options or ApiOptions()
    # aiohttp's own body limit only guards request.read()/post(); uploads are streamed and capped by us.
    app = web.Application(middlewares=[kazoo_middleware], client_max_size=options.max_json_bytes)
    app[STORE] = store
    app[OPTIONS] = options
    app[TOKENS] = TokenCache()
    app[OPENAPI] = build_openapi(ROUTES)
    app[REQUEST_IDS] = RequestIds()
    app[RENDERINGS] = Renderings()
    app[PUBLIC_ROUTES] = public_routes()
    app[BOX_ROUTES] = box_routes()
    app[PROXIES] = TrustedProxies(options.trusted_proxies)
    app[LOGIN_LIMITS] = FailedLogins(options.login_failures, options.login_window_s)
    app[WATCH] = BoxWatch(store)
    app.on_shutdown.append(_end_watches)  # before aiohttp waits for handlers: event streams end
    add_routes(app)
    add_page_routes(app)
    return app


async def _end_watches(app: web.Application) -> None:
    await app[WATCH].close()
