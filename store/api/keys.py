"""Typed keys for what the API keeps on the application and on each request."""

from aiohttp import web

from store.api.options import ApiOptions
from store.core import Store

STORE = web.AppKey("store", Store)
OPTIONS = web.AppKey("options", ApiOptions)
TOKENS = web.AppKey(
    "tokens", object
)  # store.api.auth.TokenCache (typed loosely to avoid an import cycle)

# Request-scoped values.
REQUEST_ID = web.RequestKey("request_id", str)
AUTH_TOKEN = web.RequestKey("auth_token", str)
ACCOUNT_ID = web.RequestKey("account_id", str)
OPENAPI = web.AppKey("openapi", dict)
REQUEST_IDS = web.AppKey("request_ids", object)  # store.api.envelope.RequestIds
RENDERINGS = web.AppKey("renderings", object)  # store.api.pages.Renderings
