"""The FastAGI server: accepts Asterisk's connections, reads each header block, hands the call over.

Each connection is its own task; a connection that misbehaves (cut-off header, garbage, silence) is
closed after `header_timeout_s` without affecting the others.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ivr.agi.connection import AgiConnection, AgiRequest, CallGone, HeaderError, parse_request

logger = logging.getLogger(__name__)

CallHandler = Callable[[AgiConnection, AgiRequest], Awaitable[None]]


class FastAgiServer:
    def __init__(
        self,
        handle_call: CallHandler,
        header_timeout_s: float = 10.0,
        reply_timeout_s: float = 900.0,
    ):
        self._handle_call = handle_call
        self._header_timeout_s = header_timeout_s
        self._reply_timeout_s = reply_timeout_s
        self._server: asyncio.Server | None = None
        self._calls: set[asyncio.Task] = set()

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen on host:port (0 = any free port); return the address actually bound."""
        self._server = await asyncio.start_server(self._connected, host, port, limit=64 * 1024)
        return self._server.sockets[0].getsockname()[:2]

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._calls.add(asyncio.current_task())
        connection = AgiConnection(reader, writer, self._reply_timeout_s)
        peer = writer.get_extra_info("peername")
        try:
            headers = await connection.read_headers(self._header_timeout_s)
            await self._handle_call(connection, parse_request(headers))
        except HeaderError as exc:
            logger.warning("dropping FastAGI connection from %s: %s", peer, exc)
        except CallGone:
            pass
        except TimeoutError:
            logger.warning("FastAGI peer %s stopped answering; closing", peer)
        except asyncio.CancelledError:
            # stop() cancels the calls in progress (the driver has already kept what was recorded). The
            # task ends normally: asyncio's stream callback would log a cancelled handler as an error.
            logger.info("FastAGI call from %s closed: vmbox is stopping", peer)
        except Exception:  # one broken call must never take the server down; the traceback says why
            logger.exception("FastAGI call from %s failed", peer)
        finally:
            await connection.close()
            self._calls.discard(asyncio.current_task())

    async def stop(self) -> None:
        """Stop listening and end the calls in progress (their handlers save what they can)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._calls):
            task.cancel()
        await asyncio.gather(*self._calls, return_exceptions=True)
