"""An OpenAI-compatible transcription service on 127.0.0.1:<ephemeral>, for the HTTP engine's tests and
benchmark: `POST /v1/audio/transcriptions` with a multipart `file` and `model`, and a Bearer key.

It checks a request as the real service does (401 without the key, 400 without a file or a model) and
then answers what the test scripts: `answer(request)` gives (status, JSON body). A test may hold requests
until it lets them go (to race a deletion, or to outlast the client's timeout); every request that got
past the checks is kept in `requests`, and each arrival wakes `on_request`.
"""

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

PATH = "/v1/audio/transcriptions"


@dataclass(frozen=True)
class Request:
    model: str
    filename: str
    content_type: str
    audio: bytes


Answer = Callable[[Request], Awaitable[tuple[int, object]]]


def says(text: str) -> Answer:
    """An answer that always hears `text`."""

    async def answer(request: Request) -> tuple[int, object]:
        return 200, {"text": text}

    return answer


def error(status: int, message: str = "scripted error") -> tuple[int, object]:
    """An error answer in OpenAI's shape."""
    return status, {"error": {"message": message, "type": "invalid_request_error", "code": None}}


class TranscriptionServer:
    def __init__(self, api_key: str, answer: Answer, on_request: Callable[[], None] = lambda: None):
        self.api_key = api_key
        self.answer = answer
        self.on_request = on_request
        self.requests: list[Request] = []
        self.hold: asyncio.Event | None = None  # while set to an unset event, requests wait for it
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> "TranscriptionServer":
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post(PATH, self._transcriptions)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def close(self) -> None:
        if self.hold is not None:
            self.hold.set()  # a held handler must finish, or the shutdown waits for it
        await self._runner.cleanup()

    async def _transcriptions(self, http: web.Request) -> web.Response:
        if http.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _json(*error(401, "Incorrect API key provided"))
        request = await _read_form(http)
        if request is None:
            return _json(*error(400, "a multipart form with `file` and `model` is required"))
        self.requests.append(request)
        self.on_request()
        if self.hold is not None:
            await self.hold.wait()
        return _json(*await self.answer(request))


async def _read_form(http: web.Request) -> Request | None:
    """The multipart form's `file` and `model`, or None when either is missing."""
    if not http.content_type.startswith("multipart/"):
        return None
    fields: dict[str, tuple[str | None, str, bytes]] = {}
    reader = await http.multipart()
    while (part := await reader.next()) is not None:
        fields[part.name] = (part.filename, part.headers.get("Content-Type", ""), await part.read())
    if "file" not in fields or not fields["file"][0] or "model" not in fields:
        return None
    filename, content_type, audio = fields["file"]
    return Request(fields["model"][2].decode(), filename, content_type, audio)


def _json(status: int, body: object) -> web.Response:
    text = body if isinstance(body, str) else json.dumps(body)
    return web.Response(status=status, text=text, content_type="application/json")
