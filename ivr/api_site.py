"""The REST API's listening site for `vmbox serve`: plain HTTP, or HTTPS with `[api] tls_cert` and
`tls_key` (a browser gives a page its microphone only in a secure context), and its access log.

The access log names the request id, the client (as a trusted proxy reports it), the method, the
path without its query, the status and the time taken: never a header (no Cookie, no X-Auth-Token)
and no query string, so no token reaches a log line even if a client put one in a URL.
"""

import logging
import ssl

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from ivr.config import ApiSettings, ConfigError
from store.api.keys import PROXIES, REQUEST_ID

access_logger = logging.getLogger("vmbox.access")


class AccessLogger(AbstractAccessLogger):
    """One line per request: id, client, method, path (no query), status, seconds."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        app = getattr(request, "app", None)  # a request too broken to route has none
        client = app[PROXIES].client_address(request) if app is not None else request.remote
        self.logger.info(
            "%s %s %s %s %d %.3f",
            request.get(REQUEST_ID, "-"),
            client or "-",
            request.method,
            request.path,
            response.status,
            time,
        )


def tls_context(api: ApiSettings) -> ssl.SSLContext | None:
    """The server's TLS context from `tls_cert` and `tls_key` (PEM files), or None when neither is
    set. Raises ConfigError, naming the setting and the file, when only one is set or a file is
    missing, unreadable or not a matching certificate and key."""
    if not api.tls_cert and not api.tls_key:
        return None
    if not (api.tls_cert and api.tls_key):
        raise ConfigError(
            "[api] tls_cert and tls_key go together (VMBOX_API_TLS_CERT, VMBOX_API_TLS_KEY):"
            " set both for HTTPS, or neither"
        )
    for name, path in (("tls_cert", api.tls_cert), ("tls_key", api.tls_key)):
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            raise ConfigError(f"[api] {name}: cannot read {path}: {exc.strerror}") from None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(api.tls_cert, api.tls_key)
    except ssl.SSLError as exc:
        raise ConfigError(
            f"[api] tls_cert {api.tls_cert} and tls_key {api.tls_key} are not a PEM certificate"
            f" and its private key: {exc.reason or exc}"
        ) from None
    return context


def api_runner(app: web.Application) -> web.AppRunner:
    return web.AppRunner(app, access_log_class=AccessLogger, access_log=access_logger)


async def start_site(runner: web.AppRunner, api: ApiSettings) -> str:
    """Start listening as `api` says (the runner set up); the base URL it listens on."""
    context = tls_context(api)
    site = web.TCPSite(runner, api.host, api.port, ssl_context=context)
    await site.start()
    host, port = runner.addresses[0][:2]  # the real port, when 0 picked one
    return f"{'https' if context else 'http'}://{host}:{port}"
