"""The OpenAPI document describes exactly the API routes the server answers (not the web page's)."""

import re

from store.api.app import make_app
from store.api.page import is_page


def _router_operations(app) -> set[tuple[str, str]]:
    operations = set()
    for route in app.router.routes():
        if route.method == "HEAD":  # aiohttp adds HEAD beside every GET
            continue
        if is_page(route.resource.canonical):  # the web page is no part of the API
            continue
        operations.add((route.method.lower(), route.resource.canonical))
    return operations


async def test_openapi_lists_every_route_and_nothing_else(api):
    reply = await api.client.get("/v2/openapi.json", token="")
    assert reply.status == 200
    document = reply.body
    described = {(method, path) for path, item in document["paths"].items() for method in item}
    assert described == _router_operations(make_app(api.store))


async def test_every_path_parameter_is_declared(api):
    document = (await api.client.get("/v2/openapi.json", token="")).body
    for path, item in document["paths"].items():
        in_path = set(re.findall(r"{(\w+)}", path))
        for method, operation in item.items():
            declared = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            assert declared == in_path, (method, path)


async def test_every_reference_resolves(api):
    document = (await api.client.get("/v2/openapi.json", token="")).body
    text = str(document)
    for ref in set(re.findall(r"#/components/schemas/(\w+)", text)):
        assert ref in document["components"]["schemas"], ref


PUBLIC = {
    ("get", "/healthz"),
    ("get", "/v2/openapi.json"),
    ("put", "/v2/api_auth"),
    ("put", "/v2/vmbox_auth"),
}


async def test_every_operation_but_the_logins_and_service_ones_requires_a_token(api):
    document = (await api.client.get("/v2/openapi.json", token="")).body
    for path, item in document["paths"].items():
        for method, operation in item.items():
            expected = [] if (method, path) in PUBLIC else [{"AuthToken": []}, {"TokenCookie": []}]
            assert operation["security"] == expected, (method, path)
