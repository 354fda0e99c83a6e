"""Asterisk's REST interface (ARI) as vmbox uses it: REST requests and the events websocket.

The only module that uses aiohttp's client for ARI. It fences it in:
- every request carries HTTP Basic auth; query values become ARI's strings (True -> "true"; a list
  becomes one comma-separated value, as Asterisk reads a `media` playlist: a repeated `media=` would
  replace the list before it, so a prompt would be cut to its last part); an answer of 400 or more
  raises AriError with
  Asterisk's `message`, an unreachable Asterisk raises AriDown: errors are raised, never returned;
- `run` keeps the websocket `/ari/events?app=<app>` open. Opening it is what registers the Stasis
  application, so reconnecting re-registers it. It reconnects at once after a drop, then backs off
  (1 s, doubling up to 30 s) while Asterisk cannot be reached; `on_down` is told of every drop so calls
  in progress can end, and `on_up` of every (re)connection.
"""

import asyncio
import json
import logging
from collections.abc import Callable

import aiohttp

from ivr.notify.worker import Backoff, SystemClock

logger = logging.getLogger(__name__)

RECONNECT = Backoff(base_s=1, max_s=30)
REQUEST_TIMEOUT_S = 30.0
DOWNLOAD_TIMEOUT_S = 120.0


class AriError(Exception):
    """Asterisk refused a request (`status` 4xx/5xx), or answered one in a way vmbox cannot use."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


class AriDown(AriError):
    """Asterisk's HTTP server cannot be reached now."""


def _query(params: dict) -> list[tuple[str, str]]:
    pairs = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            value = ",".join(map(str, value))
        pairs.append((key, str(value).lower() if isinstance(value, bool) else str(value)))
    return pairs


class AriClient:
    """REST requests to `<url>/ari/...` and the event stream of one Stasis application."""

    def __init__(self, url: str, username: str, password: str, app: str, clock=None):
        self.base = url.rstrip("/") + "/ari"
        self.app = app
        self.clock = clock or SystemClock()
        self.generation = 0  # websocket connections so far
        self._auth = {"Authorization": aiohttp.encode_basic_auth(username, password)}
        self._session: aiohttp.ClientSession | None = None
        self._closing = asyncio.Event()
        self._socket: aiohttp.ClientWebSocketResponse | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._closing.is_set():
            raise AriDown("the ARI client is closed")
        if self._session is None:  # made inside the running loop
            self._session = aiohttp.ClientSession(
                headers=self._auth, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
            )
        return self._session

    async def request(self, method: str, path: str, **params) -> object:
        """`method` `path` (under /ari) with query `params`; the JSON answer, or None for 204.
        Raises AriError (refused: .status says how), AriDown (unreachable)."""
        try:
            async with self._http().request(
                method, self.base + path, params=_query(params)
            ) as reply:
                body = await reply.read()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise AriDown(
                f"{method} {path}: Asterisk unreachable ({type(exc).__name__}: {exc})"
            ) from None
        document = _json(body)
        if reply.status >= 400:
            message = (
                document.get("message")
                if isinstance(document, dict)
                else body[:200].decode(errors="replace")
            )
            raise AriError(f"{method} {path}: {reply.status} {message}", reply.status)
        return document

    async def download(self, path: str) -> bytes:
        """The bytes `GET path` answers (a stored recording's file). Raises AriError, AriDown."""
        try:
            async with self._http().get(
                self.base + path, timeout=aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT_S)
            ) as reply:
                body = await reply.read()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise AriDown(
                f"GET {path}: Asterisk unreachable ({type(exc).__name__}: {exc})"
            ) from None
        if reply.status >= 400:
            raise AriError(f"GET {path}: {reply.status}", reply.status)
        return body

    async def run(
        self,
        on_event: Callable[[dict], None],
        on_up: Callable[[], None],
        on_down: Callable[[], None],
    ) -> None:
        """Receive the application's events until closed or cancelled, reconnecting as needed."""
        failures, problem = 0, None
        url = self.base + "/events"
        while not self._closing.is_set():
            try:
                socket = await self._http().ws_connect(
                    url,
                    params={"app": self.app},
                    heartbeat=30,
                    timeout=aiohttp.ClientWSTimeout(ws_close=5),
                )
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                failures += 1
                problem = self._report(exc, problem, failures)
                await self.clock.sleep(RECONNECT.delay(failures), self._closing)
                continue
            failures, problem = 0, None
            self._socket = socket
            self.generation += 1
            logger.info("ARI: application %r registered at %s", self.app, self.base)
            on_up()
            try:
                await self._receive(socket, on_event)
            finally:
                self._socket = None
                await socket.close()
                on_down()
            if not self._closing.is_set():
                logger.warning("ARI: the events websocket to %s closed; reconnecting", self.base)

    async def _receive(self, socket: aiohttp.ClientWebSocketResponse, on_event) -> None:
        async for message in socket:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            event = _json(message.data.encode())
            if isinstance(event, dict) and "type" in event:
                on_event(event)
            else:
                logger.warning(
                    "ARI: ignoring a websocket message that is not an event: %r", message.data[:200]
                )

    def _report(self, exc: Exception, last: str | None, failures: int) -> str:
        problem = f"{type(exc).__name__}: {exc}"
        refused = isinstance(exc, aiohttp.WSServerHandshakeError) and exc.status in (401, 403)
        if refused:
            problem = f"Asterisk refused the login as this user (check [ari] username and password): {problem}"
        level = logging.DEBUG if problem == last else logging.ERROR if refused else logging.WARNING
        logger.log(
            level,
            "ARI %s: %s; trying again in %.0f s",
            self.base,
            problem,
            RECONNECT.delay(failures),
        )
        return problem

    async def drop(self) -> None:
        """Close the current websocket (run() reconnects): for a clean re-registration."""
        if self._socket is not None:
            await self._socket.close()

    async def close(self) -> None:
        """Stop reconnecting, close the websocket and the HTTP session."""
        self._closing.set()
        await self.drop()
        if self._session is not None:
            await self._session.close()


def _json(body: bytes) -> object:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None
