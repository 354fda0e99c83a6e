"""Service endpoints: health and the API description."""

from aiohttp import web

from store.api.envelope import ApiError
from store.api.keys import OPENAPI, STORE


async def healthz(request: web.Request) -> web.Response:
    """200 {"status": "ok"} when the database answers; 503 otherwise."""
    try:
        await request.app[STORE].db.fetch_one("SELECT 1")
    except Exception as exc:  # any database failure means unhealthy; the reason goes in the answer
        raise ApiError(503, "unhealthy", {"message": f"database unavailable: {exc}"}) from exc
    return web.json_response({"status": "ok"})


async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI document built from the route table."""
    return web.json_response(request.app[OPENAPI])
