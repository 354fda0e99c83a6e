"""A fake Asterisk manager interface (AMI) on loopback, and a clock the test moves by hand.

FakeAsterisk speaks AMI as Asterisk does (main/manager.c, res/res_mwi_external_ami.c): the banner
`Asterisk Call Manager/<version>`, `\\r\\n`-terminated `Key: value` packets ended by an empty line, Login
(a wrong secret: `Response: Error`, `Message: Authentication failed`, then the connection is closed),
Originate (only with `Async: true`: acknowledged, then an OriginateResponse event with the ActionID,
sent only to sessions whose Events include `call`), MWIUpdate and MWIDelete, Ping. It records every
action and fails the test on anything it does not expect: an unknown action, an action before login,
an Originate without Async or without what it needs, a malformed packet.
"""

import asyncio
import time
from dataclasses import dataclass

VERSION = "Asterisk Call Manager/9.0.0"
ALL_EVENTS = {
    "system",
    "call",
    "log",
    "verbose",
    "command",
    "agent",
    "user",
    "config",
    "dtmf",
    "reporting",
    "cdr",
    "dialplan",
    "originate",
    "agi",
    "cc",
    "aoc",
    "test",
    "security",
    "message",
}


class TestClock:
    """now() and sleep(seconds, wake) like the worker's SystemClock, but time moves only by `advance`.

    It starts a day ahead of real time, on a whole second: jobs the store queues at real time are due
    at once, and sums of whole seconds compare exactly."""

    __test__ = False

    def __init__(self):
        self.time = float(int(time.time()) + 86400)
        self.sleepers: list[
            tuple[float, float, asyncio.Future]
        ] = []  # (deadline, seconds asked, future)
        self.changed = asyncio.Condition()

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float, wake: asyncio.Event) -> None:
        if seconds <= 0 or wake.is_set():
            return
        entry = (self.time + seconds, seconds, asyncio.get_running_loop().create_future())
        self.sleepers.append(entry)
        async with self.changed:
            self.changed.notify_all()
        woken = asyncio.ensure_future(wake.wait())
        try:
            await asyncio.wait({entry[2], woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            self.sleepers.remove(entry)

    def advance(self, seconds: float) -> None:
        """Move time on; every sleeper whose time has come wakes up."""
        self.time += seconds
        for deadline, _, future in self.sleepers:
            if deadline <= self.time and not future.done():
                future.set_result(None)

    async def sleeping(self, seconds: float, timeout: float = 5) -> None:
        """Wait until something sleeps for `seconds` (e.g. a reconnection backing off)."""
        async with self.changed:
            await asyncio.wait_for(
                self.changed.wait_for(
                    lambda: any(
                        asked == seconds for _, asked, future in self.sleepers if not future.done()
                    )
                ),
                timeout,
            )


@dataclass(frozen=True)
class ActionSeen:
    name: str
    headers: dict[str, list[str]]  # lower-case name -> every value of that header, in order
    at: float  # the test clock's time when it arrived

    def __getitem__(self, key: str) -> str:
        """The (first) value of header `key`, whatever its case: AMI header names are case-insensitive."""
        return self.headers[key.lower()][0]


def packet(*pairs: tuple[str, object]) -> bytes:
    return "".join(f"{key}: {value}\r\n" for key, value in pairs).encode() + b"\r\n"


class FakeAsterisk:
    """The AMI side of Asterisk. `originate_outcomes` scripts each Originate: a reason (4 answered,
    3 no answer, 5 busy, 8 congestion, 0/1 failed), "drop" (close the connection after the ack),
    "hold" (acknowledge, then never answer) or "refuse" (Response: Error, Permission denied)."""

    def __init__(self, clock: TestClock, username: str = "vmbox", secret: str = "s3cret"):
        self.clock, self.username, self.secret = clock, username, secret
        self.actions: list[ActionSeen] = []
        self.unexpected: list[str] = []
        self.originate_outcomes: list[object] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._changed = asyncio.Condition()
        self._uniqueids = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Asterisk going away: connections dropped, the port refusing."""
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    def seen(self, name: str) -> list[ActionSeen]:
        return [action for action in self.actions if action.name == name]

    async def wait_for(self, name: str, count: int, timeout: float = 10) -> list[ActionSeen]:
        """Wait until `count` actions `name` have arrived (failing at once on anything unexpected)."""

        def ready() -> bool:
            assert not self.unexpected, self.unexpected
            return len(self.seen(name)) >= count

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(ready), timeout)
        return self.seen(name)

    async def _fail(self, writer: asyncio.StreamWriter, problem: str) -> None:
        self.unexpected.append(problem)
        async with self._changed:
            self._changed.notify_all()
        writer.close()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        writer.write(f"{VERSION}\r\n".encode())
        state = {"user": None, "events": set()}
        try:
            while True:
                raw = await reader.readuntil(b"\r\n\r\n")
                fields = self._parse(raw)
                if fields is None:
                    return await self._fail(writer, f"malformed packet {raw!r}")
                if not await self._handle(fields, state, writer):
                    return
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client went away
        finally:
            self._writers.discard(writer)
            writer.close()

    @staticmethod
    def _parse(raw: bytes) -> dict[str, list[str]] | None:
        fields: dict[str, list[str]] = {}
        for line in raw.decode().split("\r\n")[:-2]:
            key, colon, value = line.partition(": ")
            if not colon or not key:
                return None
            fields.setdefault(key.lower(), []).append(value)
        return fields if "action" in fields else None

    async def _handle(self, fields: dict, state: dict, writer: asyncio.StreamWriter) -> bool:
        """Answer one action as Asterisk would; False when the connection ends."""
        name = fields["action"][0]
        action = ActionSeen(name, fields, self.clock.now())
        self.actions.append(action)
        async with self._changed:
            self._changed.notify_all()
        handler = {
            "login": self._login,
            "ping": self._ping,
            "originate": self._originate,
            "mwiupdate": self._mwi,
            "mwidelete": self._mwi,
        }.get(name.lower())
        if handler is None:
            writer.write(packet(*self._id(fields), ("Message", "Invalid/unknown command")))
            await self._fail(writer, f"unexpected action {name}: {fields}")
            return False
        if name.lower() != "login" and state["user"] is None:
            await self._fail(writer, f"{name} before login")
            return False
        return await handler(fields, state, writer)

    @staticmethod
    def _id(fields: dict, response: str = "Error") -> list[tuple[str, str]]:
        pairs = [("Response", response)]
        return pairs + [("ActionID", fields["actionid"][0])] if "actionid" in fields else pairs

    async def _login(self, fields: dict, state: dict, writer) -> bool:
        if fields.get("username") != [self.username] or fields.get("secret") != [self.secret]:
            writer.write(packet(*self._id(fields), ("Message", "Authentication failed")))
            writer.close()
            return False
        state["user"] = self.username
        events = fields.get("events", ["on"])[0].lower()
        state["events"] = (
            ALL_EVENTS
            if events in ("on", "yes", "true", "1")
            else set()
            if events in ("off", "no", "false", "0")
            else set(events.split(","))
        )
        writer.write(packet(*self._id(fields, "Success"), ("Message", "Authentication accepted")))
        return True

    async def _ping(self, fields: dict, state: dict, writer) -> bool:
        writer.write(
            packet(
                *self._id(fields, "Success"),
                ("Ping", "Pong"),
                ("Timestamp", f"{self.clock.now():.6f}"),
            )
        )
        return True

    async def _mwi(self, fields: dict, state: dict, writer) -> bool:
        if not fields.get("mailbox", [""])[0]:
            writer.write(
                packet(*self._id(fields), ("Message", "Missing mailbox parameter in request"))
            )
            await self._fail(writer, f"MWI action without a mailbox: {fields}")
            return False
        writer.write(packet(*self._id(fields, "Success")))
        return True

    async def _originate(self, fields: dict, state: dict, writer) -> bool:
        if fields.get("async", ["false"])[0].lower() not in ("true", "yes", "1", "on"):
            await self._fail(
                writer, f"Originate without Async: true (panoramisk 1.4 cannot take it): {fields}"
            )
            return False
        missing = {"channel", "context", "exten", "priority", "actionid"} - set(fields)
        if missing or not self.originate_outcomes:
            await self._fail(
                writer, f"Originate missing {missing or 'a scripted outcome'}: {fields}"
            )
            return False
        outcome = self.originate_outcomes.pop(0)
        if outcome == "refuse":
            writer.write(packet(*self._id(fields), ("Message", "Permission denied")))
            return True
        writer.write(
            packet(*self._id(fields, "Success"), ("Message", "Originate successfully queued"))
        )
        if outcome == "drop":
            writer.close()
            return False
        if outcome != "hold" and "call" in state["events"]:
            writer.write(self._originate_response(fields, outcome))
        return True

    def _originate_response(self, fields: dict, reason: int) -> bytes:
        self._uniqueids += 1
        channel = fields["channel"][0]
        caller_id = fields.get("callerid", ['"" <>'])[0]
        name, _, number = caller_id.rpartition("<")
        return packet(
            ("Event", "OriginateResponse"),
            ("Privilege", "call,all"),
            ("ActionID", fields["actionid"][0]),
            ("Response", "Success" if reason == 4 else "Failure"),
            ("Channel", f"{channel}-00000001;1"),
            ("Context", fields["context"][0]),
            ("Exten", fields["exten"][0]),
            ("Application", ""),
            ("Data", ""),
            ("Reason", reason),
            ("Uniqueid", "<null>" if reason == 0 else f"1700000000.{self._uniqueids}"),
            ("CallerIDNum", number.rstrip(">") or "<unknown>"),
            ("CallerIDName", name.strip().strip('"') or "<unknown>"),
        )
