"""Typed keys for what the API keeps on the application and on each request."""

from aiohttp import web

from store.api.options import ApiOptions
from store.core import Store

STORE = web.AppKey("store", Store)
OPTIONS = web.AppKey("options", ApiOptions)
TOKENS = web.AppKey(
    "tokens", object
)  # store.api.auth.TokenCache (typed loosely to avoid an import cycle)
OPENAPI = web.AppKey("openapi", dict)
REQUEST_IDS = web.AppKey("request_ids", object)  # store.api.envelope.RequestIds
RENDERINGS = web.AppKey("renderings", object)  # store.api.pages.Renderings
PROXIES = web.AppKey("proxies", object)  # store.api.proxies.TrustedProxies
WATCH = web.AppKey("watch", object)  # store.box_watch.BoxWatch
LOGIN_LIMITS = web.AppKey("login_limits", object)  # store.api.login_limits.FailedLogins
# (method, path pattern) of the routes anyone may call, and of those a box login's token may call.
PUBLIC_ROUTES = web.AppKey("public_routes", frozenset)
BOX_ROUTES = web.AppKey("box_routes", frozenset)

# Request-scoped values.
REQUEST_ID = web.RequestKey("request_id", str)
AUTH_TOKEN = web.RequestKey("auth_token", str)  # the token a request presented
ECHOED_TOKEN = web.RequestKey("echoed_token", str)  # the envelope's auth_token ("" for a cookie's)
ACCOUNT_ID = web.RequestKey("account_id", str)
TOKEN_BOX = web.RequestKey("token_box", object)  # the box a box login's token reaches, else None
