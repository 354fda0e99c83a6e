"""The OpenAPI document is held to the server: schemathesis walks the whole of /v2/openapi.json against a
real API (a real store, on a loopback port) with every check, and any finding fails the test with
schemathesis's report. Run once with a fixed seed and once with a random one (printed, so a failure can
be replayed with `--seed`).

Path parameters are real ids, so the handlers run rather than answering 404: a box with a message that
has audio, a user and a media object with audio. DELETE operations get ids of their own (a second box,
message, user and media object), so the others keep theirs for the rest of the run. Streaming
operations (text/event-stream) are left out: schemathesis would wait on them. The refusals only the
server can foresee are in tests/schemathesis_hooks.py.
"""

import asyncio
import os
import random
import sys
from pathlib import Path

import pytest

from tests.conftest import make_tone

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
FIXED_SEED = 20261202
# Bounds that keep both runs together within about 90 s on 2 cores.
MAX_EXAMPLES = 15
MAX_SECONDS = 35


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_url(request) -> str | None:
    """Two runs, not four: the fixed seed on SQLite, a random seed on PostgreSQL (`seed` below)."""
    if request.param == "sqlite":
        return None
    server = request.getfixturevalue("postgres")
    return await server.new_database(server.template)


@pytest.fixture
def seed(store_url) -> int:
    """The fixed seed (a run that repeats) on SQLite, a new one on PostgreSQL (a run that explores)."""
    return FIXED_SEED if store_url is None else random.randrange(2**32)


async def _ids(client, tmp_path: Path, mailbox: str) -> dict[str, str]:
    """A box with a message with audio, a user, a media object with audio: their ids."""
    box = await client.create_box(mailbox)
    message = await client.create_message(box["id"], audio=make_tone(tmp_path, 1, f"{mailbox}.wav"))
    user = await client.put("/users", {"data": {"first_name": "Ann", "last_name": mailbox}})
    media = await client.put("/media", {"data": {"name": f"greeting {mailbox}"}})
    raw = await client.call(
        "PUT",
        f"/media/{media.data['id']}/raw",
        data=make_tone(tmp_path, 1, f"media-{mailbox}.wav").read_bytes(),
        headers={"Content-Type": "audio/wav"},
    )
    assert (user.status, media.status, raw.status) == (201, 201, 200), (user, media, raw)
    return {
        "box_id": box["id"],
        "message_id": message["media_id"],
        "user_id": user.data["id"],
        "media_id": media.data["id"],
    }


def _config(account_id: str, kept: dict, deleted: dict) -> str:
    """schemathesis.toml: the ids as path parameters; DELETE operations get their own."""
    lines = ["[parameters]", f'"path.account_id" = "{account_id}"']
    lines += [f'"path.{name}" = "{value}"' for name, value in kept.items()]
    lines += ["", "[[operations]]", 'include-method = "DELETE"', "[operations.parameters]"]
    lines += [f'"path.account_id" = "{account_id}"']
    lines += [f'"path.{name}" = "{value}"' for name, value in deleted.items()]
    return "\n".join(lines) + "\n"


def _only_refused(report: str) -> set[str]:
    """The operations schemathesis's "Authentication failed" warning lists: those that answered only
    401 or 403."""
    _, found, rest = report.partition("Authentication failed:")
    if not found:
        return set()
    listed = rest.split("💡", 1)[0]
    return {line.strip()[2:] for line in listed.splitlines() if line.strip().startswith("- ")}


def _streaming(document: dict) -> list[str]:
    """Operation ids of the operations that answer text/event-stream."""
    return [
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
        if any(
            "text/event-stream" in response.get("content", {})
            for response in operation.get("responses", {}).values()
        )
    ]


@pytest.mark.timeout(MAX_SECONDS + 60)  # schemathesis starts and stops outside --max-time
async def test_schemathesis_finds_nothing(api, tmp_path, seed):
    print(f"schemathesis seed: {seed}")  # shown even if the run is cut short
    client = api.client
    kept = await _ids(client, tmp_path, "3000")
    deleted = await _ids(client, tmp_path, "3001")
    config = tmp_path / "schemathesis.toml"
    config.write_text(_config(client.account_id, kept, deleted))
    document = (await client.get("/v2/openapi.json", token="")).body
    # Logging out revokes the very token the run uses: every later request would get 401.
    skipped = [*_streaming(document), "delete_vmbox_auth"]
    excluded = [arg for ident in skipped for arg in ("--exclude-operation-id", ident)]
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(config),
        "--no-color",
        "run",
        f"{api.base}/v2/openapi.json",
        "--checks",
        "all",
        "--seed",
        str(seed),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--max-time",
        str(MAX_SECONDS),
        "--request-timeout",
        "10",
        # One worker: stateful scenarios run one at a time, so none deletes what another uses.
        "--workers",
        "1",
        "--generation-database",
        "none",
        "-H",
        f"X-Auth-Token: {client.token}",
        *excluded,
    ]
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=tmp_path,  # whatever schemathesis keeps between runs stays out of the checkout
        env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    report = output.decode(errors="replace")
    print(report)
    assert process.returncode == 0, f"schemathesis (seed {seed}) found disagreements:\n{report}"
    # A run that lost its token tested nothing behind it (the logins refuse random keys and PINs).
    assert _only_refused(report) <= {"PUT /v2/api_auth", "PUT /v2/vmbox_auth"}, report


def test_streaming_operations_are_found_by_their_content_type():
    document = {
        "paths": {
            "/a": {
                "get": {
                    "operationId": "events",
                    "responses": {"200": {"content": {"text/event-stream": {}}}},
                }
            },
            "/b": {
                "get": {
                    "operationId": "json",
                    "responses": {
                        "200": {"content": {"application/json": {}}},
                        "default": {"description": "error"},
                    },
                }
            },
        }
    }
    assert _streaming(document) == ["events"]


def test_the_operations_refused_for_want_of_a_token_are_read_from_the_report():
    report = (
        "Warnings:\nAuthentication failed: 2 operations returned only 401/403 responses\n\n"
        "401 Unauthorized (2 operations):\n  - PUT /v2/api_auth\n  - GET /v2/accounts/{a}/media\n\n"
        "💡 Ensure valid authentication credentials are set\n\nRate limited: …\n  - PUT /x\n"
    )
    assert _only_refused(report) == {"PUT /v2/api_auth", "GET /v2/accounts/{a}/media"}
    assert _only_refused("no warnings") == set()
