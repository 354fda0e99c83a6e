"""A small AMI client that shows Asterisk's answers as they are: one connection, actions answered by
ActionID, events awaited by what they hold or handed in order to listeners. Used by `vmbox doctor`
(ivr/doctor_ami.py) and by the tests' real-Asterisk harness. vmbox's own AMI side, which reconnects
and retries, is ivr/notify/ami.py, on panoramisk.
"""

import asyncio
import itertools
from collections.abc import Callable

CONNECT_TIMEOUT_S = 10.0
ACTION_TIMEOUT_S = 10.0

Message = dict[str, str]


class AmiRefused(Exception):
    """Asterisk answered an action with `Response: Error`; the message is Asterisk's."""


class AmiClient:
    """One AMI connection: actions answered by ActionID, events awaited by what they hold or handed,
    every one in order, to listeners."""

    def __init__(self, prefix: str = "vmbox"):
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._prefix = prefix  # of the ActionIDs it makes up
        self._ids = itertools.count(1)
        self._replies: dict[str, asyncio.Future] = {}
        self._waiting: list[tuple[dict[str, str], asyncio.Future]] = []
        self._listeners: list[Callable[[Message], None]] = []
        self._task: asyncio.Task | None = None

    async def connect(self, host: str, port: int) -> None:
        """Connect and read Asterisk's greeting. Raises OSError, TimeoutError."""
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), CONNECT_TIMEOUT_S
        )
        greeting = await asyncio.wait_for(self._reader.readline(), CONNECT_TIMEOUT_S)
        if not greeting.startswith(b"Asterisk Call Manager"):
            raise OSError(f"not Asterisk's AMI (it said {greeting[:60]!r})")
        self._task = asyncio.get_running_loop().create_task(self._read())

    @property
    def local_address(self) -> str:
        """This end's IP address: one Asterisk can reach this host at."""
        return self._writer.get_extra_info("sockname")[0]

    async def action(self, name: str, action_id: str = "", **headers: str | list[str]) -> Message:
        """Send an action (with `action_id`, or one of ours); its response. Raises AmiRefused
        (Response: Error), OSError, TimeoutError, ValueError (a line break in a value: it would
        smuggle headers into the action)."""
        action_id = action_id or f"{self._prefix}-{next(self._ids)}"
        lines = [f"Action: {name}", f"ActionID: {action_id}"]
        for key, value in headers.items():
            lines += [f"{key}: {item}" for item in (value if isinstance(value, list) else [value])]
        if any("\r" in line or "\n" in line for line in lines):
            raise ValueError(f"an AMI header of {name} holds a line break")
        reply = asyncio.get_running_loop().create_future()
        self._replies[action_id] = reply
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        response = await asyncio.wait_for(reply, ACTION_TIMEOUT_S)
        if response.get("Response") == "Error":
            raise AmiRefused(response.get("Message", "refused"))
        return response

    async def originate(
        self, channel: str, context: str, exten: str, variables: dict[str, str]
    ) -> asyncio.Future:
        """Place a call (Async: true); the future of its OriginateResponse. Raises AmiRefused, OSError,
        TimeoutError."""
        action_id = f"{self._prefix}-{next(self._ids)}"
        response = self.event(Event="OriginateResponse", ActionID=action_id)
        try:
            await self.action(
                "Originate",
                action_id,
                Channel=channel,
                Context=context,
                Exten=exten,
                Priority="1",
                Timeout="30000",
                Async="true",
                Variable=[f"{name}={value}" for name, value in variables.items()],
            )
        except BaseException:
            response.cancel()
            raise
        return response

    async def log_in(self, username: str, secret: str, events: str = "on") -> None:
        """Log in, receiving `events` (on, off, or a list of classes). Raises AmiRefused."""
        await self.action("Login", Username=username, Secret=secret, Events=events)

    def listen(self, listener: Callable[[Message], None]) -> Callable[[], None]:
        """Call `listener(event)` for every event from now on; returns what stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def event(self, **fields: str) -> asyncio.Future:
        """The future of the next event that holds all of `fields`."""
        found = asyncio.get_running_loop().create_future()
        self._waiting.append((fields, found))
        return found

    async def _read(self) -> None:
        block: Message = {}
        try:
            while line := await self._reader.readline():
                text = line.decode(errors="replace").rstrip("\r\n")
                if text:
                    key, _, value = text.partition(":")
                    key, value = key.strip(), value.strip()
                    # A repeated header (a Command's Output lines) keeps every value, one a line.
                    block[key] = f"{block[key]}\n{value}" if key in block else value
                    continue
                self._deliver(block)
                block = {}
        finally:
            gone = ConnectionResetError("the AMI connection closed")
            for future in [*self._replies.values(), *(f for _, f in self._waiting)]:
                if not future.done():
                    future.set_exception(gone)

    def _deliver(self, block: Message) -> None:
        if "Event" in block:
            for listener in list(self._listeners):
                listener(block)
            for fields, found in self._waiting:
                if not found.done() and all(block.get(k) == v for k, v in fields.items()):
                    found.set_result(block)
        elif (reply := self._replies.pop(block.get("ActionID", ""), None)) and not reply.done():
            reply.set_result(block)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
