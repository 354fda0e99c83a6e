"""Typed keys for what the API keeps on the application and on each request."""
from aiohttp import web

from store.api.options import ApiOptions
from store.core import Store

STORE = web.AppKey("store", Store)
OPTIONS = web.AppKey("options", ApiOptions)
TOKENS = web.AppKey("tokens", object)  # store.api.auth.TokenCache (typed loosely to avoid an import cycle)

# Request-scoped values (plain string keys: aiohttp requests take no AppKey).
REQUEST_ID = "vmbox.request_id"
AUTH_TOKEN = "vmbox.auth_token"
ACCOUNT_ID = "vmbox.account_id"
OPENAPI = web.AppKey("openapi", dict)
