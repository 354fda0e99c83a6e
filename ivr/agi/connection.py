"""One FastAGI connection, read robustly (the reasons panoramisk's reading is not used; see
reference/asterisk-agi.md §5):

- the header block is read line by line with a deadline and a line limit; EOF or garbage before the
  blank line ends that connection only, never the event loop;
- one command at a time: a reply is read whole before the next command goes out;
- an out-of-band `HANGUP` line is a notification (the call is gone), not a reply: reading goes on for
  the real reply; `100 Trying` lines are skipped; a multi-line `520-` reply is read to its `520 ` end;
- EOF while waiting for a reply, and `511`, mean the caller is gone (`CallGone`);
- a reply that takes longer than the reply timeout raises TimeoutError. That deadline is kept by one
  timer per connection, which looks at the command being waited on when it fires, rather than by a
  timer per command: hundreds of calls each adding and cancelling a 15-minute timer for every command
  cost more in the event loop's timer heap than the rest of the command's handling.
"""

import asyncio
import logging
from dataclasses import dataclass

from ivr.agi.protocol import Reply, parse_reply

logger = logging.getLogger(__name__)

MAX_HEADER_LINES = 200


class HeaderError(Exception):
    """The connection did not send a complete AGI header block in time."""


class CallGone(Exception):
    """The caller hung up or Asterisk dropped the connection; no channel command can succeed now."""


@dataclass(frozen=True)
class AgiRequest:
    headers: dict[str, str]
    script: str  # the script name, query string removed (e.g. "leave")
    parameters: dict[str, str]  # from the query string and from key=value agi_arg_N
    arguments: tuple[str, ...]  # agi_arg_1..N that are not key=value

    @property
    def call_id(self) -> str:
        return self.headers.get("agi_uniqueid") or "unknown-call"


def parse_request(headers: dict[str, str]) -> AgiRequest:
    """The script, parameters and arguments of a header block. Query strings reach us verbatim in
    agi_network_script (Asterisk does not parse them), so both `leave?mailbox=1001` and
    `AGI(agi://host/leave,1001)` work, as do key=value arguments."""
    script, _, query = headers.get("agi_network_script", "").partition("?")
    parameters = dict(pair.partition("=")[::2] for pair in query.split("&") if pair)
    arguments = []
    for number in range(1, 100):
        value = headers.get(f"agi_arg_{number}")
        if value is None:
            break
        key, equals, rest = value.partition("=")
        if equals and key.isidentifier():
            parameters[key] = rest
        else:
            arguments.append(value)
    return AgiRequest(headers, script.strip("/"), parameters, tuple(arguments))


class AgiConnection:
    """Commands and replies over one FastAGI connection."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, reply_timeout_s: float
    ):
        self._reader = reader
        self._writer = writer
        self._reply_timeout_s = reply_timeout_s
        self._loop = asyncio.get_running_loop()
        self._waiting_since: float | None = None  # loop time the command being answered was sent
        self._watchdog: asyncio.TimerHandle | None = None
        self.hung_up = False  # set by an out-of-band HANGUP, a 511, or EOF

    async def _line(self) -> str:
        raw = await self._reader.readline()
        if not raw:
            raise EOFError
        return raw.decode("utf-8", errors="replace").rstrip("\r\n")

    async def read_headers(self, timeout_s: float) -> dict[str, str]:
        """The agi_* header block; HeaderError if it is cut off, malformed, too long or too slow."""
        try:
            async with asyncio.timeout(timeout_s):  # one deadline for the whole block
                return await self._header_lines()
        except (TimeoutError, EOFError, ValueError) as exc:
            raise HeaderError(f"header block not completed ({type(exc).__name__})") from None

    async def _header_lines(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADER_LINES):
            line = await self._line()
            if not line:
                if not headers:
                    raise HeaderError("empty header block")
                return headers
            name, colon, value = line.partition(":")
            if not colon or not name.startswith("agi_"):
                raise HeaderError(f"not an AGI header line: {line[:80]!r}")
            if name in headers:
                # Only a newline smuggled into a header value (a caller ID name, say) repeats a name:
                # refuse the call rather than let the smuggled line override the real one.
                raise HeaderError(f"header {name} sent twice")
            headers[name] = value.strip()
        raise HeaderError(f"header block longer than {MAX_HEADER_LINES} lines")

    async def send(self, line: str) -> Reply:
        """Send one command line and return its reply. Raises CallGone when the call is over,
        TimeoutError when no reply comes within the reply timeout."""
        self._waiting_since = self._loop.time()
        if self._watchdog is None:
            self._watch()
        try:
            self._writer.write(line.encode())
            await self._writer.drain()
            return await self._reply()
        except (EOFError, ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
            self.hung_up = True
            raise CallGone(f"connection closed ({type(exc).__name__})") from None
        finally:
            self._waiting_since = None

    def _watch(self) -> None:
        """Fail the reading of an overdue reply with TimeoutError; otherwise look again when the reply
        being waited on (or, between commands, the next one) would be overdue."""
        now, since = self._loop.time(), self._waiting_since
        if since is not None and now - since >= self._reply_timeout_s:
            self._watchdog = None
            self._reader.set_exception(TimeoutError(f"no reply in {self._reply_timeout_s:g} s"))
            return
        self._watchdog = self._loop.call_at(
            (now if since is None else since) + self._reply_timeout_s, self._watch
        )

    async def _reply(self) -> Reply:
        while True:
            line = await self._line()
            if line == "HANGUP":
                self.hung_up = True
                continue
            if line.startswith("520-"):
                while not (await self._line()).startswith("520 "):
                    pass
                return Reply(520, text=line)
            try:
                reply = parse_reply(line)
            except ValueError:
                logger.warning("ignoring a line that is not an AGI reply: %r", line[:200])
                continue
            if reply.code == 100:
                continue
            if reply.code == 511:
                self.hung_up = True
                raise CallGone("command refused on a dead channel (511)")
            return reply

    async def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except (ConnectionError, OSError):
            pass
