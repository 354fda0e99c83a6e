"""The OpenAPI document and the server agree, case by case: each disagreement schemathesis once found
(tests/test_api_schemathesis.py) is here as a request the document and the server must judge alike.
A request the document allows is answered without a 400, and one it forbids gets a 400.

A real server and its own /v2/openapi.json; request bodies are checked against the document with
jsonschema (the document's references resolved within it).
"""

import json

import aiohttp
import jsonschema
import jsonschema_rs  # schemathesis's JSON Schema validator (Rust regexes)
import pytest

from store.ids import GREGORIAN_OFFSET
from tests.conftest import make_tone

LAST_SECOND_OF_9999 = 315569519999  # Gregorian seconds


@pytest.fixture
async def document(api) -> dict:
    return (await api.client.get("/v2/openapi.json", token="")).body


@pytest.fixture
async def ids(api) -> dict:
    box = await api.client.create_box("3000")
    other = await api.client.create_box("3001")
    message = await api.client.create_message(box["id"])
    user = await api.client.put("/users", {"data": {"first_name": "Ann", "last_name": "Lee"}})
    media = await api.client.put("/media", {"data": {"name": "greeting"}})
    return {
        "box": box["id"],
        "other": other["id"],
        "message": message["media_id"],
        "user": user.data["id"],
        "media": media.data["id"],
    }


def validator(document: dict, json_schema: dict) -> jsonschema.Draft202012Validator:
    """A validator of `json_schema`, whose `#/components/...` references resolve in `document`."""
    return jsonschema.Draft202012Validator({**json_schema, "components": document["components"]})


def operation(document: dict, method: str, path: str) -> dict:
    return document["paths"]["/v2/accounts/{account_id}" + path][method.lower()]


def body_allowed(document: dict, method: str, path: str, body: object) -> bool:
    """Whether the document allows `body` (None: no body) as the operation's JSON request."""
    request = operation(document, method, path)["requestBody"]
    if body is None:
        return not request.get("required", False)
    json_schema = request["content"]["application/json"]["schema"]
    return validator(document, json_schema).is_valid(body)


def fill(path: str, ids: dict) -> str:
    return path.format(**ids)


PATHS = {
    "box": "/vmboxes/{box_id}",
    "boxes": "/vmboxes",
    "messages": "/vmboxes/{box_id}/messages",
    "message": "/vmboxes/{box_id}/messages/{message_id}",
    "zip": "/vmboxes/{box_id}/messages/raw",
    "users": "/users",
    "user": "/users/{user_id}",
    "media": "/media",
    "media_one": "/media/{media_id}",
    "account_messages": "/messages",
}
CONCRETE = {
    "/vmboxes/{box_id}": "/vmboxes/{box}",
    "/vmboxes/{box_id}/messages": "/vmboxes/{box}/messages",
    "/vmboxes/{box_id}/messages/{message_id}": "/vmboxes/{box}/messages/{message}",
    "/vmboxes/{box_id}/messages/raw": "/vmboxes/{box}/messages/raw",
    "/users/{user_id}": "/users/{user}",
    "/media/{media_id}": "/media/{media}",
}

# (method, path, body): bodies the document once judged otherwise than the server.
CASES = {
    "replace-box-without-body": ("POST", "box", None),
    "replace-box-empty-envelope": ("POST", "box", {}),
    "create-box-without-body": ("PUT", "boxes", None),
    "create-user-without-body": ("PUT", "users", None),
    "create-media-without-body": ("PUT", "media", None),
    "replace-media-without-body": ("POST", "media_one", None),
    "bulk-change-without-body": ("POST", "messages", None),
    "bulk-change-empty-messages": ("POST", "messages", {"data": {"messages": []}}),
    "bulk-delete-empty-messages": ("DELETE", "messages", {"data": {"messages": []}}),
    "bulk-delete-without-body": ("DELETE", "messages", None),
    "zip-without-body": ("POST", "zip", None),
    "copy-to-no-box": ("POST", "message", {"data": {"source_id": []}}),
    "source-id-null-is-a-folder-change": ("POST", "message", {"data": {"source_id": None}}),
    "change-without-body": ("POST", "message", None),
    "patch-data-not-an-object": ("PATCH", "box", {"data": [None, None]}),
    "patch-null-removes-a-field": ("PATCH", "box", {"data": {"owner_id": None}}),
    "patch-without-body": ("PATCH", "box", None),
    "patch-null-inside-a-new-object": (
        "PATCH",
        "box",
        {"data": {"notify": {"callback": {"disabled": None, "number": "5551234"}}}},
    ),
    "revision-not-a-string": (
        "POST",
        "box",
        {"data": {"name": "B", "mailbox": "3000"}, "revision": {}},
    ),
    "revision-null": ("POST", "box", {"data": {"name": "B", "mailbox": "3000"}, "revision": None}),
    "user-revision-not-a-string": (
        "PUT",
        "users",
        {"data": {"first_name": "A", "last_name": "B"}, "revision": 1},
    ),
    "message-without-body": ("PUT", "messages", None),
    "message-after-year-9999": (
        "PUT",
        "messages",
        {"data": {"timestamp": LAST_SECOND_OF_9999 + 1}},
    ),
    "account-message-without-box": ("PUT", "account_messages", {"data": {}}),
    "account-message-empty-to": ("PUT", "account_messages", {"data": {"to": ""}}),
    "api-auth-without-body": ("PUT", "/v2/api_auth", None),
    "mailbox-not-digits": ("PUT", "boxes", {"data": {"name": "B", "mailbox": "12a"}}),
    "email-with-a-separator-control": (
        "PUT",
        "users",
        {"data": {"first_name": "A", "last_name": "B", "email": "a\x1cb@example.com"}},
    ),
    "endpoint-with-a-zero-width-space": (
        "PUT",
        "users",
        {"data": {"first_name": "A", "last_name": "B", "endpoints": ["PJSIP/10\ufeff01"]}},
    ),
}


@pytest.mark.parametrize("case", CASES)
async def test_the_document_and_the_server_judge_the_body_alike(api, document, ids, case):
    method, where, body = CASES[case]
    if where.startswith("/v2/"):
        request = document["paths"][where][method.lower()]["requestBody"]
        allowed = (
            not request.get("required", False)
            if body is None
            else validator(document, request["content"]["application/json"]["schema"]).is_valid(
                body
            )
        )
        url_path = where
    else:
        path = PATHS[where]
        allowed = body_allowed(document, method, path, body)
        url_path = CONCRETE.get(path, path).format(**ids)
    if body is None:
        reply = await api.client.call(method, url_path)
    else:
        reply = await api.client.call(method, url_path, json_body=body)
    assert reply.status < 500, reply.body
    refused = reply.status == 400
    assert refused == (not allowed), (case, allowed, reply.status, reply.body)


@pytest.mark.parametrize("blank", [b"\x0c", b" ", b"\n"], ids=["form-feed", "space", "newline"])
async def test_a_body_of_whitespace_is_no_json_for_the_document_or_the_server(api, ids, blank):
    # An empty body is an empty envelope; whitespace alone is not JSON text, so both refuse it.
    reply = await api.client.call(
        "PATCH", f"/vmboxes/{ids['box']}", data=blank, headers={"Content-Type": "application/json"}
    )
    assert reply.status == 400, reply.body
    assert reply.body["message"] == "invalid_json"


# --- query parameters ------------------------------------------------------------------------------------


def query_schema(document: dict, path: str, name: str) -> dict:
    (parameter,) = [p for p in operation(document, "GET", path)["parameters"] if p["name"] == name]
    return parameter["schema"]


@pytest.mark.parametrize("size", ["0", "null", "-1", "many"])
async def test_any_page_size_is_allowed_by_both_and_means_the_default(api, document, ids, size):
    assert query_schema(document, "/vmboxes", "page_size") == {}  # no constraint: anything goes
    reply = await api.client.get(f"/vmboxes/{ids['box']}/messages?page_size={size}")
    assert reply.status == 200, reply.body


@pytest.mark.parametrize("key", ["ÝétÄ", "!!!", "WzEsMl0"])
async def test_any_start_key_is_allowed_by_both(api, document, ids, key):
    assert query_schema(document, "/vmboxes", "start_key") == {"type": "string"}
    for path in ("/vmboxes", "/users", "/media", f"/vmboxes/{ids['box']}/messages"):
        reply = await api.client.get(f"{path}?start_key={key}")
        assert reply.status == 200, (path, reply.body)


async def test_created_bounds_are_documented_as_the_server_checks_them(api, document, ids):
    path = "/vmboxes/{box_id}/messages"
    for name in ("created_from", "created_to"):
        schema = query_schema(document, path, name)
        assert schema["minimum"] == GREGORIAN_OFFSET
        below = await api.client.get(
            f"/vmboxes/{ids['box']}/messages?{name}={GREGORIAN_OFFSET - 1}"
        )
        assert below.status == 400 and "minimum" in below.data[name], below.body
    both = f"created_from={GREGORIAN_OFFSET}&created_to={GREGORIAN_OFFSET}"
    reply = await api.client.get(f"/vmboxes/{ids['box']}/messages?{both}")
    assert reply.status == 200, reply.body


# --- answers ---------------------------------------------------------------------------------------------


async def test_healthz_answers_as_documented(api, document):
    reply = await api.client.get("/healthz", token="")
    documented = document["paths"]["/healthz"]["get"]["responses"]["200"]["content"]
    schema = documented["application/json"]["schema"]
    assert reply.status == 200
    validator(document, schema).validate(reply.body)


async def test_the_document_answers_as_documented(api, document):
    documented = document["paths"]["/v2/openapi.json"]["get"]["responses"]["200"]["content"]
    validator(document, documented["application/json"]["schema"]).validate(document)


# --- Allow ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, allowed",
    [("/vmboxes/{box}/messages/raw", "POST"), ("/vmboxes/messages", "GET")],
    ids=["messages-raw", "vmboxes-messages"],
)
@pytest.mark.parametrize("method", ["OPTIONS", "PUT", "PATCH"])
async def test_a_fixed_path_allows_only_its_own_methods(api, document, ids, path, allowed, method):
    # Its parameterised sibling (…/messages/{message_id}, …/vmboxes/{box_id}) has other methods.
    reply = await api.client.call(method, path.format(**ids))
    assert reply.status == 405, reply.body
    assert reply.headers["Allow"] == allowed
    documented = document["paths"]["/v2/accounts/{account_id}" + path.replace("{box}", "{box_id}")]
    assert set(documented) == {allowed.lower()}


async def test_a_malformed_id_in_the_sibling_s_place_is_still_bad_identifier(api, ids):
    reply = await api.client.get(f"/vmboxes/{ids['box']}/messages/rawish")
    assert reply.status == 404 and reply.body["message"] == "bad_identifier"


# --- multipart ---------------------------------------------------------------------------------------------


def form(*parts: tuple[str, bytes | str, dict]) -> aiohttp.MultipartWriter:
    writer = aiohttp.MultipartWriter("form-data")
    for name, value, headers in parts:
        part = writer.append(value, headers)
        part.set_content_disposition("form-data", name=name)
    return writer


async def test_a_part_named_file_is_the_audio_even_without_a_file_name(api, ids, tmp_path):
    # The document names the audio part `file`; untyped and unnamed, it was read as the metadata.
    sent = form(("file", "{}", {"Content-Type": "text/plain"}))
    reply = await api.client.call("PUT", f"/vmboxes/{ids['box']}/messages", data=sent)
    assert reply.status == 400, reply.body
    assert "format" in reply.data["file"]  # `{}` is no audio
    audio = make_tone(tmp_path, 1).read_bytes()
    sent = form(("file", audio, {"Content-Type": "application/octet-stream"}))
    reply = await api.client.call("PUT", f"/vmboxes/{ids['box']}/messages", data=sent)
    assert reply.status == 201, reply.body
    assert reply.data["length"] > 900


async def test_a_null_metadata_part_is_not_taken_for_none(api, ids):
    sent = form(("metadata", "null", {"Content-Type": "application/json"}))
    reply = await api.client.call("PUT", f"/vmboxes/{ids['box']}/messages", data=sent)
    assert reply.status == 400, reply.body
    assert "type" in json.dumps(reply.data)


async def test_media_created_by_multipart_needs_its_metadata_as_documented(api, document):
    multipart = operation(document, "PUT", "/media")["requestBody"]["content"]
    assert multipart["multipart/form-data"]["schema"]["required"] == ["metadata"]
    reply = await api.client.call("PUT", "/media", data=aiohttp.MultipartWriter("form-data"))
    assert reply.status == 400, reply.body
    assert "required" in reply.data["name"]


# --- patterns read alike in every regex dialect --------------------------------------------------------

SPACE_LIKE = ["\x1c", "\x1f", "\x85", "\ufeff", "\xa0", " ", "\t"]


@pytest.mark.parametrize("char", SPACE_LIKE, ids=[f"U+{ord(c):04X}" for c in SPACE_LIKE])
async def test_the_user_patterns_mean_the_same_to_python_and_to_ecmascript_regexes(
    api, document, char
):
    # `\s` differs between Python's re (the server) and ECMAScript-like engines (the document's readers,
    # schemathesis's jsonschema_rs among them); the patterns name the difference out, so both refuse.
    user = document["components"]["schemas"]["User"]["properties"]
    for field, value in (("email", f"a{char}b@example.com"), ("endpoints", f"PJSIP/1{char}0")):
        pattern = {
            "type": "string",
            "pattern": (user[field].get("items") or user[field])["pattern"],
        }
        assert not jsonschema.Draft202012Validator(pattern).is_valid(value), field
        assert not jsonschema_rs.validator_for(pattern).is_valid(value), field
